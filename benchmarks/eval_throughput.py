"""Evaluation throughput: swescale's evaluator vs the swebench harness on the same images and scripts.

    python benchmarks/eval_throughput.py --dataset D --predictions P [--instances ...] [--workers N]
        [--repos-dir R] [--no-harness]

Images are prepared first (not timed). Both sides are timed the same way: as a child process from its start
to its exit (interpreter start, imports and report writing included) - `swescale bench eval` and
`python -m swebench.harness.run_evaluation` - with the same worker count, images and evaluation scripts
(the harness gets them as a swebench 5.x dataset), so their verdicts must agree; both wall times and their
ratio are printed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from envs.datasets import load_tasks
from envs.environment import prepare_environment
from envs.evaluate import load_predictions
from envs.grading import harness_instance
from swescale.config import load_config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--predictions", required=True)
    ap.add_argument("--instances", nargs="*")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repos-dir", default="")
    ap.add_argument("--no-harness", action="store_true")
    args = ap.parse_args()
    config = load_config([], [f"env.repos_dir={args.repos_dir}"] if args.repos_dir else [])
    preds = load_predictions(args.predictions)
    tasks = [t for t in load_tasks(args.dataset, args.instances) if t.instance_id in preds]
    preds = {t.instance_id: preds[t.instance_id] for t in tasks}
    envs = {t.instance_id: prepare_environment(t, config) for t in tasks}
    print(f"{len(tasks)} instances, images ready")

    work = Path(tempfile.mkdtemp(prefix="swescale-bench-"))
    ids = [t.instance_id for t in tasks]
    ours_cmd = [sys.executable, "-m", "swescale.cli.main", "bench", "eval", "--dataset", args.dataset]
    ours_cmd += ["--predictions", str(Path(args.predictions).resolve()), "--run-dir", str(work / "ours")]
    ours_cmd += ["--workers", str(args.workers), *[f"--instances={i}" for i in ids]]
    ours_cmd += [f"--repos-dir={args.repos_dir}"] if args.repos_dir else []
    start = time.monotonic()
    mine = subprocess.run(ours_cmd, capture_output=True, text=True)
    ours_s = time.monotonic() - start
    if mine.returncode != 0:
        print(f"swescale bench eval failed (exit {mine.returncode}):\n{mine.stderr[-2000:]}")
        return
    ours = json.loads(next((work / "ours").glob("*.report.json")).read_text())  # the harness's summary keys
    print(
        f"swescale: {ours_s:.1f}s  resolved {ours['resolved_ids']}  unresolved {ours['unresolved_ids']}  "
        f"errors {ours['error_ids']}"
    )
    if args.no_harness:
        return
    dataset = work / "harness_dataset.json"
    dataset.write_text(json.dumps([harness_instance(t, envs[t.instance_id]) for t in tasks]))
    (work / "harness").mkdir()
    start = time.monotonic()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "swebench.harness.run_evaluation",
            "-d",
            str(dataset),
            "-p",
            str(Path(args.predictions).resolve()),
            "-id",
            "bench",
            "--max_workers",
            str(args.workers),
            "--report_dir",
            str(work / "harness"),
            "-i",
            *[t.instance_id for t in tasks],
        ],
        cwd=work / "harness",
        capture_output=True,
        text=True,
    )
    harness_s = time.monotonic() - start
    reports = list((work / "harness").glob("*.bench.json"))
    if run.returncode != 0 or not reports:
        print(f"harness could not run (exit {run.returncode}):\n{run.stderr[-2000:]}")
        return
    theirs = json.loads(reports[0].read_text())
    print(
        f"harness:  {harness_s:.1f}s  resolved {theirs['resolved_ids']}  unresolved {theirs['unresolved_ids']}  "
        f"errors {theirs['error_ids']}"
    )
    same = all(
        ours[k] == theirs[k] for k in ("resolved_ids", "unresolved_ids", "error_ids", "empty_patch_ids")
    )
    print(
        f"verdicts agree: {same}; speed-up {harness_s / ours_s:.2f}x (harness {harness_s:.1f}s / ours {ours_s:.1f}s)"
    )
    print(f"run folder: {work}")


if __name__ == "__main__":
    main()
