"""What the bench driver hands an executor (`Job`) and what an executor is (`Executor`): shared by the
driver (`swescale.bench.runner`, with its `LocalExecutor`) and `swescale.bench.ray_executor`."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel

from envs.task import Task
from swescale.bench.state import InstanceResult


class Job(BaseModel):
    """One attempt at one instance: solve it (resuming its folder), or only grade its prediction."""

    task: Task
    solve: bool = True
    patch: str = ""
    """The prediction to grade when not solving."""
    attempt: int = 1
    """Attempt within this `bench run` (the state counts all attempts)."""
    not_before: float = 0.0
    """`time.monotonic()` before which the driver does not start it (a retry's backoff)."""


class Executor(Protocol):
    capacity: int
    """Jobs in flight at once."""

    def submit(self, job: Job) -> Any: ...
    def wait(self, handles: list[Any], timeout: float) -> list[tuple[Any, InstanceResult]]: ...
    def stop(self) -> None: ...
    def close(self) -> None: ...
