"""Test-log parsing for regression tests: swebench's parsers (through envs.grading), chosen by the
environment's `log_parser`, or by its test command when it names none (unittest logs read like Django's)."""

from __future__ import annotations

import re
from typing import Any

from envs.grading import parse_test_log
from envs.specs import DEFAULT_PARSER

UNITTEST_PARSER = "parse_log_django"
PARSE_VERSION = "2"
"""Part of the cache key of every cached parse (statuses read with an older parse are not reused)."""
SYMPY_PARSER = "parse_log_sympy"
SYMPY_FILE_END = re.compile(r"\s+\[(OK|FAIL)\]\s*$", re.MULTILINE)
"""sympy's runner closes a file's last test line with `[OK]` or `[FAIL]`, which swebench's parser does not
read: that test would count as missing (a subset run ends each file on a test that has a column)."""


def parser_for(env: Any) -> str:
    if getattr(env, "log_parser", ""):
        return env.log_parser
    return UNITTEST_PARSER if "unittest" in getattr(env, "test_cmd", "") else DEFAULT_PARSER


def parse_log(log: str, env: Any, task: Any = None) -> dict[str, str]:
    """Test id -> PASSED/FAILED/ERROR/SKIPPED/... for the log of `env.test_cmd`."""
    parser = parser_for(env)
    spec = env.model_copy(update={"log_parser": parser}) if hasattr(env, "model_copy") else env
    if parser == SYMPY_PARSER:
        log = SYMPY_FILE_END.sub("", log)
    parsed = parse_test_log(log, spec, task)
    return {test: str(getattr(status, "value", status)) for test, status in parsed.items()}
