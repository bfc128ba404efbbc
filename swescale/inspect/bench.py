"""A bench run directory read into the inspector's data: the instance table, the report's figures and
plots, a per-repository breakdown, and each instance's solve view (its folder under `instances/`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from swescale.bench.report import compute, report_plots
from swescale.bench.state import STATE_FILE, BenchState, instance_dir
from swescale.inspect.solve import solve_view


def is_bench_run(run_dir: Path) -> bool:
    return (Path(run_dir) / STATE_FILE).exists()


def outcome_class(item: dict[str, Any]) -> str:
    """resolved / unresolved / abstained / error / pending / done (finished, not graded)."""
    if item["status"] == "error":
        return "error"
    if item["status"] in ("pending", "running"):
        return item["status"]
    if item["abstained"]:
        return "abstained"
    if item["verdict"] is None:
        return "done"
    return "resolved" if item["resolved"] else "unresolved"


def repositories(instances: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per repository: instances, each outcome's count, resolve rate, mean tokens and seconds."""
    by_repo: dict[str, list[dict[str, Any]]] = {}
    for item in instances:
        by_repo.setdefault(item["repo"] or "(unknown)", []).append(item)
    out = []
    for repo, items in sorted(by_repo.items()):
        counts = {
            k: sum(i["outcome"] == k for i in items) for k in ("resolved", "unresolved", "abstained", "error")
        }
        out.append(
            {
                "repo": repo,
                "instances": len(items),
                **counts,
                "resolve_rate": counts["resolved"] / len(items),
                "tokens_mean": sum(i["tokens"] for i in items) / len(items),
                "seconds_mean": sum(i["seconds"] for i in items) / len(items),
            }
        )
    return out


def bench_view(run_dir: Path, full: bool = False) -> tuple[dict[str, Any], dict[str, dict]]:
    """The bench page's data and, by instance id, each instance's solve view (embedded apart, parsed only
    when opened)."""
    run_dir = Path(run_dir)
    state = BenchState(run_dir, lock=False)  # read-only use: a running driver keeps its lock
    try:
        summary = compute(state)
        plots = report_plots(summary, state.candidates())
        repos = {row.instance_id: state.task(row.instance_id).repo for row in state.rows()}
    finally:
        state.close()
    instances, solves = [], {}
    for item in summary.pop("per_instance"):
        iid = item["instance_id"]
        folder = instance_dir(run_dir, iid)
        has_run = (folder / "task.json").exists() or (folder / "trajectories").exists()
        if has_run:
            solves[iid] = solve_view(folder, full=full)
        instances.append(
            {
                **item,
                "repo": repos.get(iid, ""),
                "outcome": outcome_class(item),
                "has_run": has_run,
                "stage_tokens": {k: v.get("tokens", 0) for k, v in item["stages"].items()},
                "stage_seconds": {k: round(v.get("seconds", 0.0), 1) for k, v in item["stages"].items()},
            }
        )
    page = {
        "kind": "bench",
        "run_dir": str(run_dir),
        "summary": summary,
        "plots": plots,
        "repositories": repositories(instances),
        "instances": instances,
    }
    return page, solves
