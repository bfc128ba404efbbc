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


@pytest.fixture(scope="session")
def private_dockerd(fault_env, base_image):
    """A private Docker daemon (tests/faults/dockerd.py) holding the base and environment images, for
    faults that kill the engine itself; torn down (killed, unmounted, removed) at the end."""
    import os
    import shutil

    from dockerd import PrivateDockerd

    if os.geteuid() != 0 or shutil.which("dockerd") is None:
        reason = "a private Docker daemon needs root and dockerd"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    daemon = PrivateDockerd()
    try:
        daemon.start()
        daemon.load(base_image, fault_env.image)
        yield daemon
    finally:
        daemon.close()
