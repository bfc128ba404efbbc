"""Cost of the call recorder (verifiers/calltrace_box.py) against the plain run of the same tests.

A project whose tests call a recorded module's functions in hot loops (as sympy's tests call its core)
runs three ways, each `--repeat` times, alternating: plain; recorded under a runner shaped like sympy's
(its reporter hooked: one comparison per call once a function is recorded in a test); recorded under the
same runner in a module the recorder does not know (the test found by walking the stack on each call).
Prints the best time of each and the ratios against plain. No Docker; the interpreter running this.

    python benchmarks/calltrace_overhead.py [--calls 200000] [--tests 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from envs.runners import tracer_hooks

ROOT = Path(__file__).resolve().parents[1]
TRACER = ROOT / "verifiers" / "calltrace_box.py"

MODULE = """class Node:
    def __init__(self, value, child=None):
        self.value, self.child = value, child

    def depth(self):
        return 1 + (self.child.depth() if self.child is not None else 0)

    def __eq__(self, other):
        return isinstance(other, Node) and self.value == other.value

    def __hash__(self):
        return hash(self.value)


def chain(n):
    node = None
    for i in range(n):
        node = Node(i, node)
    return node
"""

RUNNER = ROOT / "tests" / "verifiers" / "sympy_shaped_runner.py"  # installed as sympy/testing/runtests.py


def _tests(count: int, calls: int) -> str:
    body = ["from pkg.mod import Node, chain\n\n"]
    for k in range(count):
        body.append(
            f"def test_{k}():\n    node = chain(5)\n    seen = set()\n"
            f"    for i in range({calls} // 10):\n        seen.add(Node(i % 50))\n        assert node.depth() == 5\n\n"
        )
    return "\n".join(body)


def _project(root: Path, tests: int, calls: int) -> None:
    for package in ("pkg", "sympy", "sympy/testing", "other", "tests"):
        (root / package).mkdir(parents=True, exist_ok=True)
        (root / package / "__init__.py").write_text("")
    (root / "pkg" / "mod.py").write_text(MODULE)
    (root / "sympy" / "testing" / "runtests.py").write_text(RUNNER.read_text())
    (root / "other" / "runtests.py").write_text(RUNNER.read_text())
    (root / "tests" / "test_hot.py").write_text(_tests(tests, calls))
    site = root.parent / "site"
    site.mkdir(exist_ok=True)
    (site / "swescale_calltrace.py").write_text(TRACER.read_text())
    (site / "sitecustomize.py").write_text("import swescale_calltrace\n")


def _run(root: Path, runner: str | None) -> float:
    env = {**os.environ, "PYTHONPATH": f"{root.parent / 'site'}:{root}"}
    env.pop("SWESCALE_CALLTRACE", None)
    if runner is not None:
        out = root.parent / "calls"
        out.mkdir(exist_ok=True)
        for old in out.iterdir():
            old.unlink()
        conf = root.parent / "conf.json"
        conf.write_text(
            json.dumps(
                {
                    "out": str(out),
                    "root": str(root),
                    "touched": ["pkg/mod.py"],
                    "tests": ["tests/test_hot.py"],
                    "hooks": tracer_hooks(),  # as verifiers.regression writes it
                }
            )
        )
        env["SWESCALE_CALLTRACE"] = str(conf)
    module = runner or "other"
    code = f"from {module}.runtests import test_file; test_file({str(root / 'tests' / 'test_hot.py')!r})"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=root, env=env, check=True)
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=200000, help="Calls of recorded functions per test (about).")
    ap.add_argument("--tests", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        _project(root, args.tests, args.calls)
        ways = {
            "plain": None,
            "recorded, sympy's reporter hooked": "sympy.testing",
            "recorded, stack walk": "other",
        }
        best = dict.fromkeys(ways, float("inf"))
        for _ in range(args.repeat):
            for name, runner in ways.items():
                best[name] = min(best[name], _run(root, runner))
    plain = best["plain"]
    for name, seconds in best.items():
        print(f"{name:36s} {seconds:7.2f} s   x{seconds / plain:5.2f} of plain")


if __name__ == "__main__":
    main()
