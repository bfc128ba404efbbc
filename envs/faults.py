"""Environment faults: when an evaluation cannot have measured the patch, the instance is an error with its
reason, never `unresolved`.

Verdicts stay swebench's (its log parsers and grading); this module only decides, for a run that did not
resolve, whether its log shows a measurement at all. It adds precision to swebench's advisory classifier
(`swebench.harness.infra_failure`, whose environment-tier signatures it reuses): a missing module is an
environment fault only when the module is not part of the repository and the patch does not import it, and
a listed test is an environment casualty only when its own failure message says so. A patch that breaks
collection of its own code (a syntax error, an import of a name it removed) stays `unresolved`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass

from envs.internet import SERVED_HOSTS
from envs.runners import runner_modules
from envs.task import Task
from sandbox.patch import PatchError, added_lines, changed_paths

START, END = ">>>>> Start Test Output", ">>>>> End Test Output"
TEST_EXIT = re.compile(r">>>>> Test Exit Code:\s*(-?\d+)")
KINDS = {
    "build": "the environment image could not be built",
    "no-start": "the evaluation script stopped before the test command",
    "test-patch": "the test patch did not apply",
    "test-command": "the test command did not start",
    "test-runner": "the interpreter lacks the test runner",
    "dependency": "an import of a dependency failed before the listed tests ran",
    "environment": "listed tests failed for a reason outside the code (network, memory, display)",
    "no-tests": "none of the listed tests appears in the log",
    "timeout": "the tests did not finish in time",
    "verdict-mismatch": "the log, the test command's exit status and swescale's result channel disagree",
    "internal": "the evaluation itself failed",
}
RUNNERS = runner_modules()
_MISSING_MODULE = re.compile(r"No module named '?([\w.]+)'?")
_MISSING_NAME = re.compile(r"cannot import name '?(\w+)'? from '?([\w.]+)'? \(([^)]+)\)")
_INTERPRETER_LACKS = re.compile(r"^(\S*python[\d.]*): No module named '?([\w.]+)'?", re.M)
_NOT_STARTED = re.compile(
    r"^\S+: line \d+: (\S+): (command not found|No such file or directory|Permission denied)", re.M
)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_HEADER = re.compile(r"^_+ (\S+) _+$", re.M)  # long names get single underscores
_NETWORK = re.compile(
    r"Temporary failure in name resolution|Name or service not known|Network is unreachable|"
    r"No route to host|Could not resolve host|nodename nor servname|\[Errno -[23]\]|\[Errno 101\]"
)
_NO_TLS = "SSL: WRONG_VERSION_NUMBER"  # an https:// request to a port the sandbox serves over HTTP
_SUMMARY = re.compile(r"^(FAILED|ERROR) (\S+)(?: - (.*))?$", re.M)
_CODE_FAILED = (
    "ERROR collecting",
    "ImportError while importing test module",
    "ImportError while loading conftest",
    "SyntaxError",
    "IndentationError",
    "Failed to import",
)
_SKIP_LINE = re.compile(r"^SKIPPED|\bSKIP\b|could not import|[Ss]kipp(ed|ing)")
_IMPORTED = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import|import\s+([\w., ]+))")


@dataclass(frozen=True)
class Fault:
    """Why an evaluation measured nothing about the patch."""

    kind: str
    """One of KINDS."""
    reason: str
    """What happened, with the evidence (a log line, a step name)."""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.kind}: {self.reason}"


def _patch_imports(patch: str) -> set[str]:
    """Top-level modules the patch's added lines import."""
    try:
        lines = added_lines(patch or "")
    except PatchError:
        return set()
    out: set[str] = set()
    for match in filter(None, map(_IMPORTED.match, lines)):
        names = [match.group(1)] if match.group(1) else match.group(2).split(",")
        out |= {n.strip().split(" ")[0].split(".")[0] for n in names if n.strip()}
    return out


def _patched_files(patch: str) -> set[str]:
    return set(changed_paths(patch or ""))


def _section(log: str) -> str:
    section = log.split(START, 1)[1].split(END, 1)[0] if START in log else ""
    return _ANSI.sub("", section)


def _last_lines(text: str, count: int = 5) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-count:])[-600:]


def _test_patch_failed(log: str, task: Task, patch: str) -> str | None:
    """The error git printed when the test patch did not apply, unless the patch touched those files."""
    before = log.split(START, 1)[0]
    if "git apply -v -" not in before:
        return None
    applying = before.rsplit("git apply -v -", 1)[1]
    errors = [line for line in applying.splitlines() if line.startswith("error:")]
    if not errors or _patched_files(patch) & _patched_files(task.test_patch):
        return None
    return errors[0]


def _missing_dependency(
    text: str, workdir: str, patch: str, in_repo: Callable[[str], bool]
) -> tuple[str, str] | None:
    """(module, evidence) of an import that failed on something outside the repository, else None."""
    imported = _patch_imports(patch)
    # skip reasons (pytest.importorskip, optional dependencies) are expected in any environment
    text = "\n".join(line for line in text.splitlines() if not _SKIP_LINE.search(line))
    for match in _MISSING_MODULE.finditer(text):
        top = match.group(1).split(".")[0]
        if top not in imported and not in_repo(top):
            return match.group(1), match.group(0)
    for match in _MISSING_NAME.finditer(text):
        top = match.group(2).split(".")[0]
        if not match.group(3).startswith(workdir) and top not in imported and not in_repo(top):
            return match.group(2), match.group(0)
    return None


def _environment_signature(message: str) -> str | None:
    """swebench's environment-tier reason for a failure message (never its ambiguous tier)."""
    from swebench.harness.infra_failure import TIER_ENVIRONMENT, classify_text

    found = classify_text(message)
    return found[0] if found and found[1] == TIER_ENVIRONMENT else None


def _failure_blocks(section: str) -> dict[str, str]:
    """pytest's failure sections (`____ Class.test_x ____` up to the next header), by header name."""
    blocks: dict[str, str] = {}
    parts = _HEADER.split(section)
    for name, body in zip(parts[1::2], parts[2::2], strict=False):
        blocks[name.strip()] = body.split("\n=====", 1)[0]
    return blocks


def _environment_cause(text: str, workdir: str, patch: str, in_repo: Callable[[str], bool]) -> str | None:
    network = _NETWORK.search(text)
    if network:
        return f"needs the network ({network.group(0)})"
    if _NO_TLS in text or any(
        (f"host='{host}', port=443" in text or f"https://{host}" in text) and "Connection refused" in text
        for host in SERVED_HOSTS
    ):
        return "needs HTTPS where the sandbox serves HTTP only"
    cause = _environment_signature(text)
    if cause:
        return cause
    dependency = _missing_dependency(text, workdir, patch, in_repo)
    return f"missing {dependency[0]}" if dependency else None


def _failed_for_environment(
    task: Task, section: str, status: dict[str, str], workdir: str, patch: str, in_repo: Callable[[str], bool]
) -> str | None:
    """When every listed test that went wrong failed for an environment reason (its pytest failure section
    or short-summary message names it), that reason; None when any of them failed for another reason."""
    passing = {"PASSED", "XFAIL"}
    wrong = [t for t in task.FAIL_TO_PASS if status.get(t) not in passing]
    wrong += [t for t in task.PASS_TO_PASS if status.get(t) not in passing | {"SKIPPED"}]
    if not wrong or any(t not in status for t in wrong):
        return None
    blocks = _failure_blocks(section)
    summaries = {test: message for _status, test, message in _SUMMARY.findall(section)}
    causes = []
    for test in wrong:
        header = ".".join(test.split("::")[1:])
        text = blocks.get(header, "") + "\n" + summaries.get(test, "")
        cause = _environment_cause(text, workdir, patch, in_repo)
        if cause is None:
            return None
        causes.append(f"{test} ({cause})")
    return f"{len(causes)} listed tests failed for environment reasons: " + "; ".join(causes[:5])


def _shows_an_error(section: str, status: dict[str, str], workdir: str) -> bool:
    """Does the log show code failing (a collection error, a traceback, a raised exception)? Then the run
    measured something: what the code under test did."""
    return (
        any(mark in section for mark in _CODE_FAILED)
        or f'File "{workdir}/' in section
        or "\nE   " in section
        or "ERROR" in status.values()
    )


def classify(
    task: Task,
    log: str,
    status: dict[str, str],
    patch: str,
    *,
    workdir: str = "/testbed",
    test_cmd: str = "",
    in_repo: Callable[[str], bool] = lambda _name: True,
) -> Fault | None:
    """The environment fault of an unresolved run, or None when the log shows a measurement of the patch.

    `status`: the parsed test statuses (swebench's parser); `in_repo(name)`: is a module of that name part
    of the repository (unknown names count as part of it, so doubt keeps swebench's verdict)."""
    if START not in log:
        return Fault("no-start", f"no '{START}' marker; the log ends: {_last_lines(log)}")
    failed_patch = _test_patch_failed(log, task, patch)
    if failed_patch:
        return Fault("test-patch", failed_patch)
    section = _section(log)
    f2p, listed = set(task.FAIL_TO_PASS), set(task.FAIL_TO_PASS) | set(task.PASS_TO_PASS)
    measured = {t for t in listed if t in status}
    exit_code = TEST_EXIT.search(log)
    not_started = _NOT_STARTED.search(section)
    if not measured and (not_started or (exit_code and exit_code.group(1) in ("126", "127"))):
        evidence = not_started.group(0) if not_started else _last_lines(section)
        return Fault("test-command", f"`{test_cmd or 'the test command'}` did not start: {evidence}")
    lacks = _INTERPRETER_LACKS.search(section)
    if not measured and lacks and lacks.group(2).split(".")[0] in RUNNERS:
        return Fault("test-runner", f"{lacks.group(1)} has no {lacks.group(2)} ({lacks.group(0)})")
    if not (f2p & measured):
        dependency = _missing_dependency(section, workdir, patch, in_repo)
        if dependency:
            module, evidence = dependency
            kind = "test-runner" if module.split(".")[0] in RUNNERS else "dependency"
            return Fault(kind, f"{evidence} (before any fail-to-pass test ran)")
    casualty = _failed_for_environment(task, section, status, workdir, patch, in_repo)
    if casualty:
        return Fault("environment", casualty)
    if listed and not measured and not _shows_an_error(section, status, workdir):
        cause = _environment_signature(section)
        why = f" ({cause})" if cause else ""
        return Fault(
            "no-tests",
            f"none of the {len(listed)} listed tests appears in the log{why}; it ends: "
            f"{_last_lines(section) or '(empty)'}",
        )
    return None
