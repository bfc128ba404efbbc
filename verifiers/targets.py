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
import shlex
from dataclasses import dataclass, field
from typing import TypeVar

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


def function_name(test_id: str) -> str:
    """The test function's name in a log parser's test id (pytest node id, sympy name, Django `name (Class)`)."""
    return test_id.split("::")[-1].split("[")[0].split(" (")[0].strip()


def file_tests(recorded: dict[str, V], file: str) -> dict[str, V]:
    """The recorder's `func:<file>::<test function>` entries of one file, by test function name."""
    prefix = f"func:{file}::"
    return {k[len(prefix) :]: v for k, v in recorded.items() if k.startswith(prefix)}


def selected_ids(passing: list[str], file: str, hits: dict[str, list[int]], wanted: set[int]) -> set[str]:
    """Test ids of `file` (as the log parser names them) that called a wanted function in the original run.

    `hits` maps tracer keys (`node:<pytest node id>`, `func:<file>::<function>`) to function indices."""
    nodes = {k[5:] for k, v in hits.items() if k.startswith("node:") and wanted.intersection(v)}
    funcs = {name for name, v in file_tests(hits, file).items() if wanted.intersection(v)}
    return {t for t in passing if t in nodes or function_name(t) in funcs}


def runner(test_cmd: str) -> str:
    """`pytest`, `sympy`, `django`, `unittest` or `other` (no way known to run single tests)."""
    if "bin/test" in test_cmd:
        return "sympy"
    if "runtests.py" in test_cmd:
        return "django"
    if "unittest" in test_cmd:
        return "unittest"
    if "pytest" in test_cmd or ("tox" in test_cmd and " -- " in f"{test_cmd} "):
        return "pytest"
    return "other"


def subset_command(test_cmd: str, file: str, ids: set[str]) -> str | None:
    """`test_cmd` running only `ids` of `file`, or None when the runner cannot select single tests."""
    return subset_command_many(test_cmd, [(file, ids)])


def subset_command_many(test_cmd: str, parts: list[tuple[str, set[str]]]) -> str | None:
    """One `test_cmd` process running only the given ids of each file (None: the runner cannot)."""
    kind = runner(test_cmd)
    if kind == "pytest":
        nodes = []
        for file, ids in parts:
            mine = sorted({t.split("[")[0] for t in ids if t.startswith(f"{file}::")})
            if len(mine) != len({t.split("[")[0] for t in ids}):
                return None  # ids that are not node ids of this file
            nodes += mine
        return f"{test_cmd} " + " ".join(shlex.quote(n) for n in nodes)
    if kind == "sympy":
        files = [shlex.quote(file) for file, _ in parts]
        names = sorted({function_name(t) for _, ids in parts for t in ids})
        return f"{test_cmd} {' '.join(files)} -k " + " ".join(shlex.quote(n) for n in names)
    if kind in ("django", "unittest"):
        labels = []
        for _, ids in parts:
            for test in sorted(ids):
                match = re.match(r"^(\w+) \(([\w.]+)\)", test.split("::")[-1])
                if not match:
                    return None
                name, where = match.group(1), match.group(2)
                labels.append(where if where.endswith(f".{name}") else f"{where}.{name}")
        return f"{test_cmd} " + " ".join(shlex.quote(label) for label in labels)
    return None


def process_groups(
    kind: str,
    parts: list[tuple[str, set[str]]],
    names: dict[str, set[str]],
    costs: list[float] | None = None,
    budget: float | None = None,
) -> list[list[int]]:
    """Indices of `parts` grouped into as few processes as their test names and the time budget allow.

    sympy's parser names tests by function only, so one process must not run two files that share a test
    name (`names`: every test name known in each file); other runners' ids name the file or class. A
    process also holds no more than `budget` seconds of its parts' `costs` (their timeouts), because its
    own timeout stops at that cap: a part that needs the whole budget runs alone. First fit, in the given
    order."""
    groups: list[tuple[list[int], set[str]]] = []
    spent: list[float] = []  # per group: the sum of its parts' costs
    for at, (file, _) in enumerate(parts):
        mine = names.get(file, set()) if kind == "sympy" else set()
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


def in_process(test_cmd: str) -> str:
    """sympy's `bin/test` starts a second interpreter only to randomize hashing (with a random
    PYTHONHASHSEED; none when the variable is set), which Python 3 does by itself: run the tests in
    bin/test's own process, one interpreter start and one sympy import less per run."""
    if runner(test_cmd) != "sympy" or "--no-subprocess" in test_cmd:
        return test_cmd
    return test_cmd.replace("bin/test", "bin/test --no-subprocess", 1)
