"""Results and errors of sandbox operations."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ExecResult:
    """Outcome of one command. `output` holds stdout and stderr interleaved, capped (head and tail kept)."""

    exit_code: int
    output: str
    timed_out: bool = False
    duration: float = 0.0
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class SandboxError(RuntimeError):
    """The sandbox cannot do what was asked (container gone, exec server dead, file missing...)."""
