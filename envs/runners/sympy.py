"""sympy's runner (`bin/test -C --verbose`): tests selected by `-k` keywords (substrings of test function
names, applied to every file of the run), test ids that are bare function names, each test bracketed by
its reporter (so the call tracer knows the running test without a stack walk, and times it), and a second
interpreter it needs not start."""

from __future__ import annotations

import re
import shlex

from envs.runners.base import Runner, function_name

FILE_END = re.compile(r"\s+\[(OK|FAIL)\]\s*$", re.MULTILINE)
"""The runner closes a file's last test line with `[OK]` or `[FAIL]`, which swebench's parser does not
read: that test would count as missing (a subset run ends each file on a test that has a column)."""

TRACER_HOOK = '''
MODULES = ("sympy.testing.runtests", "sympy.utilities.runtests")  # homes of the runner's PyTestReporter
ENDS = ("test_pass", "test_fail", "test_skip", "test_xfail", "test_xpass", "test_exception")


def attach(module, recorder):
    """Hook the PyTestReporter: entering_test starts a test, its outcome calls end it."""
    reporter = getattr(module, "PyTestReporter", None)
    if reporter is None or getattr(reporter, "_swescale_hooked", False):
        return
    enter = reporter.entering_test

    def entering_test(self, f, *args, **kwargs):
        recorder.set_current(recorder.test_keys(f))
        return enter(self, f, *args, **kwargs)

    def ending(original):
        def end(self, *args, **kwargs):
            recorder.set_current(None)
            return original(self, *args, **kwargs)

        return end

    reporter.entering_test = entering_test
    for name in ENDS:
        if hasattr(reporter, name):
            setattr(reporter, name, ending(getattr(reporter, name)))
    reporter._swescale_hooked = True
'''


class Sympy(Runner):
    name = "sympy"
    parser = "parse_log_sympy"
    ids_name_the_file = False  # the parser names tests by function only
    infrastructure = ("bin/test", "bin/doctest", "sympy/testing/runtests.py", "sympy/utilities/runtests.py")
    tracer_hook = TRACER_HOOK

    def subset_command(self, test_cmd: str, parts: list[tuple[str, set[str]]]) -> str | None:
        files = [shlex.quote(file) for file, _ in parts]
        names = sorted({function_name(t) for _, ids in parts for t in ids})
        return f"{test_cmd} {' '.join(files)} -k " + " ".join(shlex.quote(n) for n in names)

    def in_process(self, test_cmd: str) -> str:
        """`bin/test` starts a second interpreter only to randomize hashing (with a random PYTHONHASHSEED;
        none when the variable is set), which Python 3 does by itself: run the tests in bin/test's own
        process, one interpreter start and one import of the package less per run."""
        if "--no-subprocess" in test_cmd:
            return test_cmd
        return test_cmd.replace("bin/test", "bin/test --no-subprocess", 1)

    def selects(self, keywords: set[str], name: str) -> bool:
        return any(k in name for k in keywords)

    def fix_log(self, log: str) -> str:
        return FILE_END.sub("", log)


RUNNER = Sympy()
