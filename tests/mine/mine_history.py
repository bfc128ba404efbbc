"""A small repository with a history holding one commit of every kind mining must tell apart.

Fixed dates make the SHAs, hence the environment image keys, the same in every session: the one image
(and the derived ones) are built once per machine. Tests import functions through `import calc`, so a
missing function fails one test instead of the whole module.
"""

from __future__ import annotations

from pathlib import Path

from tests import testrepo
from tests.envs.conftest import PYPROJECT  # the same project (calc) as the envs tests

SOURCE = """def add(a, b):
    return a - b


def sub(a, b):
    return a - b


def mul(a, b):
    return a + b


def neg(a):
    return -a


def double(a):
    return a * 2
"""

TESTS = """import calc


def test_sub():
    assert calc.sub(3, 1) == 2


def test_neg():
    assert calc.neg(2) == -2


def test_double():
    assert calc.double(2) == 4
"""

# A test whose result changes across runs: the runs of one validation share a sandbox, and this counter
# outlives each of them (runs 1-3 at the parent, 4-6 with the commit): fail, pass, pass | pass, fail, fail.
FLAKY = """import os

COUNTER = "/tmp/calc-flaky-counter"


def _runs():
    n = int(open(COUNTER).read()) + 1 if os.path.exists(COUNTER) else 1
    with open(COUNTER, "w") as fh:
        fh.write(str(n))
    return n


def test_flaky():
    assert _runs() in (2, 3, 4)
"""

# At the parent (no quad yet) the test hangs, as a test of a fixed exponential case can.
HANGS = """import time

import calc


def test_quad():
    if not hasattr(calc, "quad"):
        time.sleep(3600)
    assert calc.quad(2) == 8
"""

ISSUE = {"number": 3, "title": "add() subtracts", "body": "calc.add(2, 2) returns 0 instead of 4."}
MODEL_ISSUE = "mul() gives wrong products\n\ncalc.mul(2, 3) returns 5; I expected 6."

OVERRIDES = [
    "env.image_prefix=swescale-test/env",
    "env.pull=false",
    "mine.github_api=",
    "mine.test_timeout=30",
]
"""Config of the tests' mining runs: test images, no registry, no GitHub, a short test timeout."""


def git(cwd: Path, *args: str, day: int = 1) -> str:
    """git with the tests' identity, dated 2024-02-`day` (the history's commits are days apart)."""
    return testrepo.git(cwd, *args, date=f"2024-02-{day:02d}T00:00:00Z")


def _commit(repo: Path, day: int, message: str, files: dict[str, str]) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A", day=day)
    git(repo, "commit", "-q", "-m", message, day=day)
    return git(repo, "rev-parse", "HEAD")


def make_history(repo: Path) -> dict[str, str]:
    """The repository, and kind -> commit SHA."""
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    src, tests = SOURCE, TESTS
    shas = {
        "root": _commit(
            repo,
            1,
            "calc",
            {
                "pyproject.toml": PYPROJECT,
                "calc/__init__.py": src,
                "tests/test_calc.py": tests,
                "README.md": "# calc\n",
            },
        )
    }
    shas["docs"] = _commit(
        repo, 2, "Document calc", {"README.md": "# calc\n\nAdds.\n", "docs/usage.rst": "Use it.\n"}
    )
    src = src.replace("def add(a, b):\n    return a - b", "def add(a, b):\n    return a + b")
    tests += "\n\ndef test_add():\n    assert calc.add(2, 2) == 4\n"
    shas["clean"] = _commit(
        repo, 3, "Fix add (fixes #3)", {"calc/__init__.py": src, "tests/test_calc.py": tests}
    )
    src = src.replace("def neg(a):\n", 'def neg(a):\n    """-a."""\n')
    tests += "\n\ndef test_neg_twice():\n    assert calc.neg(calc.neg(3)) == 3\n"
    shas["already_passing"] = _commit(
        repo, 4, "Document neg", {"calc/__init__.py": src, "tests/test_calc.py": tests}
    )
    src = src.replace("def mul(a, b):\n    return a + b", "def mul(a, b):\n    return a * b")
    more = "import calc\n" + FLAKY + "\n\ndef test_mul():\n    assert calc.mul(2, 3) == 6\n"
    shas["flaky_and_fix"] = _commit(repo, 5, "Fix mul", {"calc/__init__.py": src, "tests/test_more.py": more})
    src = src.replace("def sub(a, b):\n    return a - b", "def sub(a, b):\n    return a + -b")
    shas["flaky_only"] = _commit(
        repo, 6, "Simplify sub", {"calc/__init__.py": src, "tests/test_flaky.py": FLAKY}
    )
    src = src.replace("    return a * 2", "    return a * 3") + "\n\ndef triple(a):\n    return a * 3\n"
    tests += "\n\ndef test_triple():\n    assert calc.triple(2) == 6\n"
    shas["breaks_other"] = _commit(
        repo, 7, "Add triple", {"calc/__init__.py": src, "tests/test_calc.py": tests}
    )
    src += "\n\ndef quad(a):\n    return a * 4\n"
    shas["hangs"] = _commit(repo, 8, "Add quad", {"calc/__init__.py": src, "tests/test_quad.py": HANGS})
    return shas
