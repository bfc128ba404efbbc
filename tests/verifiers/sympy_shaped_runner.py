"""The part of sympy's test runner (sympy/testing/runtests.py, SymPyTests.test_file) the call recorder
relies on, as a stand-in installed as `sympy/testing/runtests.py` in a scratch project (by
test_calltrace.py and benchmarks/calltrace_overhead.py): the test file is compiled under its absolute path
and exec'd, and the reporter hears of each test's start and end."""

import functools
import sys


class PyTestReporter:
    def entering_test(self, f):
        pass

    def test_pass(self, char="."):
        pass

    def test_fail(self, exc_info):
        pass


def XFAIL(func):
    @functools.wraps(func)
    def wrapper():
        try:
            func()
        except AssertionError:
            pass

    return wrapper


def test_file(filename):
    gl = {"__name__": "test_module"}
    with open(filename) as handle:
        exec(compile(handle.read(), filename, "exec"), gl)
    reporter = PyTestReporter()
    for name in sorted(n for n in gl if n.startswith("test_")):
        f = gl[name]
        reporter.entering_test(f)
        try:
            f()
        except AssertionError:
            reporter.test_fail(sys.exc_info())
        else:
            reporter.test_pass()
        gl.get("between_tests", lambda: None)()  # runner code between tests: no test's call
