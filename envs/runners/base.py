"""The test-runner adapter interface: what swescale knows of one test runner.

An adapter knows, for its runner: the command for a set of test files (one process per file) and for a
set of test ids (None when the runner cannot select single tests), the test directives the harness
passes it, whether its tests can run in the runner's own process, how swebench's parser reads its log
(plus the runner's own fixes), whether its test ids name their file, which tests a `-k`-like keyword
selects, and the hook by which the call tracer (verifiers/calltrace_box.py) learns which test runs.

`Runner` itself is the adapter of a runner swescale knows nothing special about: test files are appended
to the command, single tests cannot be selected, logs are read by the environment's parser.
"""

from __future__ import annotations

import shlex
from typing import Protocol

PYTEST_PARSER = "parse_log_pytest"
"""swebench's pytest parser: what a log is read with when neither the environment nor the runner names one."""


class LogEnv(Protocol):
    """What parsing a log needs of an environment (envs.environment.EnvSpec)."""

    image: str
    test_cmd: str
    log_parser: str


class LogTask(Protocol):
    """What parsing a log needs of a task (envs.task.Task)."""

    instance_id: str
    repo: str
    version: str


def function_name(test_id: str) -> str:
    """The test function's name in a log parser's test id: a pytest node id (`file::Class::name[param]`),
    a bare function name, or unittest's `name (module.Class)`."""
    return test_id.split("::")[-1].split("[")[0].split(" (")[0].strip()


def parse_test_log(log: str, spec: LogEnv, task: LogTask | None = None) -> dict[str, str]:
    """Test id -> PASSED/FAILED/SKIPPED/ERROR/XFAIL, by the swebench parser named in `spec` (exactly as
    the harness reads it)."""
    from swebench.harness.log_parsers import PARSER_REGISTRY
    from swebench.types import TestSpec

    ts = TestSpec(
        instance_id=task.instance_id if task else "",
        image=spec.image,
        eval_script_list=[],
        repo=task.repo if task else "",
        version=task.version if task else "",
        FAIL_TO_PASS=[],
        PASS_TO_PASS=[],
        log_parser=spec.log_parser,
    )
    return PARSER_REGISTRY[spec.log_parser](log, ts)


class Runner:
    """A test runner's adapter (this base: a runner with no special knowledge)."""

    name = "other"
    parser = PYTEST_PARSER
    """swebench's parser for the runner's log, used when the environment names none."""
    modules: tuple[str, ...] = ()
    """Top-level modules of the runner: an interpreter that lacks one cannot start the tests."""
    ids_name_the_file = True
    """Whether the log parser's test ids tell the files of one process apart (else one process must not
    run two files that share a test name)."""
    infrastructure: tuple[str, ...] = ()
    """Globs of the runner's own files in the repository (its entry script, its runner modules): frozen at
    the base commit when tests judge a candidate (envs.freeze)."""
    result_channel: str | None = None
    """The module of swescale's result channel, reporting outside the log (envs/runners/<module>.py,
    loaded before the tests' code: envs.verdict), or None when the runner has none."""
    channel_at_startup = False
    """Whether the channel is loaded as the interpreter starts (a sitecustomize) rather than as a pytest
    plugin (`-p`)."""
    tracer_hook: str | None = None
    """Source of the runner's hook for the call tracer (stdlib only, Python >= 3.8), or None. It may define
    `current_test()` (the keys of the test running now, from the runner's own state; asked on every
    stack walk), and `MODULES` with `attach(module, recorder)` (called once one of MODULES has run, to
    bracket each test: `recorder.set_current(recorder.test_keys(function))` at its start and
    `recorder.set_current(None)` at its end, which also times it)."""

    def file_arg(self, path: str) -> str:
        """How the command names a test file."""
        return path

    def directives(self, files: list[str]) -> list[str]:
        """What the harness appends to the test command for the test patch's `files`."""
        return [self.file_arg(f) for f in files]

    def file_commands(self, test_cmd: str, files: list[str]) -> str:
        """`test_cmd` on each test file in turn, one process per file (tests that pass alone but fail next
        to another file, through shared imports or global state, must not count as regressions)."""
        return "; ".join(f"{test_cmd} {shlex.quote(self.file_arg(f))}" for f in files)

    def subset_command(self, test_cmd: str, parts: list[tuple[str, set[str]]]) -> str | None:
        """One `test_cmd` process running only the given test ids (as the log parser names them) of each
        file; None when the runner cannot select them."""
        return None

    def in_process(self, test_cmd: str) -> str:
        """`test_cmd` running its tests in the runner's own process, where the runner allows it."""
        return test_cmd

    def selects(self, keywords: set[str], name: str) -> bool:
        """Whether a subset run asked for `keywords` (test function names) also runs the test `name`."""
        return name in keywords

    def failed_ids(self, log: str) -> set[str]:
        """Tests the runner's own failure reports in `log` name, apart from their status lines (unittest's
        `FAIL: <id>` headers, pytest's summary): such a test must not also be reported passed, which only
        a line printed by the code under test can do (envs.verdict.cross_check). Empty when unknown."""
        return set()

    def fix_log(self, log: str) -> str:
        """The log as swebench's parser reads it right (the runner's quirks the parser misses)."""
        return log

    def parse_log(self, log: str, env: LogEnv, task: LogTask | None = None) -> dict[str, str]:
        """Test id -> PASSED/FAILED/ERROR/SKIPPED/... of a log of this runner: the environment's parser
        (the runner's own when it names none), after the runner's fixes."""
        parser = getattr(env, "log_parser", "") or self.parser
        spec = env.model_copy(update={"log_parser": parser}) if hasattr(env, "model_copy") else env
        parsed = parse_test_log(self.fix_log(log), spec, task)
        return {test: str(getattr(status, "value", status)) for test, status in parsed.items()}
