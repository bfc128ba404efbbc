"""Which regression tests exercise a candidate's change, and how to run only those (pure functions).

A candidate's changed lines (in the original file's numbering) map to the functions that contain them
(spans from the original's AST, recorded in the sandbox by calltrace_box.py). A change outside every
function (module or class level) targets the whole file: every test that called any function of it.
Added or removed import lines, comments, blank lines and new top-level functions or classes target
nothing by themselves (they act only through changed code that calls them, which is a target); they
run at import, though, so the sandbox checks that such a module still imports (regression.loads).
A change to a file that is neither Python source nor documentation targets every test.

The recorded calls of the original run say which tests called which functions; a test is selected for
a candidate when it called one of the candidate's targets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TypeVar

from envs.runners import function_name
from sandbox.patch import PatchError, line_changes

DOC_SUFFIXES = (".rst", ".md", ".txt", ".html", ".css", ".png", ".svg", ".cfg.sample")
_IMPORTISH = re.compile(r"^\s*(import\s|from\s+\S+\s+import\b|#|$)")
_NEW_DEF = re.compile(r"^(def |async def |class |@)")
V = TypeVar("V")


@dataclass
class Targets:
    """What one candidate's change can affect."""

    functions: dict[str, set[int]] = field(default_factory=dict)
    """File -> original line numbers of changed lines inside functions."""
    whole_files: set[str] = field(default_factory=set)
    """Files changed outside any function: every function of the file is a target."""
    everything: bool = False
    """A change whose reach is unknown (e.g. a configuration file): run every regression test."""
    edited_tests: set[str] = field(default_factory=set)
    """Regression test files the candidate edits itself: run whole."""
    load_time: set[str] = field(default_factory=set)
    """Python files changed outside function bodies (imports, module or class level, new definitions):
    code that runs when the module is imported, so a failure there breaks every test importing it."""


def _is_doc(path: str) -> bool:
    parts = path.lower().split("/")
    return path.lower().endswith(DOC_SUFFIXES) or parts[0] in ("doc", "docs", "changelog", "changes")


def _inside(spans: list, line: int, text: str, sign: str) -> bool:
    for _, first, last, col in spans:
        if first <= line <= last:
            indent = len(text) - len(text.lstrip())
            # an added line right after a function's last line belongs to it only when indented deeper
            if sign == "+" and line == last and text.strip() and indent <= col:
                continue
            return True
    return False


def targets_of(patch: str, spans: dict[str, dict | None], test_files: list[str]) -> Targets:
    """The targets of a candidate patch; `spans` from calltrace_box.py for the touched source files."""
    result = Targets()
    try:
        changed = line_changes(patch)
    except PatchError:
        result.everything = True
        return result
    for path, lines in changed.items():
        if path in test_files:
            result.edited_tests.add(path)
            continue
        if not path.endswith(".py"):
            if not _is_doc(path):
                result.everything = True
            continue
        info = spans.get(path)
        if info is None or any(n == 0 for n, _, _ in lines):  # unknown structure, or the file is removed
            result.whole_files.add(path)
            result.load_time.add(path)
            continue
        functions, imports = info["functions"], info["imports"]
        in_new_def = False  # inside an added top-level def/class block
        for number, sign, text in lines:
            if not text.strip() or text.strip().startswith("#"):
                continue
            inside = _inside(functions, number, text, sign)
            if not inside:
                result.load_time.add(path)
            if sign == "+" and _NEW_DEF.match(text):
                in_new_def = True
                continue
            if sign == "-" or not text[:1].isspace():
                in_new_def = False
            elif in_new_def:
                continue
            if inside:
                result.functions.setdefault(path, set()).add(number)
            elif _IMPORTISH.match(text) or any(a <= number <= b for a, b in imports):
                continue
            else:
                result.whole_files.add(path)
    return result


def target_functions(targets: Targets, functions: list[list], spans: dict[str, dict | None]) -> set[int]:
    """Indices (into the tracer's function list [file, first line, last line]) of targeted functions."""
    out = set()
    for index, (path, first, last) in enumerate(functions):
        if path in targets.whole_files:
            out.add(index)
            continue
        lines = targets.functions.get(path)
        if not lines:
            continue
        # the AST's span of the function that starts at `first` (the tracer's last line can be shorter)
        info = spans.get(path) or {"functions": []}
        end = max([last] + [b for _, a, b, _ in info["functions"] if a == first])
        if any(first <= n <= end for n in lines):
            out.add(index)
    return out


def file_tests(recorded: dict[str, V], file: str) -> dict[str, V]:
    """The recorder's `func:<file>::<test function>` entries of one file, by test function name."""
    prefix = f"func:{file}::"
    return {k[len(prefix) :]: v for k, v in recorded.items() if k.startswith(prefix)}


def selected_ids(passing: list[str], file: str, hits: dict[str, list[int]], wanted: set[int]) -> set[str]:
    """Test ids of `file` (as the log parser names them) that called a wanted function in the original run.

    `hits` maps tracer keys (`node:<node id>`, `func:<file>::<function>`) to function indices."""
    nodes = {k[5:] for k, v in hits.items() if k.startswith("node:") and wanted.intersection(v)}
    funcs = {name for name, v in file_tests(hits, file).items() if wanted.intersection(v)}
    return {t for t in passing if t in nodes or function_name(t) in funcs}


def process_groups(
    parts: list[tuple[str, set[str]]],
    names: dict[str, set[str]],
    costs: list[float] | None = None,
    budget: float | None = None,
) -> list[list[int]]:
    """Indices of `parts` grouped into as few processes as their test names and the time budget allow.

    One process must not run two files that share a test name in `names` (given for a runner whose log
    parser names tests by function only: every test name known in each file). A process also holds no
    more than `budget` seconds of its parts' `costs` (their timeouts), because its own timeout stops at
    that cap: a part that needs the whole budget runs alone. First fit, in the given order."""
    groups: list[tuple[list[int], set[str]]] = []
    spent: list[float] = []  # per group: the sum of its parts' costs
    for at, (file, _) in enumerate(parts):
        mine = names.get(file, set())
        cost = costs[at] if costs is not None else 0.0
        for number, (members, taken) in enumerate(groups):
            if not mine & taken and (budget is None or spent[number] + cost <= budget):
                members.append(at)
                taken.update(mine)
                spent[number] += cost
                break
        else:
            groups.append(([at], set(mine)))
            spent.append(cost)
    return [members for members, _ in groups]
