"""Test-log parsing for regression tests: the test runner's adapter (envs.runners) reads the log with
swebench's parser the environment names (the runner's own when it names none), after the runner's fixes."""

from __future__ import annotations

from envs.runners import runner_for
from verifiers.protocols import EnvLike, TaskLike

PARSE_VERSION = "5"
"""Part of the cache key of every cached parse and test outcome (statuses read with an older parse are not
reused; 3: candidates judged with frozen test infrastructure and cross-checked verdicts, envs.freeze; 4: the result channel's ids named as the log names them; 5: the runner's failure reports and the unittest channel)."""


def parse_log(log: str, env: EnvLike, task: TaskLike | None = None) -> dict[str, str]:
    """Test id -> PASSED/FAILED/ERROR/SKIPPED/... for the log of `env.test_cmd`."""
    return runner_for(env.test_cmd).parse_log(log, env, task)
