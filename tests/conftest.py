"""Shared fixtures. Docker tests skip on a developer machine without an engine, but never in CI.

Every test that needs Docker carries the `docker` marker, checked two ways:
- collection fails (a usage error naming the tests) when an unmarked test uses a Docker fixture, directly
  or through other fixtures (`DOCKER_FIXTURES`);
- an unmarked test runs with DOCKER_HOST pointing at a socket that does not exist (subprocesses inherit
  it), so Docker used any other way fails it loudly. `pytest -m "not docker"` therefore runs no Docker.
"""

from __future__ import annotations

import os
import signal
import threading

import pytest

if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    # started as a shell's background job: the tests' children must see Ctrl-C as a terminal sends it
    signal.signal(signal.SIGINT, signal.default_int_handler)

DOCKER_FIXTURES = frozenset({"docker_client", "base_image"})
"""Fixtures that reach the Docker engine; every fixture that needs Docker depends on one of them."""
NO_DOCKER = "unix:///nonexistent/swescale-test-not-marked-docker.sock"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = [
        item.nodeid
        for item in items
        if DOCKER_FIXTURES & set(getattr(item, "fixturenames", ()))
        and item.get_closest_marker("docker") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "tests that use Docker must carry @pytest.mark.docker (or a module pytestmark):\n  "
            + "\n  ".join(unmarked)
        )


@pytest.fixture(autouse=True)
def _no_docker_unless_marked(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("docker") is None:
        monkeypatch.setenv("DOCKER_HOST", NO_DOCKER)


def _docker_client():
    try:
        import docker

        client = docker.from_env(timeout=30)
        client.ping()
        return client
    except Exception as exc:  # noqa: BLE001 - any failure means "no engine"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the Docker engine is unreachable: {exc}")
        pytest.skip(f"no Docker engine: {exc}")


@pytest.fixture(scope="session")
def docker_client():
    """A live docker-py client (fails, never skips, when CI=true)."""
    return _docker_client()


@pytest.fixture(scope="session")
def base_image(docker_client) -> str:
    """The swescale base image (python3, venv, git), pulled or built offline once per machine."""
    from sandbox.images import ensure_base_image

    return ensure_base_image(python="3.11")


class CountingPool:
    """A real SandboxPool that counts the sandboxes it starts."""

    def __init__(self, max_concurrent: int = 2):
        from sandbox import SandboxPool

        self.pool = SandboxPool(max_concurrent=max_concurrent)
        self.started = 0
        self._lock = threading.Lock()

    def sandbox(self, image: str, **kwargs):
        with self._lock:
            self.started += 1
        return self.pool.sandbox(image, **kwargs)


@pytest.fixture(scope="session")
def make_pool():
    """Factory of counting pools."""
    return CountingPool


def skip_unless_ci(reason: str) -> None:
    """Skip the test for `reason` on a developer machine; fail it when CI=true (CI must run it)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def bench_repo(tmp_path_factory):
    """The demo repository of the bench and fault suites (deterministic commit, so its environment image
    is cached across sessions)."""
    from swescale.demo.replay import make_demo_repo

    return make_demo_repo(tmp_path_factory.mktemp("bench") / "minimath")


@pytest.fixture(scope="session")
def bench_env(docker_client, base_image, bench_repo):
    """The environment image every task on the demo repository shares, built (or found) once."""
    from bench_scripts import make_dataset  # tests/bench: on the path of the suites that use it

    from envs.datasets import load_tasks
    from envs.environment import prepare_environment
    from swescale.config import load_config

    dataset = make_dataset(bench_repo.parent / "warmup", bench_repo, {"warmup": "right"})
    return prepare_environment(load_tasks(dataset)[0], load_config())
