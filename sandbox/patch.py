"""Unified diffs, in one place: parsing (unidiff), the test/source split, and applying by a named chain.

Parsing: `parse_patch` is the one call of `unidiff.PatchSet`; `file_patches` splits a patch into per-file
patches (exact text, binary hunks kept), `changed_paths`, `line_changes`, `added_lines` and
`changed_line_count` read what it changes; `is_test_path` / `split_tests` are the one rule of what a
test file is (SWE-bench splits a pull request into `patch` and `test_patch` the same way).

Applying: `apply_patch(run, patch, chain=...)` tries the chain's steps in order on anything that runs
shell commands (`CommandRunner`: a `DockerSandbox`, or `LocalTree` for a work tree on this host) and
returns which step applied it, or raises `PatchError` with every step's output. The chains (the table
is in docs/architecture.md, "Patches"):
- `HARNESS`: SWE-bench's evaluation, exactly as swebench 5.x runs it (`GIT_APPLY_CMDS`, a reset to a
  clean tree before each later command, then the "already applied" check): `bench eval`, `bench
  validate` and mining.
- `SANDBOX`: swescale's verification sandboxes: `git apply`, then `patch --fuzz` only after a dry run,
  so a failed step leaves no half-applied edit in a sandbox that is used on.
- `GIT`: plain `git apply`, and `git apply -R` with `reverse=True` (the agent's candidate capture).
- `INDEX`: `git apply --index` (the CI bot stages the patch to commit it).
"""

from __future__ import annotations

import codecs
import fnmatch
import io
import shlex
import subprocess
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from unidiff import PatchSet
from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchedFile  # re-exported: the type of a parsed patch's files

from sandbox.result import ExecResult, SandboxError

DEV_NULL = "/dev/null"
ANY_OWNER_GIT = "git -c safe.directory='*'"
"""git that works on a repository owned by another user (images the sandbox did not build)."""


class PatchError(SandboxError):
    """A patch could not be parsed, or no step of its chain applied it; `output` holds what each step said."""

    def __init__(self, message: str, output: str = "", attempts: tuple[Attempt, ...] = ()) -> None:
        super().__init__(f"{message}\n{output}" if output else message)
        self.output = output
        self.attempts = attempts


# -- parsing -------------------------------------------------------------------------------------------


def parse_patch(patch: str) -> PatchSet:
    """The patch as unidiff's PatchSet (a list of PatchedFile); PatchError when it is malformed."""
    try:
        return PatchSet(patch)
    except (UnidiffParseError, ValueError, IndexError) as exc:
        raise PatchError(f"malformed patch: {exc}") from exc


def _path(name: str) -> str | None:
    """A diff's file name as a path: None for /dev/null, git's C-style quoting undone, `a/`/`b/` dropped."""
    if name in (DEV_NULL, ""):
        return None
    if len(name) > 1 and name[0] == name[-1] == '"':
        name = codecs.escape_decode(name[1:-1].encode())[0].decode(errors="replace")
    return name[2:] if name[:2] in ("a/", "b/") else name


@dataclass(frozen=True)
class FilePatch:
    """One file's part of a patch."""

    text: str
    """Its exact text, header and binary data included (patches joined from these apply as the whole)."""
    old_path: str | None
    """The path before the patch; None for a file the patch adds."""
    new_path: str | None
    """The path after the patch; None for a file the patch removes."""
    binary: bool = False

    @property
    def path(self) -> str:
        """The new path, or the old one for a removed file."""
        return self.new_path or self.old_path or ""

    @property
    def added(self) -> bool:
        return self.old_path is None

    @property
    def removed(self) -> bool:
        return self.new_path is None

    @property
    def renamed(self) -> bool:
        return not (self.added or self.removed) and self.old_path != self.new_path


def _start(pfile: PatchedFile, lines: list[str]) -> int:
    """Index of the first line of `pfile` in the diff's lines (unidiff counts from 1)."""
    first = pfile.diff_line_no - 1
    info = len(pfile.patch_info or [])
    if lines[first].startswith("+++"):  # a plain diff: its `---` line and the header lines before it
        return max(first - 1 - info, 0)
    if lines[first].startswith("diff "):  # a git header opens the file
        return first
    return max(first - info + 1, 0)  # "Binary files ... differ" ends its header lines


def file_patches(patch: str) -> list[FilePatch]:
    """One FilePatch per file, in order (text before the first file is left out); PatchError if malformed."""
    files = parse_patch(patch)
    lines = io.StringIO(patch).readlines()  # split as unidiff splits
    starts = [_start(f, lines) for f in files]
    ends = [*starts[1:], len(lines)] if files else []
    out = []
    for pfile, start, end in zip(files, starts, ends, strict=True):
        old = None if pfile.is_added_file else _path(pfile.source_file)
        new = None if pfile.is_removed_file else _path(pfile.target_file)
        out.append(FilePatch("".join(lines[start:end]), old, new, pfile.is_binary_file))
    return out


def changed_paths(patch: str) -> list[str]:
    """Paths a patch changes (the new side; the old one for removals), in order, binary files included;
    empty for a patch unidiff cannot parse."""
    try:
        return [f.path for f in file_patches(patch) if f.path]
    except PatchError:
        return []


def changed_line_count(patch: str) -> int:
    """Added plus removed lines (0 for a patch unidiff cannot parse)."""
    try:
        return sum(f.added + f.removed for f in parse_patch(patch))
    except PatchError:
        return 0


def changed_lines(patch: str) -> set[tuple[str, str, str]]:
    """(path, `+` or `-`, text with whitespace collapsed) of every non-blank added and removed line; empty
    for a patch unidiff cannot parse. Two patches' sets compare what they change, wherever it lands."""
    try:
        files = parse_patch(patch)
    except PatchError:
        return set()
    return {
        (pfile.path, "+" if line.is_added else "-", text)
        for pfile in files
        for hunk in pfile
        for line in hunk
        if (line.is_added or line.is_removed) and (text := " ".join(line.value.split()))
    }


def added_lines(patch: str) -> list[str]:
    """The text of every added line, over all files (without the newline); PatchError if malformed."""
    return [
        line.value.rstrip("\n")
        for pfile in parse_patch(patch)
        for hunk in pfile
        for line in hunk
        if line.is_added
    ]


def _position(hunk, index: int) -> int:
    """Original line number at an added line: that of the nearest earlier original line in the hunk."""
    for line in reversed(list(hunk)[:index]):
        if line.source_line_no is not None:
            return line.source_line_no
    return max(hunk.source_start - 1, 0)


def line_changes(patch: str) -> dict[str, list[tuple[int, str, str]]]:
    """Old path -> [(original line number, '+'/'-', text)] of every changed line; PatchError if malformed.

    Added files are left out (the original has no line of them); removed files appear with line 0."""
    out: dict[str, list[tuple[int, str, str]]] = {}
    for pfile in parse_patch(patch):
        if pfile.is_added_file:
            continue
        path = pfile.source_file[2:] if pfile.source_file.startswith("a/") else pfile.path
        lines = out.setdefault(path, [])
        if pfile.is_removed_file:
            lines.append((0, "-", ""))
            continue
        for hunk in pfile:
            for index, line in enumerate(hunk):
                if line.is_removed:
                    lines.append((line.source_line_no, "-", line.value.rstrip("\n")))
                elif line.is_added:
                    lines.append((_position(hunk, index), "+", line.value.rstrip("\n")))
    return out


# -- test files ----------------------------------------------------------------------------------------

TEST_PATTERNS = (
    "test/**",
    "tests/**",
    "testing/**",
    "**/test/**",
    "**/tests/**",
    "**/testing/**",
    "**/test_*.py",
    "**/*_test.py",
    "**/conftest.py",
)
"""What a test file is: a file under a `test`, `tests` or `testing` folder, or a `test_*.py`, `*_test.py` or
`conftest.py` module (fnmatch globs, `**` = any folders, zero included)."""


def path_matches(path: str, patterns: Iterable[str]) -> bool:
    """Does `path` match one of the fnmatch globs (a leading `**/` also matches no folder at all)?"""
    return any(
        fnmatch.fnmatch(path, p) or (p.startswith("**/") and fnmatch.fnmatch(path, p[3:])) for p in patterns
    )


def is_test_path(path: str, patterns: Iterable[str] = TEST_PATTERNS) -> bool:
    """Is `path` a test file (TEST_PATTERNS, or the given globs)?"""
    return path_matches(path, patterns)


def split_tests(
    files: Iterable[FilePatch], patterns: Iterable[str] = TEST_PATTERNS
) -> tuple[list[FilePatch], list[FilePatch]]:
    """(the other files, the test files) of a patch's file patches (join each side's `text` for a patch)."""
    patterns = tuple(patterns)
    others: list[FilePatch] = []
    tests: list[FilePatch] = []
    for f in files:
        (tests if is_test_path(f.path, patterns) else others).append(f)
    return others, tests


# -- applying ------------------------------------------------------------------------------------------


class CommandResult(Protocol):
    exit_code: int
    output: str


class CommandRunner(Protocol):
    """Runs shell commands in a work tree and writes files: `DockerSandbox`, `LocalTree`."""

    def exec(self, cmd: str, timeout: float | None = ..., cwd: str | None = ...) -> CommandResult: ...

    def write_file(self, path: str, data: str | bytes, /) -> None: ...


class LocalTree:
    """A CommandRunner for a work tree on this host (`bash -c` in `root`, with `env` if given)."""

    def __init__(self, root: str | Path, env: dict[str, str] | None = None, timeout: float = 600) -> None:
        self.root, self.env, self.timeout = Path(root), env, timeout

    def exec(self, cmd: str, timeout: float | None = None, cwd: str | None = None) -> ExecResult:
        try:
            proc = subprocess.run(
                ["bash", "-c", cmd],
                cwd=self.root / (cwd or "."),
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=timeout or self.timeout,
            )
        except subprocess.TimeoutExpired as exc:
            output = (
                exc.output.decode(errors="replace") if isinstance(exc.output, bytes) else exc.output or ""
            )
            return ExecResult(124, output, timed_out=True)
        return ExecResult(proc.returncode, proc.stdout)

    def write_file(self, path: str, data: str | bytes, /) -> None:
        target = self.root / path  # an absolute path stays as it is
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.encode() if isinstance(data, str) else data)


@dataclass(frozen=True)
class Step:
    """One command of an apply chain. In `command`, `{git}` is the git to run, `{R}` is where `-R` goes
    when reversing (a step without it cannot reverse) and `{patch}` the patch file (appended if absent)."""

    name: str
    command: str
    why: str
    check: bool = False
    """A check, not an edit: it runs on the tree as the previous step left it (no reset), and success
    means the patch is in the tree already."""

    def label(self, git: str = "git", reverse: bool = False) -> str:
        """The command as logged (the patch file as PATCH where it is not simply appended)."""
        return self.command.format(git=git, R=" -R" if reverse else "", patch="PATCH")

    def shell(self, patch_file: str, git: str = "git", reverse: bool = False) -> str:
        if reverse and "{R}" not in self.command:
            raise ValueError(f"the apply step {self.name} cannot reverse a patch")
        path = shlex.quote(patch_file)
        command = self.command.format(git=git, R=" -R" if reverse else "", patch=path)
        return command if "{patch}" in self.command else f"{command} {path}"


@dataclass(frozen=True)
class Chain:
    """Apply steps tried in order until one succeeds."""

    name: str
    steps: tuple[Step, ...]
    reset: str = ""
    """Run before every step but the first (checks excepted): back to a clean tree."""
    end_with_newline: bool = True
    """Complete a last line without its newline (git refuses such a patch as corrupt); the harness
    applies the prediction as given."""


GIT_APPLY = Step("git-apply", "{git} apply --verbose{R}", "the patch as git made it: exact context, atomic")
GIT_APPLY_3WAY = Step(
    "git-apply-3way",
    "{git} apply --verbose --3way",
    "harness: a three-way merge with the blobs the diff's index lines name, when the context moved",
)
GIT_APPLY_REJECT = Step(
    "git-apply-reject",
    "{git} apply --verbose --reject",
    "harness: applies the hunks that fit and leaves .rej files (non-zero exit when a hunk is rejected)",
)
PATCH_FUZZ = Step(
    "patch-fuzz",
    "patch --batch --forward --fuzz=5 -p1 -i",
    "harness: GNU patch finds shifted context and tolerates 5 lines of fuzz (hand-edited diffs)",
)
ALREADY_APPLIED = Step(
    "already-applied",
    "{git} apply --check --reverse",
    "harness: the chain can leave the patch fully applied while each command exited non-zero",
    check=True,
)
PATCH_FUZZ_ATOMIC = Step(
    "patch-fuzz-atomic",
    "patch --batch --fuzz=5 -p1{R} --dry-run -i {patch} >/dev/null && "
    "patch --batch --fuzz=5 -p1{R} --no-backup-if-mismatch -i {patch}",
    "swescale: patch --fuzz as the harness, but only after a dry run succeeded and without .orig files, so a "
    "failure leaves nothing half-applied in a sandbox that is used on (no reset between steps)",
)
GIT_APPLY_INDEX = Step(
    "git-apply-index",
    "{git} apply --index --whitespace=nowarn{R}",
    "swescale (the CI bot): stages the patch, new files included, for the commit of a clean checkout",
)

HARNESS = Chain(
    "harness",
    (GIT_APPLY, GIT_APPLY_3WAY, GIT_APPLY_REJECT, PATCH_FUZZ, ALREADY_APPLIED),
    reset="{git} checkout -- . ; {git} clean -fdq",
    end_with_newline=False,
)
"""swebench 5.x's run_instance: GIT_APPLY_CMDS, a clean tree before each later one, the reverse check."""
SANDBOX = Chain("sandbox", (GIT_APPLY, PATCH_FUZZ_ATOMIC))
GIT = Chain("git", (GIT_APPLY,))
INDEX = Chain("index", (GIT_APPLY_INDEX,))


@dataclass(frozen=True)
class Attempt:
    """One step run on the patch."""

    step: str
    command: str
    """As logged (Step.label)."""
    exit_code: int
    output: str
    check: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass(frozen=True)
class Applied:
    """A patch applied: by which step, what it printed, and every attempt up to it."""

    step: str
    output: str
    attempts: tuple[Attempt, ...] = field(default=())


def _why_not(patch: str) -> str:
    """Why a patch no step applied may be malformed, or "" when unidiff reads it."""
    try:
        files = parse_patch(patch)
    except PatchError as exc:
        return f" ({exc})"
    return "" if files else " (no file diff found in it)"


def apply_patch(
    run: CommandRunner,
    patch: str,
    *,
    chain: Chain = SANDBOX,
    reverse: bool = False,
    cwd: str | None = None,
    timeout: float | None = None,
    patch_file: str = "",
    git: str = "git",
    on_attempt: Callable[[Attempt], None] | None = None,
) -> Applied:
    """Apply (with `reverse`: un-apply) a unified diff in `run`'s work tree (or `cwd`) by `chain`'s steps.

    The patch is written to `patch_file` (kept), else to a temporary file (removed). `git`: the git
    command (ANY_OWNER_GIT for a repository of another user); `on_attempt` sees each step's result as it
    comes. Returns the step that applied it; PatchError (every step's output) when none did, or for an
    empty patch."""
    if not patch.strip():
        raise PatchError("empty patch")
    if chain.end_with_newline and not patch.endswith("\n"):
        patch += "\n"
    path = patch_file or f"/tmp/.swescale_patch_{uuid.uuid4().hex}.diff"
    run.write_file(path, patch)
    attempts: list[Attempt] = []
    try:
        for index, step in enumerate(chain.steps):
            if index and chain.reset and not step.check:
                run.exec(chain.reset.format(git=git), timeout=timeout, cwd=cwd)
            res = run.exec(step.shell(path, git, reverse), timeout=timeout, cwd=cwd)
            attempt = Attempt(step.name, step.label(git, reverse), res.exit_code, res.output, step.check)
            attempts.append(attempt)
            if on_attempt is not None:
                on_attempt(attempt)
            if attempt.ok:
                return Applied(step.name, res.output, tuple(attempts))
    finally:
        if not patch_file:
            run.exec(f"rm -f {shlex.quote(path)}", timeout=timeout, cwd=cwd)
    output = "\n".join(f"$ {a.command}\n{a.output}" for a in attempts)
    raise PatchError(f"patch does not apply{_why_not(patch)}", output, tuple(attempts))


def is_applied(
    run: CommandRunner, patch: str, *, cwd: str | None = None, timeout: float | None = None, git: str = "git"
) -> bool:
    """Is the patch in the work tree already (it reverse-applies: the ALREADY_APPLIED check)?"""
    try:
        apply_patch(run, patch, chain=Chain("check", (ALREADY_APPLIED,)), cwd=cwd, timeout=timeout, git=git)
    except PatchError:
        return False
    return True
