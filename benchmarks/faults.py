"""Faults survived by `swescale bench run --workers 2 --evaluate`, and what they cost.

    python benchmarks/faults.py [--keep DIR]

Runs the fault-injection scenario of `tests/faults` (tests/faults/scenario.py: a container removed, an exec
server killed, the model server answering 500s then hanging, the verifier cache locked by another process,
a grading that raises, kill -9 of the driver; then the same command until nothing is left) and the same
scenario without faults, in this one process on this machine. Prints per fault whether it was survived
(its instance done exactly once, with a non-empty prediction graded `resolved`) and the work it lost (the
reports' lost-work lines), then the wall time of both runs and the extra time the faults cost. Needs
Docker and the base image; the model is the scripted server on loopback.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for folder in ("tests/faults", "tests/bench", "tests/pipeline"):
    sys.path.insert(0, str(ROOT / folder))

from bench_scripts import make_dataset  # noqa: E402
from scenario import CASES, Outcome, run_scenario  # noqa: E402

from envs.datasets import load_tasks  # noqa: E402
from envs.environment import prepare_environment  # noqa: E402
from swescale.bench.report import lost_lines  # noqa: E402
from swescale.bench.state import BenchState  # noqa: E402
from swescale.config import load_config  # noqa: E402
from swescale.demo.replay import make_demo_repo  # noqa: E402

DRIVER = "kill -9 of the driver"


def survived(outcome: Outcome, iid: str) -> bool:
    row = outcome.rows[iid]
    predictions = [p for p in outcome.predictions if p["instance_id"] == iid]
    return (
        row["status"] == "done"
        and row["verdict"] == "resolved"
        and len(predictions) == 1
        and bool(predictions[0]["model_patch"].strip())
    )


def lost(outcome: Outcome) -> dict[str, list[str]]:
    with BenchState(outcome.run_dir, lock=False) as state:
        return {r.instance_id: lost_lines(outcome.run_dir, r) for r in state.rows()}


def table(faulty: Outcome, clean: Outcome) -> str:
    work = lost(faulty)
    everyone = all(survived(faulty, i) for i in CASES) and not faulty.containers_left
    rows = [("fault", "injected", "survived", "work lost")]
    for iid in CASES:
        lines = work.get(iid, [])
        rows.append((iid, str(iid in faulty.fired), str(survived(faulty, iid)), "; ".join(lines) or "none"))
    rows.append((DRIVER, str(DRIVER in faulty.fired), str(everyone), f"{faulty.runs} commands in all"))
    width = [max(len(r[i]) for r in rows[:-1] + [rows[-1]]) for i in range(3)]
    out = [" | ".join(r[i].ljust(width[i]) for i in range(3)) + " | " + r[3] for r in rows]
    injected = sum(f in faulty.fired for f in (*CASES, DRIVER))
    kept = sum(survived(faulty, i) for i in CASES) + everyone
    out += [
        "",
        f"faults injected {injected}, survived {kept}, lost-work lines {sum(map(len, work.values()))}",
        f"containers left {len(faulty.containers_left)}",
        f"wall time: {faulty.seconds:.1f} s with faults, {clean.seconds:.1f} s without; "
        f"the faults cost {faulty.seconds - clean.seconds:+.1f} s",
    ]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keep", type=Path, help="leave the run directories here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="swescale-faults-") as tmp:
        root = args.keep or Path(tmp)
        repo = make_demo_repo(root / "minimath")
        warmup = make_dataset(root / "warmup", repo, {"warmup": "right"})
        prepare_environment(load_tasks(warmup)[0], load_config())  # built once, not timed
        clean = run_scenario(root / "clean", repo, inject=False)
        faulty = run_scenario(root / "faults", repo, inject=True)
        print(table(faulty, clean))


if __name__ == "__main__":
    main()
