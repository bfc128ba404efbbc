"""Fixtures of the fault-injection suite: the bench tests' demo repository and environment image."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parents[1]
for folder in ("bench", "pipeline"):  # bench_scripts and pipeline_scripts, shared with those suites
    sys.path.insert(0, str(TESTS / folder))


@pytest.fixture(scope="session")
def fault_repo(tmp_path_factory) -> Path:
    """The demo repository (deterministic commit: the bench tests' environment image is reused)."""
    from swescale.demo.replay import make_demo_repo

    return make_demo_repo(tmp_path_factory.mktemp("faults") / "minimath")


@pytest.fixture(scope="session")
def fault_env(docker_client, base_image, fault_repo):
    """The environment image every task of the scenario shares, built (or found) once."""
    from bench_scripts import make_dataset

    from envs.datasets import load_tasks
    from envs.environment import prepare_environment
    from swescale.config import load_config

    dataset = make_dataset(fault_repo.parent / "warmup", fault_repo, {"warmup": "right"})
    return prepare_environment(load_tasks(dataset)[0], load_config())
