"""Tool profiles: the tools one trajectory offers the model, bound to its sandbox.

A profile is data: `profiles/<name>.json` holds each tool's OpenAI function schema and, under `run`,
which body executes it and how the tool's arguments map onto the body's (`submit`/`finish` have none).

- `default` (SWE-agent): `bash` {command}, `str_replace_editor`, `submit` {}
- `openhands` (OpenHands CodeAct): `execute_bash` {command, is_input?, timeout?}, `str_replace_editor`,
  `finish` {message?}
- `r2egym` (R2E-Gym): `execute_bash` {cmd}, `file_editor` (+ `concise`, ignored), `search`
  {search_term, path?}, `finish` {command: submit, result?}
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from agent.parsing import ToolCall
from agent.tools.base import SandboxLike, Tool, ToolError
from agent.tools.editor import Editor

__all__ = ["PROFILES", "Tool", "ToolError", "Toolset", "make_toolset"]

PROFILE_DIR = Path(__file__).parent / "profiles"
PROFILES = ("default", "openhands", "r2egym")


@cache
def load_profile(profile: str) -> dict:
    if profile not in PROFILES:
        raise ValueError(f"unknown tool profile {profile!r}; choose one of {PROFILES}")
    return json.loads((PROFILE_DIR / f"{profile}.json").read_text())


class Toolset:
    """The tools of one profile, bound to one sandbox (the editor's undo history lives here)."""

    def __init__(
        self, profile: str, sandbox: SandboxLike, root: str = "/testbed", command_timeout: float = 300.0
    ):
        spec = load_profile(profile)
        self.profile = profile
        self.sandbox = sandbox
        self.root = root
        self.command_timeout = command_timeout
        self.editor = Editor(sandbox, root)
        self.submit_name: str = spec["submit"]
        self.tools: dict[str, Tool] = {
            t["name"]: Tool(t["name"], t["description"], t["parameters"], self._bind(t.get("run")))
            for t in spec["tools"]
        }

    def schemas(self) -> list[dict]:
        return [t.schema() for t in self.tools.values()]

    def _bind(self, run: dict | None) -> Callable[[dict[str, Any]], str] | None:
        """The body a profile names, called with the tool's arguments renamed to the body's."""
        if run is None:
            return None
        if run["body"] == "editor":
            return self.editor.run
        body = {"bash": self.bash, "search": self.search}[run["body"]]
        names = run.get("args", {})
        return lambda args: body(**{param: args.get(arg) for param, arg in names.items()})

    # -- tool bodies ------------------------------------------------------------------------------------------

    def bash(self, command: Any, timeout: Any = None) -> str:
        if not isinstance(command, str) or not command.strip():
            raise ToolError("The command must be a non-empty string.")
        try:
            limit = min(float(timeout), self.command_timeout) if timeout else self.command_timeout
        except (TypeError, ValueError):
            limit = self.command_timeout
        r = self.sandbox.exec(command, timeout=limit)
        out = r.output
        if r.timed_out:
            return f"{out}\n[The command timed out after {limit:g} seconds and was killed.]"
        if not out.strip():
            out = "Your command ran successfully and did not produce any output." if r.exit_code == 0 else ""
        return out if r.exit_code == 0 else f"{out}\n[exit code {r.exit_code}]".lstrip("\n")

    def search(self, term: Any, path: Any = None) -> str:
        if not isinstance(term, str) or not term:
            raise ToolError("Parameter `search_term` is required and must be a non-empty string.")
        target = self.editor.resolve(path or self.root)
        q, t = shlex.quote(target), shlex.quote(term)
        r = self.sandbox.exec(
            f"if [ -d {q} ]; then echo __DIR__; grep -rIc --exclude-dir='.*' --exclude-dir=__pycache__ -F -- {t} {q} "
            f"| grep -v ':0$' | sort | head -n 100; elif [ -f {q} ]; then echo __FILE__; grep -nF -- {t} {q} "
            f"| head -n 100; else echo __NONE__; fi",
            timeout=120,
        )
        kind, _, out = r.output.strip().partition("\n")
        if kind == "__NONE__":
            raise ToolError(f"The path {target} does not exist.")
        if not out.strip():
            return f'No matches found for "{term}" in {target}'
        if kind == "__DIR__":
            lines = [f"{ln.rsplit(':', 1)[0]} ({ln.rsplit(':', 1)[1]} matches)" for ln in out.splitlines()]
            return f'Found matches for "{term}" in {target}:\n' + "\n".join(lines)
        return f'Matches for "{term}" in {target}:\n{out}'

    # -- dispatch ---------------------------------------------------------------------------------------------

    def execute(self, call: ToolCall) -> str:
        """Run one call and return its observation; every failure becomes an error observation."""
        tool = self.tools.get(call.name)
        if tool is None:
            return (
                f"ERROR: Unknown tool `{call.name}`. The available tools are: "
                + ", ".join(f"`{n}`" for n in self.tools)
                + "."
            )
        if call.error:
            return f"ERROR: Could not parse the arguments of `{call.name}`: {call.error}"
        try:
            tool.check(call.args)
            if tool.run is None:
                return "Submitted."
            return tool.run(call.args)
        except ToolError as exc:
            return f"ERROR: {exc}"


def make_toolset(
    profile: str, sandbox: SandboxLike, root: str = "/testbed", command_timeout: float = 300.0
) -> Toolset:
    return Toolset(profile, sandbox, root, command_timeout)
