"""`swescale bench report RUN_DIR`: the figures of a bench run, `summary.json` and `report.html`.

Resolve rate (over every instance of the run; errors and pending ones count as unresolved); coverage, the
oracle (instances where any candidate resolves); selection accuracy where a resolved candidate existed;
abstentions and their precision (no candidate resolved); tokens and wall time per instance and per stage.
Coverage, selection accuracy and abstention precision need graded candidates (`--grade-candidates`).
"""

from __future__ import annotations

import json
import statistics
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, select_autoescape

from swescale.bench.grading import CANDIDATES_EVAL_DIR, grade_patch, patch_hash, read_candidates
from swescale.bench.plots import bar_chart, binned_rate, rate_chart
from swescale.bench.state import GRADING_ERROR, ORACLE_KEY, BenchState, Row, atomic_write, instance_dir
from swescale.lostwork import lost_work

if TYPE_CHECKING:
    from envs.config import EnvSettings

STAGES = ("environment", "fix", "tests", "verification", "judge", "selection", "grading")
"""Stages in pipeline order: image preparation, fix trajectories, test writing, verification (tests run
against candidates), the judge model, selection (ranking and the optional selection trajectory), and the
grading of the prediction (`--evaluate`)."""
_env = Environment(loader=PackageLoader("swescale.bench", "templates"), autoescape=select_autoescape(["j2"]))


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _spread(values: list[float]) -> dict[str, float]:
    if not values:
        return {"total": 0.0, "mean": 0.0, "median": 0.0, "max": 0.0}
    return {
        "total": sum(values),
        "mean": statistics.fmean(values),
        "median": statistics.median(values),
        "max": max(values),
    }


def _instance(row: Row, candidates: list[dict[str, Any]] | None) -> dict[str, Any]:
    result = row.result
    graded = [c for c in candidates or [] if c["verdict"] is not None]
    return {
        "instance_id": row.instance_id,
        "status": row.status,
        "error_class": row.error_class,
        "error": (row.error or "")[:300],
        "attempts": row.attempts,
        "verdict": row.verdict,
        "resolved": row.verdict == "resolved",
        "touches_test_infrastructure": row.verdict_detail.get("test_infrastructure_reverted", []),
        "abstained": row.status == "done" and not (row.patch or "").strip(),
        "tokens": result.tokens if result else 0,
        "seconds": result.seconds if result else 0.0,
        "trajectories": result.trajectories if result else 0,
        "steps": result.steps if result else 0,
        "stages": {k: v.model_dump() for k, v in (result.stages if result else {}).items()},
        "candidates": result.candidates if result else 0,
        "candidates_graded": len(graded),
        "candidates_resolved": sum(c["verdict"] == "resolved" for c in graded),
    }


def lost_lines(run_dir: Path, row: Row) -> list[str]:
    """The instance's lost work (`swescale.lostwork`), its error and a failed grading, one line each."""
    lines = lost_work(instance_dir(run_dir, row.instance_id))
    if row.status == "error":
        lines.append(f"instance error ({row.error_class}): {(row.error or '')[:300]}")
    if row.verdict == GRADING_ERROR:
        detail = row.verdict_detail.get("error") or row.verdict_detail.get("log_tail", "")[-300:]
        lines.append(f"grading failed, the prediction is kept and graded again by --evaluate: {detail}")
    return lines


def compute(state: BenchState) -> dict[str, Any]:
    """Every figure of the report, from the state alone."""
    candidates = state.candidates()
    rows = state.rows()
    per = [_instance(r, candidates.get(r.instance_id)) for r in rows]
    n = len(per)
    done = [p for p in per if p["status"] == "done"]
    graded = [p for p in per if p["verdict"] is not None]
    complete = set(state.meta(ORACLE_KEY, []))  # instances whose candidates are all graded
    oracle = [p for p in done if p["instance_id"] in complete]
    with_resolved = [p for p in oracle if p["candidates_resolved"]]
    abstained = [p for p in done if p["abstained"]]
    abstained_known = [p for p in abstained if p in oracle]
    errors: dict[str, int] = {}
    for p in per:
        if p["status"] == "error":
            errors[p["error_class"] or "unknown"] = errors.get(p["error_class"] or "unknown", 0) + 1
    stages = {
        s: {
            "seconds": _spread([p["stages"].get(s, {}).get("seconds", 0.0) for p in done]),
            "tokens": _spread([float(p["stages"].get(s, {}).get("tokens", 0)) for p in done]),
        }
        for s in STAGES
        if any(s in p["stages"] for p in done)
    }
    sessions = state.meta("sessions", [])
    lost = {r.instance_id: lines for r in rows if (lines := lost_lines(state.run_dir, r))}
    return {
        "instances": n,
        "done": len(done),
        "errors": sum(errors.values()),
        "errors_by_class": errors,
        "pending": sum(p["status"] in ("pending", "running") for p in per),
        "graded": len(graded),
        "resolved": sum(p["resolved"] for p in per),
        # errors and pending instances count as unresolved; unknown only while a done one awaits grading
        "resolve_rate": _ratio(sum(p["resolved"] for p in per), n)
        if graded or (errors and all(p["verdict"] is not None for p in done))
        else None,
        "resolve_rate_of_graded": _ratio(sum(p["resolved"] for p in graded), len(graded)),
        "oracle_instances": len(oracle),
        "coverage": _ratio(len(with_resolved), n) if oracle else None,
        "coverage_of_graded": _ratio(len(with_resolved), len(oracle)),
        "selection_accuracy": _ratio(sum(p["resolved"] for p in with_resolved), len(with_resolved)),
        "abstentions": len(abstained),
        "abstention_precision": _ratio(
            sum(not p["candidates_resolved"] for p in abstained_known), len(abstained_known)
        ),
        "tokens_per_instance": _spread([float(p["tokens"]) for p in done]),
        "seconds_per_instance": _spread([p["seconds"] for p in done]),
        "stages": stages,
        "run_wall_seconds": sum(end - start for start, end in sessions),
        "per_instance": per,
        "lost_work": lost,
    }


def grade_candidates(state: BenchState, run_dir: Path, config: EnvSettings, workers: int = 2) -> int:
    """Grade every candidate of every done instance (identical patches once; earlier gradings are cached in
    each instance's `eval-candidates` folder); returns how many instances are now fully graded."""
    complete = set(state.meta(ORACLE_KEY, []))
    lock = threading.Lock()

    def grade(row: Row) -> None:
        folder = instance_dir(run_dir, row.instance_id)
        task = state.task(row.instance_id)
        for cand in read_candidates(folder):
            digest = patch_hash(cand["patch"])
            verdict, _ = grade_patch(task, cand["patch"], folder / CANDIDATES_EVAL_DIR, config, digest)
            meta = cand.get("meta") or {}
            state.set_candidate(
                row.instance_id,
                cand["candidate_id"],
                digest,
                meta.get("steps", 0),
                meta.get("tokens", 0),
                verdict,
            )
        with lock:
            complete.add(row.instance_id)
            state.set_meta(ORACLE_KEY, sorted(complete))

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(grade, state.rows("done")))
    return len(complete)


def report_plots(summary: dict[str, Any], candidates: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """The report's SVG charts: resolve rate against tokens and trajectory length, cost per stage."""
    graded = [p for p in summary["per_instance"] if p["verdict"] is not None and p["status"] == "done"]
    cand_steps = [
        (float(c["steps"] or 0), c["verdict"] == "resolved") for cs in candidates.values() for c in cs
    ]
    steps = cand_steps or [(p["steps"] / max(1, p["trajectories"]), p["resolved"]) for p in graded]
    return {
        "tokens": rate_chart(binned_rate([(float(p["tokens"]), p["resolved"]) for p in graded]), "tokens"),
        "steps": rate_chart(
            binned_rate(steps), "trajectory steps" + (" (candidates)" if cand_steps else " (per trajectory)")
        ),
        "stage_tokens": bar_chart(
            [(s, v["tokens"]["total"]) for s, v in summary["stages"].items()], "tokens"
        ),
        "stage_seconds": bar_chart([(s, v["seconds"]["total"]) for s, v in summary["stages"].items()], "s"),
    }


def write_report(state: BenchState, run_dir: Path) -> dict[str, Any]:
    """Compute the figures; write `summary.json` and `report.html` into the run directory."""
    summary = compute(state)
    run_dir = Path(run_dir)
    atomic_write(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    html = _env.get_template("bench_report.html.j2").render(
        s=summary, plots=report_plots(summary, state.candidates())
    )
    atomic_write(run_dir / "report.html", html)
    return summary


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def text_summary(summary: dict[str, Any]) -> str:
    """The main figures as a few lines of text (what `bench report` prints)."""
    s = summary
    lines = [
        f"instances            {s['instances']} ({s['done']} done, {s['errors']} errors, {s['pending']} pending)",
        f"resolve rate         {_pct(s['resolve_rate'])} ({s['resolved']} of {s['instances']}, {s['graded']} graded)",
        f"coverage (oracle)    {_pct(s['coverage'])} ({s['oracle_instances']} with graded candidates)",
        f"selection accuracy   {_pct(s['selection_accuracy'])} (where a resolved candidate existed)",
        f"abstentions          {s['abstentions']}, precision {_pct(s['abstention_precision'])}",
        f"tokens / instance    mean {s['tokens_per_instance']['mean']:,.0f}, median {s['tokens_per_instance']['median']:,.0f}",
        f"seconds / instance   mean {s['seconds_per_instance']['mean']:.1f}, median {s['seconds_per_instance']['median']:.1f}",
    ]
    if s["errors_by_class"]:
        lines.append("errors               " + ", ".join(f"{k} {v}" for k, v in s["errors_by_class"].items()))
    for iid, lost in s["lost_work"].items():
        lines += [f"lost work            {iid}: {line}" for line in lost]
    lines.append("stage                tokens (total)   seconds (total)")
    for name, cost in s["stages"].items():
        lines.append(f"  {name:<18} {cost['tokens']['total']:>14,.0f}   {cost['seconds']['total']:>15.1f}")
    return "\n".join(lines)
