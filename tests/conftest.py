"""Shared fixtures. Docker tests skip on a developer machine without an engine, but never in CI."""

from __future__ import annotations

import os
import threading

import pytest


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
