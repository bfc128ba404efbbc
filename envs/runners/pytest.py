"""pytest (`pytest -rA`, `python -m pytest ...`): tests selected by node id, the running test named by
PYTEST_CURRENT_TEST."""

from __future__ import annotations

import re
import shlex

from envs.runners.base import Runner

SUMMARY_FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+::\S+)", re.MULTILINE)
"""A failed test in the short summary (`-rA`): its node id (the message after ` - ` left out)."""

TRACER_HOOK = '''
import os


def current_test():
    """The node id of the test pytest runs now (its fixtures included)."""
    node = os.environ.get("PYTEST_CURRENT_TEST")
    return ["node:" + node.rsplit(" (", 1)[0]] if node else []
'''


def summary_failed(log: str) -> set[str]:
    """Node ids the log's short summary reports failed or errored, those a parser could confuse with
    another test's left out: an id cut at a space inside its parameter, a parameter that is a path (which
    swebench's option parsers shorten)."""
    return {
        test
        for test in SUMMARY_FAILED.findall(log)
        if test.count("[") == test.count("]") and "[/" not in test
    }


def node_ids_command(test_cmd: str, parts: list[tuple[str, set[str]]]) -> str | None:
    """`test_cmd` followed by the node ids (parameters dropped: every parameter runs) of each file; None
    when an id is not a node id of its file."""
    nodes = []
    for file, ids in parts:
        mine = sorted({t.split("[")[0] for t in ids if t.startswith(f"{file}::")})
        if len(mine) != len({t.split("[")[0] for t in ids}):
            return None  # ids that are not node ids of this file
        nodes += mine
    return f"{test_cmd} " + " ".join(shlex.quote(n) for n in nodes)


class Pytest(Runner):
    name = "pytest"
    modules = ("pytest", "py.test", "_pytest")
    tracer_hook = TRACER_HOOK
    result_channel = "swescale_channel"

    def directives(self, files: list[str]) -> list[str]:
        """Python files only: pytest stops with "not found" (exit 4, no test run) on a data file such as
        `x.sql`, so the harness's list could only make such a task ungradable."""
        return [f for f in files if f.endswith(".py")]

    def subset_command(self, test_cmd: str, parts: list[tuple[str, set[str]]]) -> str | None:
        return node_ids_command(test_cmd, parts)

    def failed_ids(self, log: str) -> set[str]:
        return summary_failed(log)


RUNNER = Pytest()
