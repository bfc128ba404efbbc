"""Test-log parsing for regression tests: swebench's parsers (through envs.grading), chosen by the
environment's `log_parser`, or by its test command when it names none (unittest logs read like Django's)."""

from __future__ import annotations

from typing import Any

from envs.grading import parse_test_log
from envs.specs import DEFAULT_PARSER

UNITTEST_PARSER = "parse_log_django"


def parser_for(env: Any) -> str:
    if getattr(env, "log_parser", ""):
        return env.log_parser
    return UNITTEST_PARSER if "unittest" in getattr(env, "test_cmd", "") else DEFAULT_PARSER


def parse_log(log: str, env: Any, task: Any = None) -> dict[str, str]:
    """Test id -> PASSED/FAILED/ERROR/SKIPPED/... for the log of `env.test_cmd`."""
    spec = env.model_copy(update={"log_parser": parser_for(env)}) if hasattr(env, "model_copy") else env
    parsed = parse_test_log(log, spec, task)
    return {test: str(getattr(status, "value", status)) for test, status in parsed.items()}
