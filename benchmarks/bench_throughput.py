"""Throughput of `swescale bench run`: K small tasks at workers 1, 2 and 4, the model answering at once.

    python benchmarks/bench_throughput.py [--tasks K] [--workers 1 2 4] [--trajectories 1]

Each task is the bundled demo issue on the demo repository (one environment image, prepared first and
not timed); the model is the scripted server replaying the demo's recorded fix trajectory with no delay.
Prints per worker count the wall time, instances per hour, the speed-up over the first worker count
(measured in the same run), and the orchestration overhead per instance: its wall time during which none
of its sandboxes was open and none of its model calls in flight (state, environment lookup, selection,
reports).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from envs.datasets import local_task
from envs.environment import prepare_environment
from swescale.bench.runner import run_bench
from swescale.bench.state import BenchState
from swescale.config import load_config
from swescale.demo.replay import DATA, make_demo_repo
from swescale.demo.scripted_server import Reply, ScriptedServer


class Replay:
    """Every conversation gets the demo's first recorded fix trajectory, reply k for its k-th turn."""

    def __init__(self) -> None:
        self.script = json.loads((DATA / "session.json").read_text())["fix_trajectories"][0]

    def __call__(self, request: dict) -> Reply:
        step = sum(1 for m in request.get("messages", []) if m.get("role") == "assistant")
        if step >= len(self.script):
            return Reply(tool_calls=[{"name": "submit", "arguments": {}}])
        return Reply.of(self.script[step])


def _run(tasks: list, url: str, workers: int, trajectories: int, root: Path) -> dict:
    config = load_config(
        [],
        [
            f"model.urls=[{url}]",
            "model.name=scripted",
            "model.tool_format=native",
            f"solve.trajectories={trajectories}",
            "verifier.test_trajectories=0",
            "verifier.judge=false",
            f"bench.workers={workers}",
            "bench.status_interval=3600",
            f"sandbox.max_concurrent={max(8, workers * trajectories)}",
        ],
    )
    run_dir = root / f"workers-{workers}"
    started = time.monotonic()
    summary = run_bench(tasks, config, run_dir)
    wall = time.monotonic() - started
    with BenchState(run_dir, lock=False) as state:
        results = [r.result for r in state.rows() if r.result is not None]
    overhead = [r.seconds - r.busy_seconds for r in results]
    return {
        "workers": workers,
        "done": summary.done,
        "errors": summary.errors,
        "wall": wall,
        "per_hour": summary.done / wall * 3600,
        "overhead": statistics.fmean(overhead) if overhead else 0.0,
        "instance_seconds": statistics.fmean(r.seconds for r in results) if results else 0.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=8, help="K: tasks per worker count")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--trajectories", type=int, default=1)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="swescale-throughput-"))
    repo = make_demo_repo(root / "minimath")
    base = local_task(repo, (DATA / "issue.md").read_text())
    tasks = [base.model_copy(update={"instance_id": f"demo-{k}"}) for k in range(args.tasks)]
    image = prepare_environment(tasks[0], load_config()).image  # shared by every task, not timed
    print(f"{args.tasks} tasks on {image}; run folders in {root}", file=sys.stderr)
    rows = []
    with ScriptedServer(Replay()) as server:
        for workers in args.workers:
            rows.append(_run(tasks, server.url, workers, args.trajectories, root))
            print(f"workers {workers}: {rows[-1]['wall']:.1f}s", file=sys.stderr)
    base_wall = rows[0]["wall"]
    print(
        f"{'workers':>7} {'wall s':>8} {'inst/hour':>10} {'speed-up':>9} {'s/inst':>7} {'overhead s/inst':>16}"
    )
    for row in rows:
        print(
            f"{row['workers']:>7} {row['wall']:>8.1f} {row['per_hour']:>10.0f} {base_wall / row['wall']:>8.2f}x "
            f"{row['instance_seconds']:>7.1f} {row['overhead']:>16.2f}"
            + (f"  ({row['errors']} errors)" if row["errors"] else "")
        )


if __name__ == "__main__":
    main()
