"""Live progress of a solve run: trajectories, steps, tokens, tests and the best score."""

from __future__ import annotations

import threading
import time

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from agent.result import TrajectoryResult
from agent.usage import Usage
from swescale.outcome import GenerationStats


class LiveProgress:
    """A rich live table fed from the pipeline's threads. Use as a context manager."""

    def __init__(self, console: Console, usage: callable | None = None, title: str = "swescale solve"):
        self.console = console
        self.title = title
        self._usage = usage
        self._lock = threading.Lock()
        self._rows: dict[str, dict] = {}
        self._stage = "starting"
        self._best: tuple[str | None, float] = (None, 0.0)
        self._tests = 0
        self._started = time.monotonic()
        self._live = Live(console=console, refresh_per_second=4, transient=False, get_renderable=self._render)

    def run_started(self, usage) -> None:
        self._usage = usage

    def __enter__(self) -> LiveProgress:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.__exit__(*exc)
        if not self.console.is_terminal:
            self.console.line()  # a non-terminal gets the last frame without its line end

    # -- Progress protocol -----------------------------------------------------------------------------------

    def stage(self, text: str) -> None:
        with self._lock:
            self._stage = text

    def trajectory_started(self, trajectory_id: str, generation: int) -> None:
        with self._lock:
            self._rows[trajectory_id] = {"gen": generation, "status": "running", "steps": "", "tokens": ""}

    def trajectory_step(self, trajectory_id: str, steps: int, usage: Usage) -> None:
        with self._lock:
            row = self._rows.setdefault(trajectory_id, {"gen": "", "status": "running"})
            row.update(steps=str(steps), tokens=f"{usage.total_tokens:,}")

    def trajectory_finished(self, result: TrajectoryResult) -> None:
        with self._lock:
            row = self._rows.setdefault(result.trajectory_id, {"gen": ""})
            row.update(
                status=str(result.exit_status),
                steps=str(result.steps),
                tokens=f"{result.usage.total_tokens:,}",
                lines=str(result.patch.count("\n")),
            )

    def generation_scored(self, stats: GenerationStats) -> None:
        with self._lock:
            self._tests = stats.tests
            if stats.best_candidate:
                self._best = (stats.best_candidate, stats.best_score)

    # -- rendering -------------------------------------------------------------------------------------------

    def _render(self) -> Group:
        with self._lock:
            table = Table(title=self.title, expand=False)
            for column in ("trajectory", "gen", "status", "steps", "tokens", "diff lines"):
                table.add_column(column)
            for tid, row in self._rows.items():
                style = {"running": "yellow", "submitted": "green"}.get(row["status"], "red")
                table.add_row(
                    tid,
                    str(row["gen"]),
                    Text(row["status"], style=style),
                    row["steps"],
                    row["tokens"],
                    row.get("lines", ""),
                )
            usage: Usage = self._usage() if self._usage else Usage()
            best, score = self._best
            summary = Text(
                f"{self._stage} | tokens {usage.total_tokens:,} in {usage.calls} calls | tests {self._tests} | "
                f"best {best or '-'} ({score:.2f}) | {time.monotonic() - self._started:.0f} s"
            )
            return Group(table, summary)
