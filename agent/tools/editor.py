"""SWE-agent's `str_replace_editor` (OpenHands' and R2E-Gym's `file_editor`), running against a sandbox.

Files are read and written through the sandbox; the undo history is kept host-side, per trajectory.
"""

from __future__ import annotations

import posixpath
import shlex
from typing import Any

from agent.tools.base import SandboxLike, ToolError

SNIPPET_LINES = 4
COMMANDS = ("view", "create", "str_replace", "insert", "undo_edit")


def cat_n(text: str, start: int = 1) -> str:
    """`cat -n` style numbering."""
    return "\n".join(f"{i:6}\t{line}" for i, line in enumerate(text.split("\n"), start))


class Editor:
    """View, create and edit files in the sandbox, with undo."""

    def __init__(self, sandbox: SandboxLike, root: str = "/testbed"):
        self.sandbox = sandbox
        self.root = root
        self.history: dict[str, list[str | None]] = {}
        """Earlier contents per path (None = the file did not exist)."""

    # -- sandbox access ---------------------------------------------------------------------------------

    def _kind(self, path: str) -> str:
        q = shlex.quote(path)
        r = self.sandbox.exec(
            f"if [ -d {q} ]; then echo dir; elif [ -f {q} ]; then echo file; "
            f"elif [ -e {q} ]; then echo other; else echo none; fi",
            timeout=30,
        )
        return r.output.strip().splitlines()[-1] if r.output.strip() else "none"

    def _read(self, path: str) -> str:
        try:
            data = self.sandbox.read_bytes(path)
        except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
            raise ToolError(f"Could not read {path}: {exc}") from exc
        try:
            return data.decode()
        except UnicodeDecodeError as exc:
            raise ToolError(f"{path} is not a UTF-8 text file; use bash to inspect it.") from exc

    def _write(self, path: str, text: str) -> None:
        self.sandbox.write_file(path, text)  # parent folders are created

    def resolve(self, path: Any) -> str:
        if not isinstance(path, str) or not path.strip():
            raise ToolError("Parameter `path` is required and must be a non-empty string.")
        path = path.strip()
        if not path.startswith("/"):
            path = posixpath.join(self.root, path)
        return posixpath.normpath(path)

    # -- commands -------------------------------------------------------------------------------------------

    def run(self, args: dict[str, Any]) -> str:
        command = args.get("command")
        if command not in COMMANDS:
            raise ToolError(
                f"Unrecognized command {command!r}. The allowed commands for the editor are: "
                + ", ".join(COMMANDS)
                + "."
            )
        path = self.resolve(args.get("path"))
        kind = self._kind(path)
        if command == "create":
            if kind != "none":
                raise ToolError(
                    f"File already exists at: {path}. Cannot overwrite files using command `create`."
                )
            if not isinstance(args.get("file_text"), str):
                raise ToolError("Parameter `file_text` is required for command: create.")
            return self.create(path, args["file_text"])
        if kind == "none":
            raise ToolError(f"The path {path} does not exist. Please provide a valid path.")
        if kind == "dir" and command != "view":
            raise ToolError(
                f"The path {path} is a directory and only the `view` command can be used on directories."
            )
        if command == "view":
            return self.view_dir(path) if kind == "dir" else self.view(path, args.get("view_range"))
        if command == "str_replace":
            if not isinstance(args.get("old_str"), str):
                raise ToolError("Parameter `old_str` is required for command: str_replace.")
            new_str = args.get("new_str")
            return self.str_replace(path, args["old_str"], new_str if isinstance(new_str, str) else "")
        if command == "insert":
            if args.get("insert_line") is None:
                raise ToolError("Parameter `insert_line` is required for command: insert.")
            if not isinstance(args.get("new_str"), str):
                raise ToolError("Parameter `new_str` is required for command: insert.")
            return self.insert(path, args["insert_line"], args["new_str"])
        return self.undo(path)

    def view_dir(self, path: str) -> str:
        q = shlex.quote(path)
        r = self.sandbox.exec(
            f"find {q} -maxdepth 2 -not -path '*/.*' -not -name '__pycache__' "
            f"-not -path '*/__pycache__/*' | sort",
            timeout=60,
        )
        return f"Here's the files and directories up to 2 levels deep in {path}, excluding hidden items:\n{r.output}"

    def view(self, path: str, view_range: Any = None) -> str:
        text = self._read(path).expandtabs()
        lines = text.split("\n")
        start = 1
        if view_range is not None:
            if (
                not isinstance(view_range, list)
                or len(view_range) != 2
                or not all(isinstance(v, int) for v in view_range)
            ):
                raise ToolError("Invalid `view_range`. It should be a list of two integers.")
            first, last = view_range
            if not 1 <= first <= len(lines):
                raise ToolError(
                    f"Invalid `view_range`: {view_range}. Its first element `{first}` should be "
                    f"within the range of lines of the file: [1, {len(lines)}]."
                )
            if last != -1 and not first <= last <= len(lines):
                raise ToolError(
                    f"Invalid `view_range`: {view_range}. Its second element `{last}` should be -1 or "
                    f"between {first} and the number of lines of the file ({len(lines)})."
                )
            lines = lines[first - 1 :] if last == -1 else lines[first - 1 : last]
            start = first
        return f"Here's the result of running `cat -n` on {path}:\n{cat_n(chr(10).join(lines), start)}\n"

    def create(self, path: str, text: str) -> str:
        self._write(path, text)
        self.history.setdefault(path, []).append(None)
        return f"File created successfully at: {path}"

    def str_replace(self, path: str, old: str, new: str) -> str:
        original = self._read(path)
        text = original.expandtabs()
        old, new = old.expandtabs(), new.expandtabs()
        if not old:
            raise ToolError("Parameter `old_str` must not be empty; use `insert` or `create` to add text.")
        count = text.count(old)
        if count == 0:
            raise ToolError(
                f"No replacement was performed, old_str `{old}` did not appear verbatim in {path}."
            )
        if count > 1:
            lines, pos = [], text.find(old)
            while pos != -1:
                lines.append(text.count("\n", 0, pos) + 1)
                pos = text.find(old, pos + 1)
            raise ToolError(
                f"No replacement was performed. Multiple occurrences of old_str `{old}` in lines "
                f"{lines}. Please ensure it is unique."
            )
        self.history.setdefault(path, []).append(original)
        new_text = text.replace(old, new)
        self._write(path, new_text)
        line = text.split(old)[0].count("\n")
        first = max(0, line - SNIPPET_LINES)
        last = line + SNIPPET_LINES + new.count("\n")
        snippet = "\n".join(new_text.split("\n")[first : last + 1])
        return (
            f"The file {path} has been edited. Here's the result of running `cat -n` on a snippet of {path}:\n"
            f"{cat_n(snippet, first + 1)}\nReview the changes and make sure they are as expected. "
            "Edit the file again if necessary."
        )

    def insert(self, path: str, insert_line: Any, new: str) -> str:
        original = self._read(path)
        lines = original.expandtabs().split("\n")
        try:
            insert_line = int(insert_line)
        except (TypeError, ValueError):
            raise ToolError(
                f"Invalid `insert_line` parameter: {insert_line!r}. It should be an integer."
            ) from None
        if not 0 <= insert_line <= len(lines):
            raise ToolError(
                f"Invalid `insert_line` parameter: {insert_line}. It should be within the range of "
                f"lines of the file: [0, {len(lines)}]"
            )
        new_lines = new.expandtabs().split("\n")
        result = lines[:insert_line] + new_lines + lines[insert_line:]
        self.history.setdefault(path, []).append(original)
        self._write(path, "\n".join(result))
        first = max(0, insert_line - SNIPPET_LINES)
        snippet = "\n".join(result[first : insert_line + len(new_lines) + SNIPPET_LINES])
        return (
            f"The file {path} has been edited. Here's the result of running `cat -n` on a snippet of the "
            f"edited file:\n{cat_n(snippet, first + 1)}\nReview the changes and make sure they are as expected "
            "(correct indentation, no duplicate lines, etc). Edit the file again if necessary."
        )

    def undo(self, path: str) -> str:
        stack = self.history.get(path)
        if not stack:
            raise ToolError(f"No edit history found for {path}.")
        previous = stack.pop()
        if previous is None:
            self.sandbox.exec(f"rm -f {shlex.quote(path)}", timeout=30)
            return f"Undid the creation of {path}; the file is removed."
        self._write(path, previous)
        return f"Last edit to {path} undone successfully. {self.view(path)}"
