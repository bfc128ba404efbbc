"""unittest (`python -m unittest -v`): tests selected by dotted label, logs read by swebench's Django
parser (Django's runner prints unittest's verbose lines)."""

from __future__ import annotations

import re
import shlex

from envs.runners.base import Runner

_VERBOSE_ID = re.compile(r"^(\w+) \(([\w.]+)\)")
FAILURE_HEADER = re.compile(r"^(?:FAIL|ERROR): (.+?)\s*$", re.MULTILINE)
"""The header of each failure's report, naming the test as its verbose status line does."""


def labels_command(test_cmd: str, parts: list[tuple[str, set[str]]]) -> str | None:
    """`test_cmd` followed by the dotted label of each test id `name (module.Class)` (or `name
    (module.Class.name)`, as Python 3.11 prints it); None when an id has another form."""
    labels = []
    for _, ids in parts:
        for test in sorted(ids):
            match = _VERBOSE_ID.match(test.split("::")[-1])
            if not match:
                return None
            name, where = match.group(1), match.group(2)
            labels.append(where if where.endswith(f".{name}") else f"{where}.{name}")
    return f"{test_cmd} " + " ".join(shlex.quote(label) for label in labels)


class Unittest(Runner):
    name = "unittest"
    parser = "parse_log_django"
    modules = ("unittest",)
    result_channel = "swescale_unittest_channel"
    channel_at_startup = True

    def subset_command(self, test_cmd: str, parts: list[tuple[str, set[str]]]) -> str | None:
        return labels_command(test_cmd, parts)

    def failed_ids(self, log: str) -> set[str]:
        return {m.group(1) for m in FAILURE_HEADER.finditer(log)}


RUNNER = Unittest()
