"""Interfaces: the sandbox a tool needs, the environment the agent needs, a tool, and the error a tool reports to the model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


class ExecResultLike(Protocol):
    exit_code: int
    output: str
    timed_out: bool


class SandboxLike(Protocol):
    """What tools need of `sandbox.DockerSandbox`."""

    def exec(
        self, cmd: str, timeout: float | None = ..., cwd: str | None = ..., env: dict | None = ...
    ) -> ExecResultLike: ...

    def read_bytes(self, path: str) -> bytes: ...

    def write_file(self, path: str, data: str | bytes) -> None: ...


class Environment(SandboxLike, Protocol):
    """What the agent needs of its environment (`sandbox.DockerSandbox`): the tools' needs plus the diff."""

    def read_file(self, path: str) -> str: ...

    def diff(self) -> str: ...


class ToolError(Exception):
    """A failure the model should read (bad arguments, missing file, ...); never crashes the loop."""


@dataclass
class Tool:
    """A tool offered to the model: OpenAI function schema plus the code that runs it."""

    name: str
    description: str
    parameters: dict
    run: Callable[[dict[str, Any]], str] | None = None
    """None for the tool that ends the trajectory (submit / finish)."""

    def schema(self) -> dict:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }

    def check(self, args: dict[str, Any]) -> None:
        """Raise ToolError for missing required arguments (unknown extra ones are ignored)."""
        missing = [p for p in self.parameters.get("required", []) if p not in args]
        if missing:
            raise ToolError(f"Missing required parameter(s) {missing} for tool `{self.name}`.")
