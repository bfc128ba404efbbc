"""Live progress of a bench run: done / running / errors, ETA, tokens per second, resolved so far.

On a terminal a rich live table (one row per running instance, with its stage); otherwise plain log lines:
one per finished instance and a status line every `bench.status_interval` seconds (to `logging` when no
console is given, as the library API does).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from swescale.bench.state import InstanceResult

log = logging.getLogger(__name__)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return (
        f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
        if seconds >= 3600
        else f"{seconds // 60}m{seconds % 60:02d}s"
    )


class InstanceProgress:
    """The solve pipeline's Progress protocol for one instance, feeding the bench display."""

    def __init__(self, bench: BenchProgress, instance_id: str) -> None:
        self._bench, self._iid = bench, instance_id

    def run_started(self, usage: Any) -> None:
        pass

    def stage(self, text: str) -> None:
        self._bench.stage(self._iid, text)

    def trajectory_started(self, trajectory_id: str, generation: int) -> None:
        pass

    def trajectory_step(self, trajectory_id: str, steps: int, usage: Any) -> None:
        self._bench.tokens(self._iid, trajectory_id, usage.total_tokens)

    def trajectory_finished(self, result: Any) -> None:
        self._bench.tokens(self._iid, result.trajectory_id, result.usage.total_tokens)

    def generation_scored(self, stats: Any) -> None:
        pass


class BenchProgress:
    """Counts and display of a bench run. Thread-safe; use as a context manager."""

    def __init__(
        self,
        console: Console | None,
        total: int,
        done: int = 0,
        errors: int = 0,
        resolved: int = 0,
        graded: int = 0,
        interval: float = 30.0,
    ) -> None:
        self.console, self.total, self.interval = console, total, interval
        self.done, self.errors, self.resolved, self.graded = done, errors, resolved, graded
        self.finished_now = 0
        """Instances finished (done or error) by this process: the rate behind the ETA."""
        self._lock = threading.Lock()
        self._running: dict[str, dict[str, Any]] = {}
        self._live_tokens: dict[tuple[str, str], int] = {}
        self._tokens_done = 0
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._live: Live | None = None
        self._ticker: threading.Thread | None = None

    def __enter__(self) -> BenchProgress:
        if self.console is not None and self.console.is_terminal:
            self._live = Live(console=self.console, refresh_per_second=2, get_renderable=self._render)
            self._live.__enter__()
        else:
            self._ticker = threading.Thread(target=self._tick, daemon=True, name="bench-status")
            self._ticker.start()
            self.log(self.status())
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._live is not None:
            self._live.__exit__(*exc)
        self.log(self.status())

    # -- events --------------------------------------------------------------------------------------------

    def instance(self, instance_id: str) -> InstanceProgress:
        return InstanceProgress(self, instance_id)

    def started(self, instance_id: str, attempt: int = 1) -> None:
        with self._lock:
            self._running[instance_id] = {"since": time.monotonic(), "stage": "starting", "attempt": attempt}
        if self._live is None:
            self.log(f"{instance_id}: started" + (f" (attempt {attempt})" if attempt > 1 else ""))

    def stage(self, instance_id: str, text: str) -> None:
        with self._lock:
            if instance_id in self._running:
                self._running[instance_id]["stage"] = text

    def tokens(self, instance_id: str, trajectory_id: str, tokens: int) -> None:
        with self._lock:
            self._live_tokens[(instance_id, trajectory_id)] = tokens

    def finished(self, result: InstanceResult) -> None:
        with self._lock:
            self._running.pop(result.instance_id, None)
            for key in [k for k in self._live_tokens if k[0] == result.instance_id]:
                del self._live_tokens[key]
            self._tokens_done += result.tokens
            if result.status == "pending":
                return
            self.finished_now += 1
            if result.status == "done":
                self.done += 1
            else:
                self.errors += 1
        if result.status == "done":
            what = (
                "abstained" if not result.patch.strip() else f"patch of {result.patch.count(chr(10))} lines"
            )
            line = (
                f"{result.instance_id}: done in {_duration(result.seconds)}, {what}, {result.tokens:,} tokens"
            )
        else:
            line = f"{result.instance_id}: ERROR {result.error_class}: {result.error.splitlines()[0][:200]}"
        self.log(line)

    def verdict(self, instance_id: str, verdict: str) -> None:
        with self._lock:
            self.graded += 1
            self.resolved += verdict == "resolved"
        self.log(f"{instance_id}: {verdict}")

    # -- output --------------------------------------------------------------------------------------------

    def log(self, line: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        if self.console is None:
            log.info(line)
        elif self._live is not None:
            self._live.console.print(f"{stamp} {line}", highlight=False, markup=False)
        else:
            self.console.print(f"{stamp} {line}", highlight=False, markup=False, soft_wrap=True)

    def status(self) -> str:
        with self._lock:
            elapsed = time.monotonic() - self._started
            tokens = self._tokens_done + sum(self._live_tokens.values())
            left = self.total - self.done - self.errors
            eta = _duration(left * elapsed / self.finished_now) if self.finished_now and left else "-"
            resolved = f" | resolved {self.resolved}/{self.graded}" if self.graded else ""
            return (
                f"{self.done + self.errors}/{self.total} finished: {self.done} done, {self.errors} errors, "
                f"{len(self._running)} running | {tokens / max(elapsed, 1e-9):,.0f} tokens/s | "
                f"ETA {eta} | {_duration(elapsed)} elapsed{resolved}"
            )

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            self.log(self.status())

    def _render(self) -> Group:
        table = Table(title="swescale bench run", expand=False)
        for column in ("instance", "stage", "time"):
            table.add_column(column)
        now = time.monotonic()
        with self._lock:
            running = list(self._running.items())
        for iid, row in running:
            table.add_row(iid, Text(row["stage"][:70], style="yellow"), _duration(now - row["since"]))
        return Group(table, Text(self.status()))
