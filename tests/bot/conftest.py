"""Fixtures of the bot tests: a GitHub REST stand-in on loopback, a bare repository as `origin`, and a
workspace checkout of it (the demo repository, so its environment image is shared with the pipeline tests)."""

from __future__ import annotations

from pathlib import Path

import pytest
from bot_payloads import REPO
from bot_standin import GitHubStandIn
from bot_support import ISSUE_BODY, ISSUE_TITLE, TOKEN, git

from swescale.demo.replay import make_demo_repo


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
    with GitHubStandIn(TOKEN) as state:
        state.add_repo(REPO)
        state.add_issue(REPO, 1, ISSUE_TITLE, ISSUE_BODY)
        yield state


@pytest.fixture(scope="session")
def demo_image(docker_client, base_image, tmp_path_factory) -> str:
    """The demo repository's environment image (built once; the engine caches it across sessions)."""
    from envs.datasets import local_task
    from envs.environment import prepare_environment
    from swescale.config import load_config

    repo = make_demo_repo(tmp_path_factory.mktemp("demo") / "repo")
    return prepare_environment(local_task(repo, ISSUE_BODY), load_config()).image
