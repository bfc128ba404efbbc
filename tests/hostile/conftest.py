"""Fixtures of the hostile-candidate suite: the task of tests/hostile/hostile_task.py, its image (built
once per session, then given SWE-bench's start-up: hostile_task.site_image) and the patches."""

from __future__ import annotations

import pytest

from swescale.config import SwescaleConfig, load_config
from tests.hostile.hostile_task import make_task, with_site_image


@pytest.fixture(scope="session")
def hostile_config() -> SwescaleConfig:
    return load_config([], ["env.image_prefix=swescale-test/env", "env.pull=false", "verifier.judge=false"])


@pytest.fixture(scope="session")
def hostile_task(docker_client, base_image, hostile_config, tmp_path_factory):
    """(task, patches by name); the task's own image starts Python as SWE-bench's images do."""
    task, patches = make_task(tmp_path_factory.mktemp("hostile"))
    return with_site_image(task, hostile_config, docker_client), patches


@pytest.fixture(scope="session")
def hostile_env(hostile_task, hostile_config):
    from envs.environment import prepare_environment

    return prepare_environment(hostile_task[0], hostile_config)
