"""swescale's pytest plugin: a result channel the code under test does not control (loaded first, `-p`).

Copied into the sandbox outside the repository (envs.verdict.CHANNEL_DIR) and loaded with `-p
swescale_channel` before any conftest or package code, it writes one JSON line per test's call phase to
the file named by SWESCALE_CHANNEL: the outcome read from the call's own exception info (not from the
report hooks make of it), flushed at once (an `os._exit` later loses nothing). It snapshots pytest's and
unittest's critical internals when it loads and, at session end, names those replaced since, with the
session's exit status. It changes nothing that is run or reported. The host reads the file back through
the sealed exec channel and compares it with the log and the exit status (envs.verdict.cross_check).
Runs on every pytest and Python 3 version SWE-bench uses: stdlib only, nothing it needs is required.
"""

import importlib
import json
import os

import pytest

CRITICAL = (
    ("_pytest.runner", "call_and_report"),
    ("_pytest.runner", "call_runtest_hook"),
    ("_pytest.runner", "runtestprotocol"),
    ("_pytest.runner", "pytest_runtest_makereport"),
    ("_pytest.runner", "CallInfo.from_call"),
    ("_pytest.reports", "TestReport.from_item_and_call"),
    ("_pytest.reports", "TestReport.__init__"),
    ("_pytest.main", "pytest_runtestloop"),
    ("_pytest.main", "wrap_session"),
    ("_pytest.python", "pytest_pyfunc_call"),
    ("_pytest.python", "Function.runtest"),
    ("_pytest.skipping", "pytest_runtest_makereport"),
    ("_pytest.terminal", "TerminalReporter.pytest_runtest_logreport"),
    ("_pytest.terminal", "TerminalReporter.summary_stats"),
    ("_pytest.unittest", "TestCaseFunction.runtest"),
    ("_pytest.unittest", "pytest_runtest_makereport"),
    ("_pytest.outcomes", "fail"),
    ("_pytest.outcomes", "skip"),
    ("unittest.case", "TestCase.run"),
    ("unittest.case", "TestCase.__call__"),
    ("unittest.result", "TestResult.addFailure"),
    ("unittest.result", "TestResult.addError"),
    ("unittest.result", "TestResult.wasSuccessful"),
)


def _lookup(module, dotted):
    try:
        obj = importlib.import_module(module)
        for part in dotted.split("."):
            obj = obj.__dict__[part] if isinstance(obj, type) else getattr(obj, part)
        return obj
    except Exception:  # noqa: BLE001 - absent in this pytest version
        return None


_SNAPSHOT = {"%s:%s" % (m, d): _lookup(m, d) for m, d in CRITICAL}  # noqa: UP031 - Python 3.5 too
_PATH = os.environ.pop("SWESCALE_CHANNEL", None)  # not handed on to the tests' processes
_OUT = open(_PATH, "a", buffering=1) if _PATH else None  # noqa: SIM115 - open for the whole session


def _write(record):
    if _OUT is not None:
        try:
            _OUT.write(json.dumps(record) + "\n")
            _OUT.flush()
        except Exception:  # noqa: BLE001 - the channel never changes the run
            pass


_write({"event": "start"})


def _raised(call):
    """Did the call raise, other than a skip (xfail is read by the host from the log's own status)?"""
    excinfo = getattr(call, "excinfo", None)
    if excinfo is None:
        return False
    skip = getattr(getattr(pytest, "skip", None), "Exception", None)
    return not (skip is not None and excinfo.errisinstance(skip))


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    yield
    if getattr(call, "when", "") == "call":
        _write({"event": "call", "test": item.nodeid, "raised": _raised(call)})


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    replaced = sorted(k for k, v in _SNAPSHOT.items() if v is not None and _lookup(*k.split(":")) is not v)
    _write({"event": "end", "exitstatus": int(exitstatus), "replaced": replaced})
