"""Fixtures of the bench tests: datasets of several tasks on small repositories, the scripted model."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# the scripted fixes of the demo repository, shared with the solve tests
sys.path.insert(0, str(Path(__file__).parents[1] / "pipeline"))


@pytest.fixture(scope="session")
def bench_repo(tmp_path_factory) -> Path:
    """The demo repository (deterministic commit, so its environment image is cached across sessions)."""
    from swescale.demo.replay import make_demo_repo

    return make_demo_repo(tmp_path_factory.mktemp("bench") / "minimath")


@pytest.fixture(scope="session")
def bench_env(docker_client, base_image, bench_repo):
    """The environment image every bench task on the demo repository shares, built once."""
    from bench_scripts import make_dataset

    from envs.datasets import load_tasks
    from envs.environment import prepare_environment
    from swescale.config import load_config

    dataset = make_dataset(bench_repo.parent / "warmup", bench_repo, {"warmup": "right"})
    return prepare_environment(load_tasks(dataset)[0], load_config())
