"""Run-wide budgets (tokens, model calls, wall time) and the cancel signals that enforce them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from agent.usage import Usage
from swescale.config import SolveConfig


class Budget:
    """Watches the usage of a run and cancels every live trajectory once a limit is reached.

    `usage` is a callable summing the usage of every model client of the run. Trajectories get
    their cancel event from `new_cancel()` and call `check()` after each step; a watcher thread
    checks too (for the time limit and calls outside trajectories). All events are set when the budget is spent,
    when `stop()` is called (Ctrl-C) or, for one generation, when first-finish stops it.
    """

    def __init__(self, config: SolveConfig, usage: Callable[[], Usage], poll: float = 0.25):
        self.config = config
        self._usage = usage
        self._poll = poll
        self._started = time.monotonic()
        self._events: list[threading.Event] = []
        self._lock = threading.Lock()
        self.reason: str | None = None
        """Why the run was stopped, once it was."""
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="swescale-budget", daemon=True)

    def __enter__(self) -> Budget:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(timeout=5)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def new_cancel(self) -> threading.Event:
        """A cancel event that the budget sets when the run must stop (already set if it must)."""
        event = threading.Event()
        with self._lock:
            self._events.append(event)
            if self.reason:
                event.set()
        return event

    def exceeded(self) -> str | None:
        """The first limit the run has reached, or None."""
        usage, cfg = self._usage(), self.config
        if cfg.max_total_tokens and usage.total_tokens >= cfg.max_total_tokens:
            return f"token budget spent ({usage.total_tokens} >= {cfg.max_total_tokens} tokens)"
        if cfg.max_model_calls and usage.calls >= cfg.max_model_calls:
            return f"model-call budget spent ({usage.calls} >= {cfg.max_model_calls} calls)"
        if cfg.max_seconds and self.elapsed >= cfg.max_seconds:
            return f"time budget spent ({self.elapsed:.0f} s >= {cfg.max_seconds:.0f} s)"
        return None

    def stop(self, reason: str) -> None:
        """Stop the run: record why (the first reason wins) and cancel every trajectory."""
        with self._lock:
            self.reason = self.reason or reason
            for event in self._events:
                event.set()

    def check(self) -> bool:
        """Stop the run if a limit is reached (trajectories call this after every step); True if stopped."""
        if self.reason is None and (reason := self.exceeded()):
            self.stop(reason)
        return self.reason is not None

    def _watch(self) -> None:
        while not self._done.wait(self._poll):
            if self.check():
                return
