"""tox-current-env (`tox --current-env -e py39 -v -- ARGS`): tox runs pytest in the current environment
with the arguments after `--`, so single tests are pytest node ids appended to the command."""

from __future__ import annotations

from envs.runners.base import Runner
from envs.runners.pytest import node_ids_command, summary_failed


class Tox(Runner):
    name = "tox"
    modules = ("tox",)

    def subset_command(self, test_cmd: str, parts: list[tuple[str, set[str]]]) -> str | None:
        return node_ids_command(test_cmd, parts)

    def failed_ids(self, log: str) -> set[str]:
        return summary_failed(log)


RUNNER = Tox()
