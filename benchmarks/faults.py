"""Faults survived by `swescale bench run --workers 2 --evaluate`, and what they cost.

    python benchmarks/faults.py [--keep DIR] [--no-dockerd]

Runs the fault-injection scenarios of `tests/faults` (tests/faults/scenario.py) and the same scenarios without
faults, in this one process on this machine:
- on the host's engine: a container removed, an exec server killed, the model server answering 500s then
  hanging, the verifier cache locked by another process, a grading that raises, a runaway write reaching
  the sandbox's disk limit, kill -9 of the driver; then the same command until nothing is left;
- on a private Docker daemon (tests/faults/dockerd.py; needs root and dockerd; never the host's engine):
  the daemon killed with SIGKILL mid-run and started again with the same arguments.
Prints per fault whether it was injected and survived (its instance done exactly once, with a non-empty
prediction graded `resolved`) and the work it lost (the reports' lost-work lines), then the totals and the
wall time of each scenario with and without faults (the extra time the faults cost). Needs Docker and the
base image; the model is the scripted server on loopback.
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
from dockerd import PrivateDockerd  # noqa: E402
from scenario import CASES, DOCKERD_FAULTS, Outcome, run_scenario  # noqa: E402

from envs.datasets import load_tasks  # noqa: E402
from envs.environment import prepare_environment  # noqa: E402
from sandbox.images import base_image_name  # noqa: E402
from swescale.bench.report import lost_lines  # noqa: E402
from swescale.bench.state import BenchState  # noqa: E402
from swescale.config import load_config  # noqa: E402
from swescale.demo.replay import make_demo_repo  # noqa: E402

DRIVER = "kill -9 of the driver"
NAMES = {"f-dockerd": "dockerd SIGKILL + restart", "f-disk": "disk budget reached"}


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


def rows(faulty: Outcome, faults: list[str], driver: bool) -> list[tuple[str, bool, bool, list[str]]]:
    """(fault, injected, survived, lost-work lines) per fault of one scenario; last, the lines of instances
    no fault was aimed at (work a fault cost them: a restarted engine stops every sandbox)."""
    work = lost(faulty)
    everyone = all(survived(faulty, i) for i in faulty.rows) and not faulty.containers_left
    out = [(NAMES.get(i, i), i in faulty.fired, survived(faulty, i), work.get(i, [])) for i in faults]
    if driver:
        out.append((DRIVER, DRIVER in faulty.fired, everyone, []))
    others = [line for i, lines in work.items() if i not in faults for line in lines]
    if others:
        out.append(("(other instances)", False, everyone, others))
    return out


def table(scenarios: list[tuple[str, Outcome, Outcome, list[str], bool]]) -> str:
    """`scenarios`: (name, run with faults, run without, the faults' instances, driver killed)."""
    found: list[tuple[str, bool, bool, list[str]]] = []
    timing = []
    for name, faulty, clean, faults, driver in scenarios:
        found += rows(faulty, faults, driver)
        timing.append(
            f"{name}: {faulty.seconds:.1f} s with faults ({faulty.runs} commands), {clean.seconds:.1f} s "
            f"without: the faults cost {faulty.seconds - clean.seconds:+.1f} s; containers left "
            f"{len(faulty.containers_left)}"
        )
    cells = [("fault", "injected", "survived", "work lost")]
    cells += [(f, str(i), str(s), "; ".join(w) or "none") for f, i, s, w in found]
    width = [max(len(c[k]) for c in cells) for k in range(3)]
    text = [" | ".join(c[k].ljust(width[k]) for k in range(3)) + " | " + c[3] for c in cells]
    injected = [r for r in found if r[1]]
    text += [
        "",
        f"faults injected {len(injected)}, survived {sum(r[2] for r in injected)}, "
        f"lost-work lines {sum(len(r[3]) for r in found)}",
        *timing,
    ]
    return "\n".join(text)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keep", type=Path, help="leave the run directories here")
    parser.add_argument("--no-dockerd", action="store_true", help="skip the private-daemon scenario")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="swescale-faults-") as tmp:
        root = args.keep or Path(tmp)
        repo = make_demo_repo(root / "minimath")
        warmup = make_dataset(root / "warmup", repo, {"warmup": "right"})
        config = load_config()
        env = prepare_environment(load_tasks(warmup)[0], config)  # built once, not timed
        scenarios = []
        clean = run_scenario(root / "clean", repo, inject=False)
        faulty = run_scenario(root / "faults", repo, inject=True)
        scenarios.append(("host engine", faulty, clean, list(CASES), True))
        if not args.no_dockerd:
            daemon = PrivateDockerd()
            try:
                daemon.start()
                daemon.load(base_image_name(config.sandbox.python), env.image)
                clean = run_scenario(root / "dockerd-clean", repo, inject=False, dockerd=daemon)
                faulty = run_scenario(root / "dockerd-faults", repo, inject=True, dockerd=daemon)
            finally:
                daemon.close()
            scenarios.append(("private dockerd", faulty, clean, list(DOCKERD_FAULTS), False))
        print(table(scenarios))


if __name__ == "__main__":
    main()
