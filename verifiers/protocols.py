"""What the verifiers need of the objects other layers give them (typed seams instead of `Any`).

`envs.task.Task`, `envs.environment.EnvSpec`, `sandbox.DockerSandbox` and `sandbox.SandboxPool` satisfy
them; tests may pass anything of the same shape. The outcome cache's is `verifiers.cache.OutcomeCache`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol


class TaskLike(Protocol):
    """What verification needs of envs.task.Task."""

    instance_id: str
    repo: str
    version: str
    problem_statement: str


class EnvLike(Protocol):
    """What verification needs of envs.environment.EnvSpec."""

    image: str
    test_cmd: str
    log_parser: str
    python: str


class RunResult(Protocol):
    """One command's outcome (sandbox.result.ExecResult)."""

    exit_code: int
    output: str
    timed_out: bool
    duration: float


class Box(Protocol):
    """What verification needs of a started sandbox (sandbox.DockerSandbox)."""

    def exec(self, cmd: str, timeout: float | None = ..., cwd: str | None = ...) -> RunResult: ...

    def read_file(self, path: str) -> str: ...

    def write_file(self, path: str, content: str | bytes) -> None: ...

    def apply_patch(self, diff: str) -> Any: ...


class SandboxSource(Protocol):
    """Gives the sandbox of one code version when a run needs it (started on first use)."""

    def get(self) -> Box: ...


class PoolLike(Protocol):
    """Sandboxes bounded in number (sandbox.SandboxPool). `sandbox(image, wait=False)` raises
    sandbox.pool.PoolFull at once instead of waiting for a free slot."""

    def sandbox(self, image: str, **kwargs: Any) -> AbstractContextManager[Box]: ...
