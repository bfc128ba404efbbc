"""SandboxPool: bounds how many sandboxes run at once, across threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sandbox.cleanup import ensure_atexit
from sandbox.config import SandboxConfig
from sandbox.docker_sandbox import DockerSandbox
from sandbox.result import SandboxError


class PoolFull(SandboxError):
    """No free slot, and the caller asked not to wait (`wait=False`)."""


class SandboxPool:
    """`with pool.sandbox(image, ...) as sb:` blocks while `max_concurrent` sandboxes are open.

    A caller that already holds a sandbox and wants more must not block (`wait=False`): two such callers
    waiting for each other's slots would wait forever (hold-and-wait)."""

    def __init__(self, max_concurrent: int | None = None, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.max_concurrent = max_concurrent or self.config.max_concurrent
        self._slots = threading.BoundedSemaphore(self.max_concurrent)
        self._lock = threading.Lock()
        self.active = 0
        # Sandboxes of a pool usually start in worker threads, where signal handlers cannot be installed.
        ensure_atexit()

    @contextmanager
    def slot(self, wait: bool = True) -> Iterator[None]:
        """Hold one of the pool's slots, e.g. for a sandbox started elsewhere (an evaluation run).
        `wait=False`: PoolFull at once when none is free."""
        if not self._slots.acquire(blocking=wait):
            raise PoolFull(f"all {self.max_concurrent} sandboxes of the pool are in use")
        try:
            with self._lock:
                self.active += 1
            try:
                yield
            finally:
                with self._lock:
                    self.active -= 1
        finally:
            self._slots.release()

    @contextmanager
    def sandbox(self, image: str, *, wait: bool = True, **kwargs: Any) -> Iterator[DockerSandbox]:
        """A started sandbox in one of the slots; `wait=False`: PoolFull at once when none is free."""
        kwargs.setdefault("config", self.config)
        with self.slot(wait), DockerSandbox(image, **kwargs) as sb:
            yield sb
