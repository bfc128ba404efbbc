"""A small task for the verifier tests: a git repo (package `calc`, unittest tests) baked into an image.

Issue: `calc.ops.mean([])` raises ZeroDivisionError; it should return 0.0.
Candidates: A correct, E a duplicate of A, B fixes the issue but breaks `mean([1, 2, 3])`,
C changes nothing relevant, D does not apply.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from envs.environment import EnvSpec
from envs.task import Task
from verifiers.table import Candidate, GeneratedTest

LABEL = "swescale.test"
LABEL_VALUE = "verifiers-calc-repo"

FILES = {
    "calc/__init__.py": "",
    "calc/ops.py": ("def add(a, b):\n    return a + b\n\n\ndef mean(xs):\n    return sum(xs) / len(xs)\n"),
    "calc/strings.py": "def shout(s):\n    return s.upper() + '!'\n",
    "tests/__init__.py": "",
    "tests/test_ops.py": (
        "import unittest\n\nfrom calc.ops import add, mean\n\n\n"
        "class TestOps(unittest.TestCase):\n"
        "    def test_add(self):\n        self.assertEqual(add(1, 2), 3)\n\n"
        "    def test_mean(self):\n        self.assertEqual(mean([1, 2, 3]), 2)\n"
    ),
    "tests/test_strings.py": (
        "import unittest\n\nfrom calc.strings import shout\n\n\n"
        "class TestStrings(unittest.TestCase):\n"
        "    def test_shout(self):\n        self.assertEqual(shout('a'), 'A!')\n"
    ),
}

ISSUE = "calc.ops.mean([]) raises ZeroDivisionError. The mean of an empty list should be 0.0."

FIXES = {
    "A": "def mean(xs):\n    if not xs:\n        return 0.0\n    return sum(xs) / len(xs)\n",
    "B": "def mean(xs):\n    return sum(xs) / (len(xs) + 1)\n",  # fixes [] but breaks test_mean
    "C": "def mean(xs):\n    # compute the mean\n    return sum(xs) / len(xs)\n",  # no fix
}

TESTS = {
    # fails on the original with the issue's own symptom, passes on A, B, E: distinguishing
    "t_good": "from calc.ops import mean\nassert mean([]) == 0.0\nprint('fixed')\n",
    # broken tests: crash in the test itself
    "t_import": "from calc.opz import mean\nassert mean([]) == 0.0\n",
    "t_name": "from calc.ops import mean\nassert mean(undefined_list) == 0.0\n",
    # passes everywhere
    "t_pass": "from calc.ops import add\nassert add(1, 2) == 3\n",
    # fails everywhere
    "t_fail": "from calc.ops import mean\nassert mean([]) == 42, 'never'\n",
}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def _write(repo: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)


def make_patch(repo: Path, files: dict[str, str]) -> str:
    """The diff writing `files` makes (new files too), the repository left clean."""
    _write(repo, files)
    _git(repo, "add", "--intent-to-add", "--", *files)
    diff = _git(repo, "diff")
    _git(repo, "reset", "-q", "--", *files)
    _git(repo, "checkout", "--", ".")
    _git(repo, "clean", "-fdq", "--", *files)
    return diff


@pytest.fixture(scope="session")
def calc_repo(tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("calc") / "testbed"
    repo.mkdir()
    _write(repo, FILES)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    return repo


@pytest.fixture(scope="session")
def calc_image(docker_client, base_image, calc_repo) -> str:
    """The repo at /testbed on top of the base image; built once, labelled, reused across sessions."""
    digest = hashlib.sha256(repr(sorted(FILES.items())).encode() + base_image.encode()).hexdigest()[:12]
    tag = f"swescale-test/verifiers-calc:{digest}"
    try:
        docker_client.images.get(tag)
        return tag
    except Exception:  # noqa: BLE001 - not built yet
        pass
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(calc_repo, arcname="testbed")
        dockerfile = f"FROM {base_image}\nCOPY testbed /testbed\nWORKDIR /testbed\n".encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    buf.seek(0)
    docker_client.images.build(
        fileobj=buf, custom_context=True, tag=tag, labels={LABEL: LABEL_VALUE}, rm=True, network_mode="none"
    )
    return tag


@pytest.fixture(scope="session")
def env(calc_image) -> EnvSpec:
    # no log parser named: verifiers.logparse picks swebench's Django parser, which reads unittest -v logs
    return EnvSpec(image=calc_image, test_cmd="python3 -m unittest -v", log_parser="", python="python3")


@pytest.fixture(scope="session")
def task() -> Task:
    return Task(instance_id="calc__mean-1", problem_statement=ISSUE)


@pytest.fixture(scope="session")
def candidates(calc_repo) -> list[Candidate]:
    patches = {
        k: make_patch(calc_repo, {"calc/ops.py": FILES["calc/ops.py"].split("def mean")[0] + v})
        for k, v in FIXES.items()
    }
    # removes a line the file does not have: no fuzz can apply it
    bad = (
        "diff --git a/calc/ops.py b/calc/ops.py\n--- a/calc/ops.py\n+++ b/calc/ops.py\n"
        "@@ -5,2 +5,2 @@\n def mean(xs):\n-    return statistics.fmean(xs)\n+    return 0.0\n"
    )
    out = [Candidate(candidate_id=k, patch=p, source="test") for k, p in patches.items()]
    out.append(Candidate(candidate_id="D", patch=bad, source="test"))
    out.append(Candidate(candidate_id="E", patch=patches["A"], source="test"))
    return out


@pytest.fixture(scope="session")
def gen_tests() -> list[GeneratedTest]:
    return [GeneratedTest(test_id=k, script=v, source="test", path=f"check_{k}.py") for k, v in TESTS.items()]
