"""Verdicts cross-checked: a test run's parsed statuses against its exit status and a result channel the
code under test does not control.

- The exit status is the test command's own, read through the sealed exec channel (`sealed_exit`: the
  evaluation script exits with it), never the `>>>>> Test Exit Code` line a test can print itself.
- For runners with a `Runner.result_channel`, swescale's own code is copied outside the repository
  (CHANNEL_DIR) and loaded before the tests' code: for pytest a plugin (envs/runners/swescale_channel.py)
  loaded first with `-p` through PYTEST_ADDOPTS, writing each test's call outcome, the session's exit
  status and the pytest/unittest internals replaced during the run; for unittest-based runners (unittest,
  Django) a start-up guard (envs/runners/swescale_unittest_channel.py, the interpreter's sitecustomize)
  writing whether each process finished and which unittest internals were replaced. The host reads the
  file back (`read_channel`).

`cross_check` names the first disagreement; the run is then an error for that candidate, never a pass.
"""

from __future__ import annotations

import json
import shlex
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from envs.grading import START
from envs.runners import runner_for

CHANNEL_DIR = "/opt/swescale"
FAILING = ("FAILED", "ERROR")
"""A node id's parameter, as swebench's option parsers find it."""
EXIT_VAR = "SWEBENCH_TEST_EXIT_CODE"
"""The harness's eval scripts keep the test command's exit status in this variable (swebench 5.x)."""


class Files(Protocol):
    def write_file(self, path: str, content: str | bytes, /) -> None: ...
    def read_file(self, path: str) -> str: ...


@dataclass
class Channel:
    """What the plugin wrote: whether it loaded, each test's last call outcome, and the session's end."""

    started: bool = False
    raised: dict[str, bool] = field(default_factory=dict)
    """Node id -> whether its last call raised (a skip excepted)."""
    exitstatus: int | None = None
    """The session's exit status; None when the session never finished."""
    replaced: list[str] = field(default_factory=list)
    """Critical internals replaced since the plugin loaded."""

    @classmethod
    def parse(cls, text: str) -> Channel:
        """The records of every watched process (one per test file in files mode): a failed or unfinished
        session anywhere counts, and so do internals replaced in any."""
        channel, unfinished = cls(), 0
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            event = record.get("event") if isinstance(record, dict) else None
            if event == "start":
                channel.started, unfinished = True, unfinished + 1
            elif event == "call":
                channel.raised[str(record.get("test"))] = bool(record.get("raised"))
            elif event == "end":
                unfinished -= 1
                channel.exitstatus = int(record.get("exitstatus", 0)) or channel.exitstatus or 0
                channel.replaced = sorted({*channel.replaced, *(record.get("replaced") or [])})
        if unfinished > 0:  # a process (of several: one per test file) that never finished
            channel.exitstatus = None
        return channel

    def named_by(self, parse: Callable[[str], dict[str, str]]) -> Channel:
        """The channel with each node id renamed as the log's parser names it (swebench's parsers rewrite
        some ids: `parse_log_pytest_options` cuts a parameter that is a path to its last part, so
        `test_stdin[/testbed/tests/mymodule.py-...]` is `test_stdin[/mymodule.py]` in the log). Ids that
        collapse into one name raised only if all of them did (the log keeps one status for them)."""
        raised: dict[str, bool] = {}
        for test, did_raise in self.raised.items():
            names = list(parse(f"PASSED {test}"))
            name = names[0] if len(names) == 1 else test
            raised[name] = raised.get(name, True) and did_raise
        return replace(self, raised=raised)

    def ran_in(self, file: str) -> bool:
        """Whether the channel saw tests of `file` run (ids that name no file it ran, such as a dataset's
        parser artefacts like `[100%]`, or tests run by xdist workers, are not asked about)."""
        return any(t.startswith(f"{file}::") for t in self.raised)

    def saw(self, test: str) -> list[str]:
        """The node ids the channel knows the log's `test` by (none: it saw no such test): the id itself, else
        those a parser's id cut inside a parameter starts (ids a parser renames: `named_by`)."""
        if test in self.raised:
            return [test]
        if test.count("[") > test.count("]"):
            return [t for t in self.raised if t.startswith(test)]
        return []


def plugin_source(test_cmd: str) -> tuple[str, str] | None:
    """(module name, source) of the result channel of `test_cmd`'s runner, or None."""
    module = runner_for(test_cmd).result_channel
    if not module:
        return None
    return module, (Path(__file__).parent / "runners" / f"{module}.py").read_text()


def install(files: Files, test_cmd: str) -> tuple[str, str] | None:
    """Copy the runner's result channel into the sandbox; (shell exports that load it first, channel file)
    or None when the runner has none. A pytest plugin is loaded with `-p`; a start-up guard
    (`Runner.channel_at_startup`) is the interpreter's sitecustomize, from a folder first on PYTHONPATH."""
    plugin = plugin_source(test_cmd)
    if plugin is None:
        return None
    module, source = plugin
    path = f"{CHANNEL_DIR}/channel-{uuid.uuid4().hex}.jsonl"
    if runner_for(test_cmd).channel_at_startup:
        folder = f"{CHANNEL_DIR}/{module}"
        files.write_file(f"{folder}/sitecustomize.py", source)
        loads = ""
    else:
        folder = CHANNEL_DIR
        files.write_file(f"{folder}/{module}.py", source)
        loads = f'PYTEST_ADDOPTS="-p {module} ${{PYTEST_ADDOPTS:-}}" '
    exports = f'export PYTHONPATH={folder}"${{PYTHONPATH:+:$PYTHONPATH}}" {loads}SWESCALE_CHANNEL={shlex.quote(path)}'
    return exports, path


def guarded_script(script: str, exports: str | None) -> str:
    """The evaluation script loading the channel's plugin (`exports`) just before its tests run, and
    exiting with the test command's own exit status (read through the sealed exec channel)."""
    lines = script.rstrip("\n").split("\n")
    start = next((i for i, line in enumerate(lines) if START in line), None)
    if exports and start is not None:
        lines.insert(start, exports)
    if any(line.startswith(f"{EXIT_VAR}=") for line in lines):
        lines.append(f'exit "${EXIT_VAR}"')
    return "\n".join(lines) + "\n"


def read_channel(files: Files, path: str) -> Channel:
    try:
        return Channel.parse(files.read_file(path))
    except Exception:  # noqa: BLE001 - no file: the plugin never loaded
        return Channel()


def cross_check(
    statuses: dict[str, str],
    exit_code: int | None,
    channel: Channel | None = None,
    graded: list[str] | None = None,
    logged_exit: int | None = None,
    failed_quietly: bool = True,
    reported_failed: set[str] | frozenset[str] = frozenset(),
    parse: Callable[[str], dict[str, str]] | None = None,
) -> str | None:
    """Why the run's verdicts cannot be trusted, or None when the log, the exit status and the channel
    agree. `exit_code`: the test command's, through the sealed channel (None: unknown, e.g. several
    processes); `graded`: the test ids the verdict reads, each of which must have run as the log says
    if it names a file the channel saw run (None: every test the log reports passed must not have raised,
    unseen ones are not asked about: a nested run's lines, as in pytest's own tests); `logged_exit`: the
    exit status the log records; `failed_quietly`: ask whether a failed command's log reports a failure (swebench 5.0.2's rule; its
    grading applies it itself, as the harness: such a run is unresolved there, not an error);
    `reported_failed`: the tests the runner's own failure reports name (`Runner.failed_ids`), none of
    which the log may report passed; `parse`: the log's parser (the channel's ids are then named as the
    log names them, `Channel.named_by`)."""
    if exit_code is not None and logged_exit is not None and logged_exit != exit_code:
        return f"the log records exit status {logged_exit}, the test command exited {exit_code}"
    for test in sorted(reported_failed):
        if statuses.get(test) == "PASSED":
            return f"the log reports {test} both failed (the runner's failure report) and passed"
    failing = any(s in FAILING for s in statuses.values())
    if failed_quietly and exit_code not in (None, 0) and statuses and not failing:
        return f"the test command exited {exit_code} but the log reports no failure"
    if channel is None or not channel.started:
        return None
    if parse is not None:
        channel = channel.named_by(parse)
    if channel.replaced:
        return "test runner internals replaced during the run: " + ", ".join(channel.replaced)
    if channel.exitstatus is None and exit_code == 0:
        return "the test session never finished, yet the command exited 0"
    if channel.exitstatus not in (None, 0) and exit_code == 0:
        return f"the test session ended with status {channel.exitstatus}, the command exited 0"
    for test in statuses if graded is None else graded:
        if statuses.get(test) != "PASSED":
            continue
        seen = channel.saw(test)
        if not seen and graded is not None and channel.ran_in(test.split("::")[0]):
            return f"the log reports {test} passed, but it never ran"
        if seen and all(channel.raised[t] for t in seen):
            return f"the log reports {test} passed, but its call raised"
    return None
