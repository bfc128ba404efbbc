"""Tool profiles: the tools one trajectory offers the model, bound to its sandbox.

- `default` (SWE-agent): `bash` {command}, `str_replace_editor`, `submit` {}
- `openhands` (OpenHands CodeAct): `execute_bash` {command, is_input?, timeout?}, `str_replace_editor`,
  `finish` {message?}
- `r2egym` (R2E-Gym): `execute_bash` {cmd}, `file_editor` (+ `concise`, ignored), `search`
  {search_term, path?}, `finish` {command: submit, result?}
"""

from __future__ import annotations

import shlex
from typing import Any

from agent.parsing import ToolCall
from agent.tools.base import SandboxLike, Tool, ToolError
from agent.tools.editor import Editor

__all__ = ["PROFILES", "Tool", "ToolError", "Toolset", "make_toolset"]

PROFILES = ("default", "openhands", "r2egym")

EDITOR_DESCRIPTION = """Custom editing tool for viewing, creating and editing files
* State is persistent across command calls and discussions with the user
* If `path` is a file, `view` displays the result of applying `cat -n`. If `path` is a directory, `view` lists non-hidden files and directories up to 2 levels deep
* The `create` command cannot be used if the specified `path` already exists as a file
* If a `command` generates a long output, it will be truncated and marked with `<response clipped>`
* The `undo_edit` command will revert the last edit made to the file at `path`

Notes for using the `str_replace` command:
* The `old_str` parameter should match EXACTLY one or more consecutive lines from the original file. Be mindful of whitespaces!
* If the `old_str` parameter is not unique in the file, the replacement will not be performed. Make sure to include enough context in `old_str` to make it unique
* The `new_str` parameter should contain the edited lines that should replace the `old_str`"""


def editor_parameters(concise: bool = False) -> dict:
    props: dict[str, Any] = {
        "command": {
            "type": "string",
            "enum": ["view", "create", "str_replace", "insert", "undo_edit"],
            "description": "The commands to run. Allowed options are: `view`, `create`, `str_replace`, "
            "`insert`, `undo_edit`.",
        },
        "path": {
            "type": "string",
            "description": "Absolute path to file or directory, e.g. `/testbed/file.py` or `/testbed`.",
        },
        "file_text": {
            "type": "string",
            "description": "Required parameter of `create` command, with the content of the file to be "
            "created.",
        },
        "old_str": {
            "type": "string",
            "description": "Required parameter of `str_replace` command containing the string in `path` "
            "to replace.",
        },
        "new_str": {
            "type": "string",
            "description": "Optional parameter of `str_replace` command containing the new string (if not "
            "given, no string will be added). Required parameter of `insert` command "
            "containing the string to insert.",
        },
        "insert_line": {
            "type": "integer",
            "description": "Required parameter of `insert` command. The `new_str` will be inserted AFTER "
            "the line `insert_line` of `path`.",
        },
        "view_range": {
            "type": "array",
            "items": {"type": "integer"},
            "description": "Optional parameter of `view` command when `path` points to a file. If none is "
            "given, the full file is shown. If provided, the file will be shown in the "
            "indicated line number range, e.g. [11, 12] will show lines 11 and 12. "
            "Indexing at 1 to start. Setting `[start_line, -1]` shows all lines from "
            "`start_line` to the end of the file.",
        },
    }
    if concise:
        props["concise"] = {
            "type": "boolean",
            "description": "Optional; accepted for compatibility, ignored.",
        }
    return {"type": "object", "properties": props, "required": ["command", "path"]}


BASH_DESCRIPTION = (
    "Run a bash command in the sandbox (working directory /testbed). Each call is a fresh shell: "
    "state such as `cd` or exported variables does not persist. Do not run interactive commands; "
    "long outputs are cut in the middle."
)


class Toolset:
    """The tools of one profile, bound to one sandbox (the editor's undo history lives here)."""

    def __init__(
        self, profile: str, sandbox: SandboxLike, root: str = "/testbed", command_timeout: float = 300.0
    ):
        if profile not in PROFILES:
            raise ValueError(f"unknown tool profile {profile!r}; choose one of {PROFILES}")
        self.profile = profile
        self.sandbox = sandbox
        self.root = root
        self.command_timeout = command_timeout
        self.editor = Editor(sandbox, root)
        self.tools: dict[str, Tool] = {t.name: t for t in self._build()}

    @property
    def submit_name(self) -> str:
        return "submit" if self.profile == "default" else "finish"

    def schemas(self) -> list[dict]:
        return [t.schema() for t in self.tools.values()]

    def _build(self) -> list[Tool]:
        editor_run = self.editor.run
        if self.profile == "default":
            return [
                Tool(
                    "bash",
                    BASH_DESCRIPTION,
                    {
                        "type": "object",
                        "properties": {
                            "command": {"type": "string", "description": "The bash command to run."}
                        },
                        "required": ["command"],
                    },
                    lambda a: self.bash(a["command"]),
                ),
                Tool("str_replace_editor", EDITOR_DESCRIPTION, editor_parameters(), editor_run),
                Tool(
                    "submit",
                    "Submit the current changes to the repository as the solution. Call it once the "
                    "issue is fixed and verified.",
                    {"type": "object", "properties": {}, "required": []},
                ),
            ]
        if self.profile == "openhands":
            return [
                Tool(
                    "execute_bash",
                    BASH_DESCRIPTION + " Commands that may run long should get a `timeout`.",
                    {
                        "type": "object",
                        "properties": {
                            "command": {"type": "string", "description": "The bash command to execute."},
                            "is_input": {
                                "type": "string",
                                "enum": ["true", "false"],
                                "description": "Accepted for compatibility; interactive input is not "
                                "supported.",
                            },
                            "timeout": {"type": "number", "description": "Optional timeout in seconds."},
                        },
                        "required": ["command"],
                    },
                    lambda a: self.bash(a["command"], a.get("timeout")),
                ),
                Tool("str_replace_editor", EDITOR_DESCRIPTION, editor_parameters(), editor_run),
                Tool(
                    "finish",
                    "Finish the interaction when the task is complete: the current changes to the "
                    "repository are the solution.",
                    {
                        "type": "object",
                        "properties": {
                            "message": {"type": "string", "description": "Final message to the user."}
                        },
                        "required": [],
                    },
                ),
            ]
        return [
            Tool(
                "execute_bash",
                BASH_DESCRIPTION,
                {
                    "type": "object",
                    "properties": {
                        "cmd": {
                            "type": "string",
                            "description": "The command (and optional arguments) to execute.",
                        }
                    },
                    "required": ["cmd"],
                },
                lambda a: self.bash(a["cmd"]),
            ),
            Tool("file_editor", EDITOR_DESCRIPTION, editor_parameters(concise=True), editor_run),
            Tool(
                "search",
                "Search for a term in a directory (lists matching files) or in a file (lists matching "
                "lines with numbers). Hidden directories are skipped.",
                {
                    "type": "object",
                    "properties": {
                        "search_term": {"type": "string", "description": "The term to search for."},
                        "path": {
                            "type": "string",
                            "description": "File or directory to search in (default /testbed).",
                        },
                    },
                    "required": ["search_term"],
                },
                lambda a: self.search(a["search_term"], a.get("path")),
            ),
            Tool(
                "finish",
                "Finish the task: the current changes to the repository are the solution.",
                {
                    "type": "object",
                    "properties": {
                        "command": {"type": "string", "enum": ["submit"], "description": "Must be `submit`."},
                        "result": {"type": "string", "description": "Optional final result or summary."},
                    },
                    "required": [],
                },
            ),
        ]

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
