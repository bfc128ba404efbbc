"""Fixtures of the bot tests: a GitHub REST stand-in on loopback, a bare repository as `origin`, and a
workspace checkout of it (the demo repository, so its environment image is shared with the pipeline tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from github_standin import GitHubStandIn
from payloads import REPO

from swescale.demo.replay import DATA, make_demo_repo

TOKEN = "ghs_StandInToken0123456789abcdefSECRET"
ISSUE_TITLE = "median() is wrong for even-length lists"
ISSUE_BODY = (DATA / "issue.md").read_text()


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A bare repository holding the demo project's `main` (deterministic commit id)."""
    source = make_demo_repo(tmp_path / "source")
    bare = tmp_path / "origin.git"
    git(tmp_path, "clone", "--quiet", "--bare", str(source), str(bare))
    return bare


@pytest.fixture
def workspace(origin: Path, tmp_path: Path) -> Path:
    """What actions/checkout leaves: a clone of `origin` at the default branch."""
    dest = tmp_path / "workspace"
    git(tmp_path, "clone", "--quiet", str(origin), str(dest))
    return dest


@pytest.fixture
def github():
    """The stand-in with the repository and issue #1 (the demo's bug report)."""
    standin = GitHubStandIn(TOKEN)
    with standin as state:
        state.add_repo(REPO)
        state.add_issue(REPO, 1, ISSUE_TITLE, ISSUE_BODY)
        yield state


def swescale_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "swescale.cli.main", *args]


def bot_env(github, **extra: str) -> dict[str, str]:
    """A child process environment with the token and the stand-in's API URL (nothing else of GitHub's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update(GITHUB_TOKEN=TOKEN, GITHUB_API_URL=github.url, GITHUB_REPOSITORY=REPO, **extra)
    return env
