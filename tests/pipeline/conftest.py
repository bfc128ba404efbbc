"""Fixtures of the end-to-end solve tests: the demo repository and its environment image."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_scripts import ISSUE

from swescale.config import load_config
from swescale.demo.replay import make_demo_repo


@pytest.fixture
def demo_repo(tmp_path: Path) -> Path:
    return make_demo_repo(tmp_path / "repo")


@pytest.fixture(scope="session")
def demo_env(docker_client, base_image, tmp_path_factory):
    """The demo repository's environment image, built once (and cached by the engine across sessions)."""
    from envs.datasets import local_task
    from envs.environment import prepare_environment

    repo = make_demo_repo(tmp_path_factory.mktemp("demo") / "repo")
    return prepare_environment(local_task(repo, ISSUE), load_config())
