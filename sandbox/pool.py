"""SandboxPool: bounds how many sandboxes run at once, across threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sandbox.cleanup import ensure_atexit
from sandbox.config import SandboxConfig
from sandbox.docker_sandbox import DockerSandbox


class SandboxPool:
    """`with pool.sandbox(image, ...) as sb:` blocks while `max_concurrent` sandboxes are open."""

    def __init__(self, max_concurrent: int | None = None, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.max_concurrent = max_concurrent or self.config.max_concurrent
        self._slots = threading.BoundedSemaphore(self.max_concurrent)
        self._lock = threading.Lock()
        self.active = 0
        # Sandboxes of a pool usually start in worker threads, where signal handlers cannot be installed.
        ensure_atexit()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the pool's slots, e.g. for a sandbox started elsewhere (an evaluation run)."""
        with self._slots:
            with self._lock:
                self.active += 1
            try:
                yield
            finally:
                with self._lock:
                    self.active -= 1

    @contextmanager
    def sandbox(self, image: str, **kwargs: Any) -> Iterator[DockerSandbox]:
        kwargs.setdefault("config", self.config)
        with self.slot(), DockerSandbox(image, **kwargs) as sb:
            yield sb
