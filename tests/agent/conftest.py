"""A tiny git repository with a real bug, inside one real sandbox shared by a module's tests."""

from __future__ import annotations

import pytest

OPS = '''"""Arithmetic helpers."""


def add(a, b):
    """Return the sum of a and b."""
    return a - b


def sub(a, b):
    """Return a minus b."""
    return a - b
'''

FILES = {
    "calc/__init__.py": '"""A tiny calculator package."""\n',
    "calc/ops.py": OPS,
    "README.md": "calc: add and subtract\n",
}

ISSUE = "calc.ops.add(2, 3) returns -1 instead of 5: `add` subtracts its arguments."

REPRO = "import sys\n\nfrom calc.ops import add\n\nsys.exit(0 if add(2, 3) == 5 else 1)\n"

GIT = "git -c safe.directory='*' -c user.name=t -c user.email=t@t"


@pytest.fixture(scope="module")
def _repo_sandbox(base_image):
    from sandbox import DockerSandbox

    with DockerSandbox(base_image, workdir="/testbed") as sb:
        for path, text in FILES.items():
            sb.write_file(f"/testbed/{path}", text)
        r = sb.exec(
            f"cd /testbed && {GIT} init -q && {GIT} add -A && {GIT} commit -qm init && "
            "git config --global --add safe.directory '*'"
        )
        assert r.exit_code == 0, r.output
        yield sb


@pytest.fixture
def repo_sandbox(_repo_sandbox):
    """The shared sandbox, reset to the committed repository.

    Tracked files get an old mtime and the index is refreshed, as in a real environment image (so a
    same-size edit right after the reset can never hide behind git's stat cache).
    """
    r = _repo_sandbox.exec(
        f"cd /testbed && {GIT} reset -q --hard && {GIT} clean -qfdx && "
        "find . -path ./.git -prune -o -type f -exec touch -d 2000-01-01 {} + && "
        f"{GIT} update-index -q --refresh"
    )
    assert r.exit_code == 0, r.output
    _repo_sandbox.pin_base()  # the repository was made after the sandbox started
    return _repo_sandbox


@pytest.fixture
def task():
    from envs.task import Task

    return Task(instance_id="calc-1", problem_statement=ISSUE)
