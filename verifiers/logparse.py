"""Test-log parsing for regression tests: envs.grading when available, else pytest -rA / unittest -v."""

from __future__ import annotations

import re
from typing import Any

_PYTEST = re.compile(r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\s+(\S+)", re.M)
_UNITTEST = re.compile(
    r"^(\w+) \(([\w.]+)\)(?:\n.*?)?\s\.\.\.\s*(ok|FAIL|ERROR|skipped.*|expected failure)$", re.M
)
_UNITTEST_STATUS = {"ok": "PASSED", "FAIL": "FAILED", "ERROR": "ERROR", "expected failure": "XFAIL"}


def parse_log(log: str, env: Any, task: Any = None) -> dict[str, str]:
    """Test id -> PASSED/FAILED/ERROR/SKIPPED/... for the log of `env.test_cmd`."""
    try:
        from envs.grading import parse_test_log
    except ImportError:
        parse_test_log = None
    if parse_test_log is not None and getattr(env, "log_parser", ""):
        try:
            parsed = parse_test_log(log, env, task)
            if parsed:
                return {k: str(getattr(v, "value", v)) for k, v in parsed.items()}
        except Exception:  # noqa: BLE001 - fall back to the built-in parsers below
            pass
    return parse_generic(log)


def parse_generic(log: str) -> dict[str, str]:
    """pytest `-rA` short summary lines, then unittest `-v` lines (`test_x (mod.Class.test_x) ... ok`)."""
    out: dict[str, str] = {}
    for status, test_id in _PYTEST.findall(log):
        out[test_id] = status
    for name, where, status in _UNITTEST.findall(log):
        test_id = where if where.endswith("." + name) else f"{where}.{name}"
        out[test_id] = _UNITTEST_STATUS.get(status, "SKIPPED" if status.startswith("skipped") else status)
    return out
