"""The call recorder (verifiers/calltrace_box.py) in real interpreters: pytest, unittest, subprocesses,
and a runner shaped like sympy's (whose reporter it hooks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from envs.runners import tracer_hooks

TRACER = Path(__file__).parents[2] / "verifiers" / "calltrace_box.py"

MODULE = '''import functools


def cached(f):
    @functools.wraps(f)
    def wrapper(*args):
        return f(*args)
    return wrapper


@cached
def alpha(x):
    """A decorated function: the recorder sees the call inside the decorator's wrapper."""
    return x + 1


class Box:
    def beta(self):
        return 2


def unused():
    return 3
'''

PYTEST_TESTS = """import pytest
from pkg.mod import Box, alpha


@pytest.fixture
def box():
    return Box()


def test_alpha():
    assert alpha(1) == 2


@pytest.mark.parametrize("n", [1, 2])
def test_beta(box, n):
    assert box.beta() == 2


def test_nothing():
    assert True
"""

UNITTEST_TESTS = """import subprocess
import sys
import unittest

from pkg.mod import alpha


class TestMod(unittest.TestCase):
    def test_alpha(self):
        self.assertEqual(alpha(2), 3)

    def test_in_a_subprocess(self):
        code = "from pkg.mod import Box; Box().beta()"
        subprocess.run([sys.executable, "-c", code], check=True)
"""


SYMPY_RUNNER = Path(__file__).with_name("sympy_shaped_runner.py")  # installed as sympy/testing/runtests.py

SYMPY_TESTS = """from pkg.mod import Box, alpha
from sympy.testing.runtests import XFAIL


def test_alpha():
    for _ in range(1000):
        alpha(1)


def test_beta():
    Box().beta()


@XFAIL
def test_xfail():
    alpha(2)
    raise AssertionError


def test_outer():
    def test_nested_check():
        return alpha(3)

    test_nested_check()


def test_nothing():
    pass


def between_tests():
    Box().beta()
"""


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    root = tmp_path / "testbed"
    (root / "pkg").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "mod.py").write_text(MODULE)
    (root / "tests" / "__init__.py").write_text("")
    (root / "tests" / "test_mod.py").write_text(PYTEST_TESTS)
    (root / "tests" / "test_unit.py").write_text(UNITTEST_TESTS)
    (root / "tests" / "test_sympy_style.py").write_text(SYMPY_TESTS)
    (root / "sympy" / "testing").mkdir(parents=True)
    (root / "sympy" / "__init__.py").write_text("")
    (root / "sympy" / "testing" / "__init__.py").write_text("")
    (root / "sympy" / "testing" / "runtests.py").write_text(SYMPY_RUNNER.read_text())
    site = tmp_path / "site"
    site.mkdir()
    (site / "swescale_calltrace.py").write_text(TRACER.read_text())
    (site / "sitecustomize.py").write_text("import swescale_calltrace\n")  # as the .pth line in a sandbox
    return root


def _record(root: Path, test_file: str, command: list[str]) -> dict:
    out = root.parent / "calls"
    out.mkdir(exist_ok=True)
    conf = root.parent / "conf.json"
    conf.write_text(
        json.dumps(
            {
                "out": str(out),
                "root": str(root),
                "touched": ["pkg/mod.py"],
                "tests": [test_file],
                "hooks": tracer_hooks(),  # as verifiers.regression writes it
            }
        )
    )
    env = {**os.environ, "PYTHONPATH": f"{root.parent / 'site'}:{root}", "SWESCALE_CALLTRACE": str(conf)}
    env.pop("PYTEST_CURRENT_TEST", None)  # set by the pytest running this test
    run = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    merged: dict[str, set] = {}
    for path in out.glob("calls-*.json"):
        data = json.loads(path.read_text())
        assert data["loaded"] == ["pkg/mod.py"] and data["elsewhere"] == []
        names = {i: f"{f[0]}:{f[1]}" for i, f in enumerate(data["functions"])}
        for key, hits in data["hits"].items():
            merged.setdefault(key, set()).update(names[i] for i in hits)
    return merged


def test_pytest_node_ids_and_test_functions(project):
    hits = _record(
        project,
        "tests/test_mod.py",
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_mod.py"],
    )
    # alpha starts at its decorator (line 11), Box.beta at 18; the wrapper of `cached` (line 5) too
    assert hits["node:tests/test_mod.py::test_alpha"] == {"pkg/mod.py:11", "pkg/mod.py:5"}
    assert hits["func:tests/test_mod.py::test_alpha"] == {"pkg/mod.py:11", "pkg/mod.py:5"}
    assert hits["node:tests/test_mod.py::test_beta[1]"] == {"pkg/mod.py:18"}
    assert "node:tests/test_mod.py::test_nothing" not in hits
    assert not any("pkg/mod.py:22" in v for v in hits.values())  # `unused` is never called


def test_unittest_and_subprocesses(project):
    hits = _record(project, "tests/test_unit.py", [sys.executable, "-m", "unittest", "tests/test_unit.py"])
    assert "pkg/mod.py:11" in hits["func:tests/test_unit.py::test_alpha"]
    # the child interpreter inherits the recorder, but has no test frame (nor a pytest test) to credit
    assert all("pkg/mod.py:18" not in v for v in hits.values())


def test_sympy_runner_tests_are_known_from_its_reporter(project):
    """The reporter names the running test: calls are credited to it (a test-named helper inside a test
    included, as the log names the outer test), the decorated test by its own name, nothing between tests,
    and a function called 1000 times in a test is journalled once."""
    test_file = project / "tests" / "test_sympy_style.py"
    code = f"from sympy.testing.runtests import test_file; test_file({str(test_file)!r})"
    hits = _record(project, "tests/test_sympy_style.py", [sys.executable, "-c", code])
    assert hits == {
        "func:tests/test_sympy_style.py::test_alpha": {"pkg/mod.py:11", "pkg/mod.py:5"},
        "func:tests/test_sympy_style.py::test_beta": {"pkg/mod.py:18"},
        "func:tests/test_sympy_style.py::test_xfail": {"pkg/mod.py:11", "pkg/mod.py:5"},
        "func:tests/test_sympy_style.py::test_outer": {"pkg/mod.py:11", "pkg/mod.py:5"},
    }
    (journal,) = (project.parent / "calls").glob("calls-*.jsonl")
    entries = [json.loads(line) for line in journal.read_text().splitlines()]
    assert len([e for e in entries if isinstance(e, list)]) == 7
    # each test's seconds, from the reporter's start and end (written at exit, journalled as it ends)
    tests = {
        f"func:tests/test_sympy_style.py::test_{n}" for n in ("alpha", "beta", "xfail", "outer", "nothing")
    }
    (written,) = (project.parent / "calls").glob("calls-*.json")
    durations = json.loads(written.read_text())["durations"]
    assert set(durations) == tests and all(s >= 0 for s in durations.values())
    assert {e["seconds"][0]: e["seconds"][1] for e in entries if isinstance(e, dict)} == durations


def test_no_recording_without_the_variable(project, tmp_path):
    env = {**os.environ, "PYTHONPATH": f"{tmp_path / 'site'}:{project}"}
    env.pop("SWESCALE_CALLTRACE", None)
    run = subprocess.run(
        [sys.executable, "-c", "import builtins; print(hasattr(builtins, '__swescale_hit__'))"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.stdout.strip() == "False"


def test_a_killed_run_keeps_its_journal(project):
    from verifiers.regression import _from_journal

    (project / "tests" / "test_killed.py").write_text(
        "import os\nimport signal\n\nfrom pkg.mod import alpha\n\n\n"
        "def test_then_killed():\n    alpha(1)\n    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    out = project.parent / "calls"
    out.mkdir()
    conf = project.parent / "conf.json"
    conf.write_text(
        json.dumps(
            {
                "out": str(out),
                "root": str(project),
                "touched": ["pkg/mod.py"],
                "tests": ["tests/test_killed.py"],
                "hooks": tracer_hooks(),
            }
        )
    )
    env = {
        **os.environ,
        "PYTHONPATH": f"{project.parent / 'site'}:{project}",
        "SWESCALE_CALLTRACE": str(conf),
    }
    env.pop("PYTEST_CURRENT_TEST", None)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_killed.py"]
    run = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == -9
    assert not list(out.glob("calls-*.json"))  # atexit never ran
    (journal,) = out.glob("calls-*.jsonl")
    data = _from_journal(journal.read_text())
    names = {f"{f[0]}:{f[1]}" for f in data["functions"]}
    assert "pkg/mod.py:11" in names
    assert "func:tests/test_killed.py::test_then_killed" in data["hits"]
