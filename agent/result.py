"""What one trajectory leaves behind, for verifiers, selection and the pipeline."""

from __future__ import annotations

import threading
from enum import StrEnum

from pydantic import BaseModel, Field


class ExitStatus(StrEnum):
    submitted = "submitted"
    step_limit = "step_limit"
    token_limit = "token_limit"
    time_limit = "time_limit"
    format_errors = "format_errors"
    model_error = "model_error"
    context_exceeded = "context_exceeded"
    """The conversation no longer fits the model's context (the server said so); the diff is kept."""
    sandbox_error = "sandbox_error"
    cancelled = "cancelled"


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    seconds: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.calls += other.calls
        self.seconds += other.seconds


class UsageLedger:
    """Usage of many calls, in total and per server URL; safe to add to from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._total = Usage()
        self._by_server: dict[str, Usage] = {}

    def add(self, url: str, usage: Usage) -> None:
        with self._lock:
            self._total.add(usage)
            self._by_server.setdefault(url, Usage()).add(usage)

    @property
    def total(self) -> Usage:
        """The sum over every call (a copy)."""
        with self._lock:
            return self._total.model_copy()

    @property
    def by_server(self) -> dict[str, Usage]:
        """The sum per server URL (copies)."""
        with self._lock:
            return {url: u.model_copy() for url, u in self._by_server.items()}


class TrajectoryResult(BaseModel):
    """The outcome of one trajectory. `patch` never contains the reproduction script or scratch files."""

    trajectory_id: str
    mode: str = "fix"
    """`fix` (edit the code and write a reproduction test) or `test` (only write a test)."""
    exit_status: ExitStatus
    patch: str = ""
    """Candidate patch: git diff against the base commit, new source files included, scratch files excluded."""
    repro_test: str | None = None
    """Content of the reproduction script, if the agent wrote one."""
    repro_path: str | None = None
    """Path of the reproduction script relative to the repository root."""
    repro_exit_original: int | None = None
    """Exit code of the reproduction script on the original code."""
    repro_exit_patched: int | None = None
    """Exit code of the reproduction script on the patched code."""
    steps: int = 0
    usage: Usage = Field(default_factory=Usage)
    error: str = ""
    """Why the trajectory ended abnormally, if it did."""
    trajectory_file: str = ""
    """Path of the trajectory JSON."""
