"""Generated tests are isolated: each run sees exactly the candidate's code, whatever earlier runs left,
and a test never writes where the candidate's files are. Real sandboxes, real git."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from swescale.config import SwescaleConfig
from tests.verifiers.conftest import FILES, FIXES
from verifiers.run import verify
from verifiers.table import Candidate, GeneratedTest

pytestmark = pytest.mark.docker

MESS = """import os, pathlib, tempfile
pathlib.Path("calc/ops.py").write_text("raise SystemExit('clobbered')\\n")  # a file the candidate changed
if os.path.exists("calc/extra.py"):
    os.remove("calc/extra.py")  # the candidate's new file
pathlib.Path("leftover.txt").write_text("untracked")
pathlib.Path("run.log").write_text("ignored by the candidate's .gitignore")
os.makedirs("newdir/sub", exist_ok=True)
pathlib.Path("newdir/sub/f.py").write_text("")
pathlib.Path(tempfile.gettempdir(), "swescale_state").write_text("state")
"""

CHECK = """import os, sys, tempfile
left = [p for p in ("leftover.txt", "run.log", "newdir") if os.path.exists(p)]
if os.path.exists(os.path.join(tempfile.gettempdir(), "swescale_state")):
    left.append("state in TMPDIR")
if "clobbered" in open("calc/ops.py").read():
    left.append("calc/ops.py")
print("left behind:", left)
sys.exit(1 if left else 0)
"""

TESTS = [
    GeneratedTest(test_id="t1_mess", script=MESS, path="t1_mess.py"),
    GeneratedTest(test_id="t2_check", script=CHECK, path="t2_check.py"),
    # a test-writing agent chose the path of a file the candidate adds
    GeneratedTest(test_id="t3_same_path", script="print('a test at calc/extra.py')\n", path="calc/extra.py"),
    GeneratedTest(
        test_id="t4_extra",
        script="from calc.extra import VALUE\nfrom calc.ops import mean\nassert VALUE == 1 and mean([]) == 0.0\n",
        path="t4_extra.py",
    ),
    # prints a salted str hash: the same on every version only under one PYTHONHASHSEED
    GeneratedTest(
        test_id="t5_hash",
        script="import os\nprint(os.environ.get('PYTHONHASHSEED'), hash('swescale'))\n",
        path="t5_hash.py",
    ),
]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def _patch_with_new_files(repo: Path, files: dict[str, str]) -> str:
    """The candidate: the fix of calc/ops.py, a new module and a .gitignore (new files included)."""
    for path, text in files.items():
        (repo / path).write_text(text)
    _git(repo, "add", "-A")
    diff = _git(repo, "diff", "--cached")
    _git(repo, "reset", "-q", "--hard")
    return diff


@pytest.fixture(scope="module")
def candidate(calc_repo) -> Candidate:
    ops = FILES["calc/ops.py"].split("def mean")[0] + FIXES["A"]
    patch = _patch_with_new_files(
        calc_repo, {"calc/ops.py": ops, "calc/extra.py": "VALUE = 1\n", ".gitignore": "*.log\n"}
    )
    assert "calc/extra.py" in patch and ".gitignore" in patch
    return Candidate(candidate_id="X", patch=patch, source="test")


@pytest.fixture(scope="module")
def verified(task, env, candidate, tmp_path_factory, make_pool):
    pool = make_pool()
    out = tmp_path_factory.mktemp("isolation")
    table = verify(task, env, [candidate], TESTS, SwescaleConfig(), pool=pool, out_dir=out, judge=False)
    assert pool.started == 2  # still one sandbox per version (original and X)
    return table


def test_nothing_an_earlier_test_left_is_seen(verified):
    row = verified.row("X")
    assert row.applies
    assert row.outcomes["t2_check"].passed, row.outcomes["t2_check"].output_excerpt
    assert verified.test("t2_check").reference.passed  # on the original code too
    # the regression run after the generated tests saw the candidate's calc/ops.py, not t1's
    assert row.regression.passed == 2 and row.regression.new_failures == []


def test_a_test_never_writes_where_the_candidates_files_are(verified):
    """t3 names the path of the candidate's new calc/extra.py: it runs, and t4 still imports the
    candidate's module (neither overwritten nor deleted; t1's deletion of it was undone too)."""
    row = verified.row("X")
    assert row.outcomes["t3_same_path"].passed
    assert row.outcomes["t4_extra"].passed, row.outcomes["t4_extra"].output_excerpt


def test_every_version_hashes_strings_with_one_seed(verified):
    """Set and dict order of strings, and the tests that depend on it, are the same on the original and
    on the candidate: the outcome of a test differs only where the patch makes it differ."""
    reference, outcome = verified.test("t5_hash").reference, verified.row("X").outcomes["t5_hash"]
    assert reference.passed and outcome.passed
    assert outcome.output_digest == reference.output_digest, reference.output_excerpt
