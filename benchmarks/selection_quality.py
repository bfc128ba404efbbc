"""Selection quality on candidate pools with known labels: random, majority vote, swescale, oracle.

Real pool (the main figure), e.g. 2,020 candidates of 9 public systems for 239 SWE-bench Lite instances:

    python benchmarks/selection_quality.py --pool ../shared/data/pools/lite_candidates.jsonl \\
        --dataset ../shared/data/swebench_lite/test.jsonl --repos sympy pytest flask requests \\
        --limit 60 --repos-dir MIRRORS --compare files

Instances come in a fixed order, by sha256 of the instance id (a reproducible shuffle; `--limit N` takes
the first N after the `--repos` / `--instances` filters, e.g. `--limit 60` with sympy pytest flask requests
is the quick check of issue #16), so runs compare; no `--limit`: all of them. Labels are the runs' official
ones. Selection sees only the candidates, the repository's own regression tests and the tests the
candidates bring (no model: no test-writing trajectories, no judge); never the hidden tests.

`--compare files` verifies every instance a second time with `verifier.regression_mode=files` (every
selected test file whole under a flat timeout, as before targeted runs), each mode with its own cache and
alternating which goes first, and prints the verification-time ratio and both accuracies (same run).

`--mined FILE` (no --pool) builds a SYNTHETIC pool from mined tasks instead (selection_pools.py), labelled
by grading each patch with the hidden tests (swebench's parsers on whole logs).

`--no-execution` runs no sandbox at all: normalized-patch agreement and size only (each normalized
group its own cluster), so the confidence's execution-free part can be checked on the whole pool in
seconds.

`--replay RUN_DIR` (repeatable; an instance in several runs counts once, from the first run given)
recomputes the figures from runs' saved tables (finished or still running: the instances so far) with
other `key=value` settings (e.g. `verifier.hybrid=r2egym`, `selection.tie_breaks=[length]`): no Docker,
for ablations and for the held-out fit.

Figures (selection_report.py): per repository and overall, seconds per instance (verification time), a
risk-coverage curve, and the lowest threshold reaching `--target-precision` on the answered instances (in
sample). Then the held-out halves (selection_fit.py): settings and thresholds chosen on one half of the
instances, reported on the other, both ways, with their spread and the named rankings held out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from selection_fit import Runs, Setting, report, search_space  # noqa: E402
from selection_pools import grade_patch, order_tasks, real_pool, synthetic_pool  # noqa: E402
from selection_report import summarize  # noqa: E402

from envs.task import Task  # noqa: E402
from selection.groups import expand_table, original_files_for  # noqa: E402
from selection.normalize import PatchGroup, dedupe  # noqa: E402
from selection.select import Decision, select  # noqa: E402
from swescale.config import SwescaleConfig, load_config  # noqa: E402
from verifiers.table import Candidate, CandidateRow, VerifierTable  # noqa: E402

RESULTS = "results.jsonl"
NO_EXECUTION = "none"


def _majority(groups: list[PatchGroup], labels: dict[str, bool]) -> float:
    voting = [g for g in groups if g.normalized] or groups  # empty patches do not vote (as in Agentless)
    top = max(g.count for g in voting)
    tied = [g for g in voting if g.count == top]
    return sum(sum(labels[m] for m in g.members) / g.count for g in tied) / len(tied)


def _decide(table: VerifierTable, groups, cands, config: SwescaleConfig, issue: str) -> Decision:
    return select(expand_table(table, groups), config.selection, cands, None, groups=groups, issue=issue)


def _mode_config(config: SwescaleConfig, mode: str, out: Path) -> SwescaleConfig:
    cfg = config.model_copy(deep=True)
    cfg.verifier.regression_mode = mode
    cfg.verifier.cache_dir = str(out / f"cache-{mode}")
    return cfg


def evaluate_task(
    task: Task, rows: list[dict], config: SwescaleConfig, out: Path, sandboxes, modes: list[str]
) -> dict:
    from envs.environment import prepare_environment
    from selection.candidate_tests import candidate_tests
    from verifiers.run import verify

    built = time.monotonic()
    env = prepare_environment(task, config) if modes != [NO_EXECUTION] else None
    env_seconds = time.monotonic() - built
    cands = [Candidate(candidate_id=r["candidate_id"], patch=r["patch"], source="pool") for r in rows]
    originals = original_files_for(task, config)
    groups = dedupe(cands, originals)
    labels = {r["candidate_id"]: bool(r["resolved"]) for r in rows if "resolved" in r}
    for row in rows:  # synthetic pools: grade each distinct patch with the hidden tests
        if row["candidate_id"] not in labels:
            labels[row["candidate_id"]] = grade_patch(task, row["patch"], config, out / "grading")
    run_tests = config.selection.candidate_tests and env is not None
    tests = candidate_tests(cands, originals) if run_tests else []
    reps = [c for c in cands if c.candidate_id in {g.representative for g in groups}]
    record = {
        "instance_id": task.instance_id,
        "repo": task.repo,
        "candidates": len(cands),
        "labels": labels,
        "systems": {r["candidate_id"]: r.get("system", r.get("kind", "")) for r in rows},
        "groups": [
            {
                "key": g.key,
                "members": g.members,
                "representative": g.representative,
                "empty": not g.normalized,
            }
            for g in groups
        ],
        "candidate_tests": len(tests),
        "random": sum(labels.values()) / len(cands),
        "majority": _majority(groups, labels),
        "oracle": float(any(labels.values())),
        "env_seconds": round(env_seconds, 1),
        "modes": {},
    }
    for mode in modes:
        folder = out / task.instance_id / mode
        started = time.monotonic()
        if mode == NO_EXECUTION:  # no sandbox: every patch counts as applying, behaviour unknown
            folder.mkdir(parents=True, exist_ok=True)
            rows_ = [CandidateRow(candidate_id=c.candidate_id, patch_hash=c.patch_hash) for c in reps]
            table = VerifierTable(instance_id=task.instance_id, rows=rows_)
            table.save(folder / "verifier_table.json")
        else:
            cfg = _mode_config(config, mode, out)
            table = verify(task, env, reps, tests, cfg, None, sandboxes, folder, judge=False)
        seconds = time.monotonic() - started
        decision = _decide(table, groups, cands, config, task.problem_statement)
        (folder / "decision.json").write_text(decision.model_dump_json(indent=2))
        record["modes"][mode] = _mode_record(decision, labels, seconds, table)
    return record


def _mode_record(decision: Decision, labels: dict[str, bool], seconds: float, table: VerifierTable) -> dict:
    return {
        "best": decision.best,
        "answered": not decision.abstained,
        "confidence": decision.confidence,
        "agreed": decision.agreed,
        "judged": decision.threshold_key == "abstain_threshold",
        "evidence": decision.evidence,
        "correct": float(labels.get(decision.best or "", False)),
        "seconds": round(seconds, 1),
        "sandboxes": table.meta.get("sandboxes_started"),
        "distinct_patches": table.meta.get("distinct_patches"),
    }


def replay(
    run_dirs: list[Path],
    overrides: list[str],
    tasks: list[Task],
    pools: dict[str, list[dict]],
    space: list[Setting] = (),
) -> tuple[list[dict], dict[str, Runs]]:
    """Recompute decisions from runs' saved verifier tables (no Docker) for the instances of `tasks`:
    the records with the configured settings, and per mode the decisions of every setting of `space`."""
    from verifiers.hybrid import score_rows
    from verifiers.weights import generated_scores, unbacked_candidate_tests, weigh_regressions

    config = load_config([], ["verifier.judge=false", *overrides])
    configs = {s.name: load_config([], ["verifier.judge=false", *overrides, *s.overrides]) for s in space}
    issues = {t.instance_id: t.problem_statement for t in tasks}
    results: list[dict] = []
    runs: dict[str, Runs] = {}
    seen: set[str] = set()
    for run_dir in run_dirs:
        for record in _records(run_dir / RESULTS):
            iid = record["instance_id"]
            if iid not in issues or iid in seen:  # an instance of several runs counts once: the first's
                continue
            seen.add(iid)
            cands = [Candidate(candidate_id=r["candidate_id"], patch=r["patch"]) for r in pools[iid]]
            groups = [
                PatchGroup(
                    key=g["key"],
                    normalized="" if g["empty"] else g["key"],
                    members=g["members"],
                    representative=g["representative"],
                )
                for g in record["groups"]
            ]
            for mode, run in record["modes"].items():
                table = VerifierTable.load(run_dir / iid / mode / "verifier_table.json")
                if not config.selection.candidate_tests:  # as if the candidates' own tests had not run
                    table.tests = [c for c in table.tests if not c.source.startswith("candidate:")]
                unbacked_candidate_tests(table.tests, table.rows)
                generated_scores(table.tests, table.rows)
                weigh_regressions(table.tests, table.rows, config.verifier)
                for name, cfg in configs.items():  # the space varies selection and hybrid-score settings
                    score_rows(table.tests, table.rows, cfg.verifier)
                    decision = _decide(table, groups, cands, cfg, issues[iid])
                    runs.setdefault(mode, {}).setdefault(name, {})[iid] = _mode_record(
                        decision, record["labels"], run["seconds"], table
                    )
                score_rows(table.tests, table.rows, config.verifier)
                decision = _decide(table, groups, cands, config, issues[iid])
                record["modes"][mode] = _mode_record(decision, record["labels"], run["seconds"], table)
            results.append(record)
    return results, runs


def _records(path: Path) -> list[dict]:
    """The finished instances of a results file; a run still writing may have left a partial last line,
    and an instance counts once its tables are saved."""
    out = []
    for line in _lines(path):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        tables = [path.parent / record["instance_id"] / m / "verifier_table.json" for m in record["modes"]]
        if all(t.exists() for t in tables):
            out.append(record)
    return out


def _fit_report(results: list[dict], runs: dict[str, Runs], space: list[Setting], precision: float) -> str:
    return "\n".join(report(results, runs[mode], space, precision, mode) for mode in runs)


def _load(args) -> tuple[list[Task], dict[str, list[dict]], str]:
    from envs.datasets import load_tasks

    if args.pool:
        pools = real_pool(args.pool)
        tasks = order_tasks(load_tasks(args.dataset, sorted(pools)), args.repos, args.instances)
        return (
            tasks[: args.limit],
            pools,
            f"REAL pool {args.pool} (official labels), order sha256(instance_id)",
        )
    tasks = sorted(
        (t for t in load_tasks(args.mined) if t.patch and t.FAIL_TO_PASS), key=lambda t: t.instance_id
    )[: args.limit]
    pools = {t.instance_id: synthetic_pool(t, args.seed) for t in tasks}
    return (
        tasks,
        pools,
        (
            f"SYNTHETIC pool from {args.mined} (gold, cosmetic, empty, dropped-hunk and mutant variants; labels from "
            f"hidden tests graded by swebench), seed {args.seed}"
        ),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pool", help="Real labelled pool JSONL (instance_id, model_patch, system, resolved).")
    ap.add_argument("--dataset", help="Tasks of the pool (SWE-bench format).")
    ap.add_argument(
        "--mined",
        default=str(ROOT.parent / "shared/data/mined/sqlparse.jsonl"),
        help="Mined tasks for a SYNTHETIC pool.",
    )
    ap.add_argument("--repos", nargs="*", default=[], help="Only these repositories (owner/name or name).")
    ap.add_argument("--instances", nargs="*", default=[], help="Only these instance ids.")
    ap.add_argument("--limit", type=int, help="Number of tasks (first in the fixed order); default all.")
    ap.add_argument("--repos-dir", default="", help="Local mirrors named owner__name[.git] (env.repos_dir).")
    ap.add_argument("--compare", choices=["files", "targeted"], help="Also verify with this regression mode.")
    ap.add_argument(
        "--no-execution",
        action="store_true",
        help="Only what needs no sandbox: normalization, agreement and size (mode `none`; seconds, whole pool).",
    )
    ap.add_argument(
        "--target-precision", type=float, default=0.9, help="Precision the threshold is chosen for."
    )
    ap.add_argument(
        "--probe-weights",
        type=float,
        nargs="+",
        default=[0.0, 0.5, 1.0],
        help="Values of selection.probe_weight in the fit's search space (above 0 with probe clusters).",
    )
    ap.add_argument(
        "--replay", action="append", help="Recompute a finished run's figures (repeatable; no Docker)."
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="/tmp/swescale-selection-quality", help="Run directory (resumable).")
    ap.add_argument("overrides", nargs="*", help="key=value config overrides.")
    args = ap.parse_args()

    space = search_space(tuple(args.probe_weights))
    if args.replay:
        tasks, pools, _ = _load(args)
        results, runs = replay([Path(r) for r in args.replay], args.overrides, tasks, pools, space)
        if not results:
            sys.exit("no finished instance in the replayed runs")
        modes = list(dict.fromkeys(m for r in results for m in r["modes"]))
        print(f"replay of {args.replay} ({len(results)} instances) with {args.overrides or 'the defaults'}")
        print(summarize(results, modes, args.target_precision))
        print(_fit_report(results, runs, space, args.target_precision))
        return
    from sandbox import SandboxPool
    from sandbox.cleanup import install_signal_handlers

    install_signal_handlers()  # an entry point: Ctrl-C or SIGTERM removes this run's sandboxes

    repos = [f"env.repos_dir={args.repos_dir}"] if args.repos_dir else []
    config = load_config([], [*repos, "verifier.judge=false", *args.overrides])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tasks, pools, what = _load(args)
    print(f"pool: {what}")
    modes = [NO_EXECUTION] if args.no_execution else [config.verifier.regression_mode]
    if args.compare and args.compare not in modes and not args.no_execution:
        modes.append(args.compare)
    done = {r["instance_id"]: r for r in map(json.loads, _lines(out / RESULTS))}
    sandboxes = None if args.no_execution else SandboxPool(config.verifier.max_parallel, config.sandbox)
    results = []
    for index, task in enumerate(tasks):
        if task.instance_id in done:
            results.append(done[task.instance_id])
            continue
        order = modes if index % 2 == 0 else modes[::-1]  # alternate which mode runs first
        try:
            res = evaluate_task(task, pools[task.instance_id], config, out, sandboxes, order)
        except Exception as exc:  # noqa: BLE001 - report and go on with the other tasks
            print(f"{task.instance_id}: FAILED {type(exc).__name__}: {str(exc)[:300]}", flush=True)
            continue
        res["modes"] = {m: res["modes"][m] for m in modes}
        results.append(res)
        with (out / RESULTS).open("a") as fh:
            fh.write(json.dumps(res) + "\n")
        print(_line(res), flush=True)
    if not results:
        sys.exit("no task evaluated")
    print(summarize(results, modes, args.target_precision))
    _, runs = replay([out], args.overrides, tasks, pools, space)
    print(_fit_report(results, runs, space, args.target_precision))


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def _line(res: dict) -> str:
    labels = "".join("R" if x else "." for x in res["labels"].values())
    modes = "; ".join(
        f"{m}: {'right' if r['correct'] else 'wrong'} {'answered' if r['answered'] else 'abstained'} "
        f"conf {r['confidence']:.2f} {r['seconds']:.0f}s"
        for m, r in res["modes"].items()
    )
    return f"{res['instance_id']}: labels {labels} majority {res['majority']:.2f} | {modes}"


if __name__ == "__main__":
    main()
