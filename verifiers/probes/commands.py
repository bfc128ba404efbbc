"""The issue's command lines as probes (pure): `pylint test.py --notes="YES,???"` run on the files it writes.

Issues about a command-line tool (pylint, pytest, sphinx) report a command and the files it ran on, not a
Python session. Such an example becomes a probe when everything it needs is in the issue:
- **the command**: a line of a block that is not Python (a `$ ` prompt allowed), or inline code in the
  prose (unless a block's command starts with it), whose first word is the repository's own command: its
  package name, the package name and a hyphen (`sphinx-build`), or `python -m <package>`. Lines listing
  versions (`pytest   5.4.3`) and lines that need a shell (pipes, redirections, `;`, `&`, `$(`, backticks,
  variables) are skipped;
- **its files**: Python blocks (scripts, not sessions; untagged ones holding more than bare values) named
  by their first line (`# file: test_foo.py`, `# content of test_foo.py`, `# test_foo.py`) or by a
  `name.py` at the end of the prose just before them. A `.py` argument no block names takes the nearest
  unnamed Python block before the command; a command that names no `.py` file gets that block as
  `test_issue.py` (a name test runners collect), or the named blocks, or runs without files
  (`pylint -Q`). A command with an argument naming anything else (a name or a path, not an option, a
  number or a quoted text) is skipped: `pylint a` (a package the issue shows as a tree), `sphinx-build docs/ out`, `flask routes`;
  so is `pytest -k xxx`, whose option value cannot be told from an argument.
- **its expected output**: a block that is not code under a line saying "expected", after the command
  and before the next one, is checked line by line (`lines:` expectations, verifiers.probes.signals).

The probe's setup steps make a fresh temporary directory the working directory (the repository stays
importable: it leads PYTHONPATH, as in a checkout that is not installed) and write the files. Its one
step runs the command (argv split as a shell would, no shell; `python`, `python3` as the sandbox's
interpreter, whose bin directory comes first on PATH, so the repository's console scripts are found) and
prints the tail of what it wrote to stdout and stderr; its value is the exit status. It runs like any
probe: in the version's sandbox, under the probe timeout, without network.
"""

from __future__ import annotations

import ast
import re
import shlex
from dataclasses import dataclass

from verifiers.probes.blocks import PY_LANGS, Block
from verifiers.table import Probe, ProbeStep

OUTPUT_TAIL = 1500
"""Characters of the command's output the probe keeps (the end: summaries are printed last)."""
DEFAULT_FILE = "test_issue.py"
"""The name of the issue's file when the command names none."""
EXPECTED_LINES = "lines:"
"""Prefix of an expectation met when each of its lines is printed, in order (verifiers.probes.signals)."""

_SHELL = re.compile(r"[|;&<>`]|\$\(|\$\w")
_VERSION = re.compile(r"^v?\d+(\.\d+)+")
_FILE = r"[\w.-]+(?:/[\w.-]+)*\.py"
_NAMED_BY_COMMENT = re.compile(rf"^#\s*(?:file(?:name)?\s*:|contents?\s+of)?\s*({_FILE})\s*:?\s*$", re.I)
_NAMED_BY_PROSE = re.compile(rf"`?({_FILE})`?\s*[:.]?\s*$")
_NAME = re.compile(r"^[A-Za-z_.][\w.-]*(?:/[\w.-]*)*$")
"""An argument naming a file, folder, module or subcommand (not an option, a number or a quoted text)."""
_EXPECTED = re.compile(r"\bexpect", re.I)
_INLINE = re.compile(r"`([^`\n]+)`")
_PROMPT = re.compile(r"^\s*\$\s+")

FOLDER = "import os as _os, tempfile as _tempfile\n_repository = _os.getcwd()\n_os.chdir(_tempfile.mkdtemp())"
"""The probe's first step: a fresh working folder, the repository's path kept for PYTHONPATH."""
RUNNER = f"""def _command(line):
    import os, re, shlex, subprocess, sys
    argv = shlex.split(line)
    if re.match(r"python[0-9.]*$", argv[0]):
        argv[0] = sys.executable
    path = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    modules = os.pathsep.join(p for p in (_repository, os.environ.get("PYTHONPATH")) if p)
    done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, env=dict(os.environ, PATH=path, PYTHONPATH=modules))
    print(done.stdout[-{OUTPUT_TAIL}:])
    return done.returncode"""
"""The probe's helper (Python 3.6+, stdlib): runs a command line without a shell."""


@dataclass
class _Command:
    line: str
    block: int
    """Index of the block it was found in (-1: inline in the prose, after every block)."""
    args: list[str]
    """Its arguments, after the command itself (`_arguments`)."""


def _arguments(line: str, package: str) -> list[str] | None:
    """The arguments of a line that runs the repository's own command (after `pylint`, `sphinx-build` or
    `python -m <package>`); None for any other line, one that needs a shell, or a version listing."""
    if not package or _SHELL.search(line):
        return None
    try:
        words = shlex.split(line)
    except ValueError:
        return None
    if words[:1] and words[0].startswith("python") and words[1:2] == ["-m"] and words[2:3]:
        own, args = words[2] == package or words[2].startswith(package + "."), words[3:]
    elif words:
        own, args = words[0] == package or words[0].startswith(package + "-"), words[1:]
    else:
        return None
    return args if own and not (args[:1] and _VERSION.match(args[0])) else None


def _file_name(block: Block) -> str | None:
    """The name a Python block is given in the issue (its first line, or the prose just before it)."""
    first = block.text.strip().split("\n", 1)[0].strip()
    if match := _NAMED_BY_COMMENT.match(first):
        return match.group(1)
    before = next((line for line in reversed(block.before.split("\n")) if line.strip()), "")
    if match := _NAMED_BY_PROSE.search(before):
        return match.group(1)
    return None


def _is_python_file(block: Block) -> bool:
    lines = block.text.split("\n")
    if block.lang not in PY_LANGS or any(line.lstrip().startswith((">>>", "In [")) for line in lines):
        return False
    if _PROMPT.match(block.text) or not block.text.strip():
        return False
    try:
        tree = ast.parse(block.text)
    except (SyntaxError, ValueError):
        return False
    # an untagged block of bare values (`2.0`, `[1, 2]`) is output, not a file
    return bool(block.lang) or any(not isinstance(node, ast.Expr) for node in tree.body)


def _commands(found: list[Block], prose: str, package: str) -> list[_Command]:
    out = []
    for index, block in enumerate(found):
        if block.lang in PY_LANGS - {""}:
            continue
        for line in block.text.split("\n"):
            line = _PROMPT.sub("", line).strip()
            if (args := _arguments(line, package)) is not None:
                out.append(_Command(line, index, args))
    for code in _INLINE.findall(prose):  # not one a block gives in full (`pylint` before `pylint a.py`)
        args = _arguments(code.strip(), package)
        if args is not None and not any(c.line.startswith(code.strip()) for c in out):
            out.append(_Command(code.strip(), -1, args))
    return out


def _files_for(command: _Command, found: list[Block]) -> dict[str, str] | None:
    """The files the command runs on, from the issue's Python blocks; None when one it names is missing."""
    files = {i: b for i, b in enumerate(found) if _is_python_file(b)}
    named = {name: b.text for b in files.values() if (name := _file_name(b))}
    end = len(found) if command.block < 0 else command.block
    unnamed = [b.text for i, b in files.items() if i < end and _file_name(b) is None]
    wanted = [w for w in command.args if re.fullmatch(_FILE, w)]
    if any(_NAME.match(w) and w not in wanted for w in command.args):
        return None  # it names what the issue does not write out (`pylint a`, `docs/`, `flask routes`)
    out: dict[str, str] = {}
    for name in wanted:
        if name in named:
            out[name] = named[name]
        elif unnamed:
            out[name] = unnamed.pop()
        else:
            return None
    if not wanted:  # `pytest -rs`: the example's file; `pylint -Q`: none
        if unnamed:
            out[DEFAULT_FILE] = unnamed[-1]
        else:
            out.update(named)
    if any(name.startswith("/") or ".." in name.split("/") for name in out):
        return None
    return out


def _expected(command: _Command, found: list[Block], later_commands: list[int]) -> str | None:
    """A block that is not code under a line saying "expected", after the command and before the next."""
    start = len(found) if command.block < 0 else command.block + 1
    stop = min([i for i in later_commands if i > command.block] + [len(found)])
    for block in found[start:stop]:
        heading = next((line for line in reversed(block.before.split("\n")) if line.strip()), "")
        if _EXPECTED.search(heading) and not _is_python_file(block) and block.text.strip():
            return EXPECTED_LINES + "\n" + block.text.strip()
    return None


def _setup(files: dict[str, str]) -> list[ProbeStep]:
    steps = [
        ProbeStep(code=FOLDER, setup=True),
        ProbeStep(code=RUNNER, setup=True),
    ]
    for name, text in files.items():
        folder = name.rsplit("/", 1)[0] if "/" in name else ""
        make = f"_os.makedirs({folder!r}, exist_ok=True)\n" if folder else ""
        code = f"{make}with open({name!r}, 'w') as _file:\n    _file.write({text.strip(chr(10)) + chr(10)!r})"
        steps.append(ProbeStep(code=code, setup=True))
    return steps


def is_command(probe: Probe) -> bool:
    """Is `probe` one of the issue's commands (it sets up the runner of `command_probes`)?"""
    return any(step.setup and step.code == RUNNER for step in probe.steps)


def command_probes(found: list[Block], prose: str, package: str) -> list[Probe]:
    """The issue's commands that can run on the files it writes, as probes (in the issue's order)."""
    commands = _commands(found, prose, package)
    probes = []
    seen: set[str] = set()
    for command in commands:
        files = _files_for(command, found)
        if files is None or command.line in seen:
            continue
        seen.add(command.line)
        expected = _expected(command, found, [c.block for c in commands])
        where = "inline command" if command.block < 0 else f"command in block {command.block + 1}"
        run = ProbeStep(code=f"_command({command.line!r})", expected=expected)
        probe = Probe(probe_id="", source=where, steps=[*_setup(files), run])
        probe.probe_id = f"probe:{probe.probe_hash[:12]}"
        probes.append(probe)
    return probes
