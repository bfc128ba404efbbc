"""Fixtures: a tiny pure-Python git repository with a bug, its task, and its environment image (built once)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from envs.task import Task
from swescale.config import SwescaleConfig, load_config
from tests.testrepo import git, pyproject

PYPROJECT = pyproject("calc")
TESTS = "from calc import add, sub\n\n\ndef test_sub():\n    assert sub(3, 1) == 2\n"


def _diff(path: str, hunk: str, lines: list[str]) -> str:
    return "\n".join([f"diff --git a/{path} b/{path}", f"--- a/{path}", f"+++ b/{path}", hunk, *lines]) + "\n"


TEST_PATCH = _diff(
    "tests/test_calc.py",
    "@@ -3,3 +3,7 @@ from calc import add, sub",
    [
        " ",
        " def test_sub():",
        "     assert sub(3, 1) == 2",
        "+",
        "+",
        "+def test_add():",
        "+    assert add(2, 2) == 4",
    ],
)
GOLD = _diff(
    "calc/__init__.py",
    "@@ -1,5 +1,5 @@",
    [" def add(a, b):", "-    return a - b", "+    return a + b", " ", " ", " def sub(a, b):"],
)
WRONG = GOLD.replace("+    return a + b", "+    return a * b + 1")
NOT_APPLYING = GOLD.replace("-    return a - b", "-    return a / b")


def make_repo(path: Path, files: dict[str, str]) -> str:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "base")
    return git(path, "rev-parse", "HEAD")


@pytest.fixture(scope="session")
def calc_repo(tmp_path_factory) -> tuple[Path, str, str]:
    """(repo, base commit, a later 'future' commit holding the fix and the hidden test)."""
    repo = tmp_path_factory.mktemp("calc") / "calc"
    base = make_repo(
        repo,
        {
            "pyproject.toml": PYPROJECT,
            "calc/__init__.py": "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n",
            "tests/test_calc.py": TESTS,
        },
    )
    subprocess.run(["git", "apply"], input=GOLD + TEST_PATCH, text=True, cwd=repo, check=True)
    (repo / "FUTURE_SECRET.txt").write_text("hidden\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "fix add")
    git(repo, "tag", "v1")
    return repo, base, git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="session")
def calc_task(calc_repo) -> Task:
    repo, base, _ = calc_repo
    return Task(
        instance_id="local__calc-1",
        repo="local/calc",
        repo_url=str(repo),
        base_commit=base,
        problem_statement="add() subtracts",
        patch=GOLD,
        test_patch=TEST_PATCH,
        FAIL_TO_PASS=json.dumps(["tests/test_calc.py::test_add"]),
        PASS_TO_PASS=json.dumps(["tests/test_calc.py::test_sub"]),
    )


@pytest.fixture(scope="session")
def env_config() -> SwescaleConfig:
    return load_config([], ["env.image_prefix=swescale-test/env", "env.pull=false"])


@pytest.fixture(scope="session")
def calc_env(docker_client, base_image, calc_task, env_config):
    from envs.environment import prepare_environment

    return prepare_environment(calc_task, env_config)


@pytest.fixture(scope="session")
def dataset_file(tmp_path_factory, calc_task) -> Path:
    """The task as a classic (JSON-encoded lists) jsonl dataset."""
    path = tmp_path_factory.mktemp("data") / "calc.jsonl"
    row = calc_task.model_dump()
    row["FAIL_TO_PASS"], row["PASS_TO_PASS"] = (
        json.dumps(row["FAIL_TO_PASS"]),
        json.dumps(row["PASS_TO_PASS"]),
    )
    path.write_text(json.dumps(row) + "\n")
    return path
