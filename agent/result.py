"""What one trajectory leaves behind, for verifiers, selection and the pipeline."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from agent.usage import Usage


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
    """Why the trajectory ended, unless it submitted (a limit and its value, the model's or sandbox's error)."""
    trajectory_file: str = ""
    """Path of the trajectory JSON."""
