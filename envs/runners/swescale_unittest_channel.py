"""swescale's start-up guard for unittest-based runners (Django's `tests/runtests.py`, `python -m unittest`).

Copied into the sandbox as `sitecustomize.py` in a folder of its own put first on PYTHONPATH
(envs.verdict), so it runs as the interpreter starts, before the runner and any package code; it then
runs the `sitecustomize` it shadows, if there is one. With SWESCALE_CHANNEL set (popped: processes the
tests start are not watched) it snapshots unittest's critical internals (and `sys.exit`, `os._exit`),
writes a start line to that file, and at exit (its handler registered first, so it runs last) an end line
naming those replaced since. A process that ends without its exit handlers (`os._exit`) writes no end.
The host reads the file back and compares it with the log and the exit status (envs.verdict.cross_check).
Changes nothing run or reported. Python 3.5+, standard library only.
"""

import os
import sys

CRITICAL = (
    ("unittest.case", "TestCase.run"),
    ("unittest.case", "TestCase.__call__"),
    ("unittest.case", "TestCase._callTestMethod"),
    ("unittest.case", "TestCase.fail"),
    ("unittest.case", "_Outcome.testPartExecutor"),
    ("unittest.suite", "TestSuite.run"),
    ("unittest.result", "TestResult.addFailure"),
    ("unittest.result", "TestResult.addError"),
    ("unittest.result", "TestResult.addSubTest"),
    ("unittest.result", "TestResult.addUnexpectedSuccess"),
    ("unittest.result", "TestResult.wasSuccessful"),
    ("unittest.runner", "TextTestResult.addFailure"),
    ("unittest.runner", "TextTestResult.addError"),
    ("unittest.runner", "TextTestResult.addSuccess"),
    ("unittest.runner", "TextTestResult.printErrors"),
    ("unittest.runner", "TextTestRunner.run"),
    ("sys", "exit"),
    ("os", "_exit"),
)


def _run_shadowed():
    """The sitecustomize this one shadows (the environment's own), as the interpreter would have run it."""
    try:
        import importlib.machinery
        import importlib.util

        here = os.path.dirname(os.path.abspath(__file__))
        path = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
        spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
        if spec is not None and spec.loader is not None:
            module = importlib.util.module_from_spec(spec)
            sys.modules["sitecustomize"] = module
            spec.loader.exec_module(module)
    except Exception:  # noqa: BLE001 - as site.py: a broken sitecustomize never stops the interpreter
        pass


def _guard(path):
    import atexit
    import importlib
    import inspect
    import json

    def lookup(module, dotted):
        try:
            obj = importlib.import_module(module)
            for part in dotted.split("."):
                obj = inspect.getattr_static(obj, part)
            return obj
        except Exception:  # noqa: BLE001 - absent in this Python
            return None

    names = list(CRITICAL)
    case = lookup("unittest.case", "TestCase")
    names += [("unittest.case", "TestCase." + n) for n in dir(case) if n.startswith(("assert", "fail"))]
    snapshot = {"%s:%s" % name: lookup(*name) for name in names}  # noqa: UP031 - Python 3.5 too
    out = open(path, "a", buffering=1)  # noqa: SIM115 - open until the process ends

    def write(record):
        try:
            out.write(json.dumps(record) + "\n")
            out.flush()
        except Exception:  # noqa: BLE001 - the channel never changes the run
            pass

    def end():
        replaced = sorted(k for k, v in snapshot.items() if v is not None and lookup(*k.split(":")) is not v)
        write({"event": "end", "replaced": replaced})

    atexit.register(end)
    write({"event": "start"})


_PATH = os.environ.pop("SWESCALE_CHANNEL", None)
if _PATH:
    try:
        _guard(_PATH)
    except Exception:  # noqa: BLE001 - no channel (the host then checks the exit status only)
        pass
_run_shadowed()
