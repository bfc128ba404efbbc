"""Per-instance views of the run's shared model clients and sandbox pool.

Instances of a bench run share one `ModelClient` per server group (requests in flight per server) and one
`SandboxPool` (sandboxes alive): global limits. Each instance sees them through these views, which keep the
wall time during which one of its sandboxes is open or one of its model calls in flight (`Activity.busy`):
the rest of its wall time is orchestration overhead. Its usage is its run's ledger (`agent.usage`), which
the solve passes with every call, so a solve's budgets and its reported tokens are its own. A `Guard` stops an instance at its deadline or when the run stops:
its model calls and new sandboxes then fail, and its open sandboxes are closed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from agent.model import ModelError
from sandbox.result import SandboxError
from swescale.bench.errors import server_down


class Guard:
    """Why an instance must stop now (`reason`: `timeout` or `stopped`), or None while it may go on."""

    def __init__(self, stop: threading.Event | None = None, timeout: float = 0.0) -> None:
        self._stop = stop or threading.Event()
        self._deadline = time.monotonic() + timeout if timeout else None
        self._timeout = timeout
        self._lock = threading.Lock()
        self._open: dict[int, Any] = {}
        self.tripped = False
        """The instance was stopped: a call or sandbox refused, or its sandboxes closed."""

    @property
    def reason(self) -> str | None:
        if self._deadline is not None and time.monotonic() >= self._deadline:
            return "timeout"
        return "stopped" if self._stop.is_set() else None

    def refuse(self) -> str | None:
        """The message to fail a new call or sandbox with, if the instance must stop now."""
        if self.reason is None:
            return None
        self.tripped = True
        return self.message()

    def message(self) -> str:
        if self.reason == "timeout":
            return f"the instance reached bench.instance_timeout ({self._timeout:.0f} s)"
        return "the bench run is stopping"

    def opened(self, sandbox: Any) -> None:
        with self._lock:
            self._open[id(sandbox)] = sandbox

    def closed(self, sandbox: Any) -> None:
        with self._lock:
            self._open.pop(id(sandbox), None)

    def enforce(self) -> bool:
        """Close the instance's open sandboxes if it must stop (a watchdog calls this); True if it must."""
        if self.reason is None:
            return False
        with self._lock:
            boxes = list(self._open.values())
            self.tripped = self.tripped or bool(boxes)
        for box in boxes:
            try:
                box.close()
            except Exception:  # noqa: BLE001, S110 - already gone
                pass
        return True


class Activity:
    """Wall time covered by at least one open interval (nested and concurrent intervals count once)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._since = 0.0
        self._busy = 0.0

    def __enter__(self) -> Activity:
        with self._lock:
            if self._depth == 0:
                self._since = time.monotonic()
            self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                self._busy += time.monotonic() - self._since

    @property
    def busy(self) -> float:
        with self._lock:
            return self._busy + (time.monotonic() - self._since if self._depth else 0.0)


class MeteredModel:
    """A shared ModelClient seen by one instance: the same servers and limits, its own busy time and guard."""

    def __init__(self, client: Any, activity: Activity | None = None, guard: Guard | None = None) -> None:
        self._client = client
        self._activity = activity or Activity()
        self._guard = guard or Guard()
        self.failure = ""
        """The first call that failed because the server did not answer (after the client's retries)."""

    def chat(self, *args: Any, **kwargs: Any) -> Any:
        if refused := self._guard.refuse():
            raise ModelError(refused)
        with self._activity:
            try:
                result = self._client.chat(*args, **kwargs)  # the caller's ledger travels in kwargs
            except ModelError as exc:
                if server_down(str(exc)) and not self.failure:
                    self.failure = str(exc)[:500]
                raise
        return result

    def __getattr__(self, name: str) -> Any:  # config, model_name, tool_format ... of the shared client
        return getattr(self._client, name)


class MeteredPool:
    """The shared SandboxPool seen by one instance: the same slots; its sandbox time is recorded."""

    def __init__(self, pool: Any, activity: Activity, guard: Guard | None = None) -> None:
        self._pool = pool
        self._activity = activity
        self._guard = guard or Guard()

    @contextmanager
    def sandbox(self, image: str, **kwargs: Any) -> Iterator[Any]:
        if refused := self._guard.refuse():
            raise SandboxError(refused)
        with self._activity, self._pool.sandbox(image, **kwargs) as sb:
            self._guard.opened(sb)
            try:
                yield sb
            finally:
                self._guard.closed(sb)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)
