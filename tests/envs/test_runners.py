"""The test-runner adapters (envs/runners): registry lookup by test command, the command for test files
and for test ids, the harness's directives, and each runner's log read by swebench's parsers."""

from __future__ import annotations

import pytest

from envs.environment import EnvSpec
from envs.runners import Runner, function_name, runner_for, runner_modules, tracer_hooks

SYMPY = "PYTHONWARNINGS='ignore::UserWarning,ignore::SyntaxWarning' bin/test -C --verbose"
DJANGO = "./tests/runtests.py --verbosity 2 --settings=test_sqlite --parallel 1"
TOX = "tox --current-env -epy39 -v --"


@pytest.mark.parametrize(
    ("test_cmd", "name"),
    [
        ("pytest -rA", "pytest"),
        ("python -m pytest -rA -p no:cacheprovider", "pytest"),
        (SYMPY, "sympy"),
        (DJANGO, "django"),
        ("python3 -m unittest -v", "unittest"),
        (TOX, "tox"),
        ("tox -e py39 -- -rA", "tox"),
        ("tox -e py39", "other"),  # no `--`: the arguments would go to tox itself
        ("make test", "other"),
        ("", "other"),
    ],
)
def test_the_runner_is_found_from_the_test_command(test_cmd, name):
    assert runner_for(test_cmd).name == name


def test_every_runner_runs_one_process_per_test_file():
    files = ["tests/a b.py", "tests/forms_tests/test_forms.py"]
    assert runner_for("pytest -rA").file_commands("pytest -rA", files) == (
        "pytest -rA 'tests/a b.py'; pytest -rA tests/forms_tests/test_forms.py"
    )
    assert runner_for(DJANGO).file_commands(DJANGO, files[1:]) == f"{DJANGO} forms_tests.test_forms"
    assert runner_for(SYMPY).file_commands("bin/test -C", ["sympy/core/tests/test_a.py"]) == (
        "bin/test -C sympy/core/tests/test_a.py"
    )
    assert Runner().file_commands("make test", ["t.py"]) == "make test t.py"


def test_the_command_for_test_ids_in_each_runners_syntax():
    nodes = [("t/test_a.py", {"t/test_a.py::TestA::test_one[1]", "t/test_a.py::TestA::test_one[2]"})]
    assert (
        runner_for("pytest -rA").subset_command("pytest -rA", nodes)
        == "pytest -rA t/test_a.py::TestA::test_one"
    )
    assert runner_for(TOX).subset_command(TOX, nodes) == f"{TOX} t/test_a.py::TestA::test_one"
    assert runner_for("pytest").subset_command("pytest", [("t/test_b.py", {"t/test_a.py::test_x"})]) is None
    sympy = [("a.py", {"test_x"}), ("b.py", {"test_y", "test_x"})]
    assert (
        runner_for("bin/test -C").subset_command("bin/test -C", sympy)
        == "bin/test -C a.py b.py -k test_x test_y"
    )
    unit = [
        (
            "tests/test_ops.py",
            {"test_add (tests.test_ops.TestOps.test_add)", "test_sub (tests.test_ops.TestOps)"},
        )
    ]
    assert runner_for("python -m unittest").subset_command("python -m unittest", unit) == (
        "python -m unittest tests.test_ops.TestOps.test_add tests.test_ops.TestOps.test_sub"
    )
    django = [("tests/x/tests.py", {"test_y (x.tests.C)"})]
    assert runner_for(DJANGO).subset_command(DJANGO, django) == f"{DJANGO} x.tests.C.test_y"
    assert runner_for(DJANGO).subset_command(DJANGO, [("tests/x/tests.py", {"x/tests.py::test_y"})]) is None
    assert runner_for("make test").subset_command("make test", nodes) is None


def test_what_else_each_runner_knows():
    sympy = runner_for(SYMPY)
    assert sympy.in_process("bin/test -C") == "bin/test --no-subprocess -C"
    assert sympy.in_process("bin/test --no-subprocess -C") == "bin/test --no-subprocess -C"
    assert runner_for("pytest -rA").in_process("pytest -rA") == "pytest -rA"
    # sympy's -k keywords match substrings; a pytest node id names its test exactly
    assert sympy.selects({"test_diff"}, "test_diff_nth_derivative")
    assert not runner_for("pytest").selects({"test_diff"}, "test_diff_nth_derivative")
    assert not sympy.ids_name_the_file and runner_for("pytest").ids_name_the_file
    assert {"pytest", "_pytest", "tox", "unittest", "nose"} <= runner_modules()
    assert function_name("t.py::T::test_x[1]") == function_name("test_x (m.T)") == "test_x"


def test_the_harness_directives_as_each_runner_names_files():
    files = ["tests/admin_views/tests.py", "tests/files/q.sql"]
    assert runner_for(DJANGO).directives(files) == ["admin_views.tests", "files.q.sql"]
    assert runner_for("pytest -rA").directives(files) == [
        "tests/admin_views/tests.py"
    ]  # pytest: no data file
    assert runner_for(TOX).directives(files) == files
    assert runner_for(SYMPY).directives(files) == files


def test_tracer_hooks_of_the_runners_that_have_one():
    hooks = tracer_hooks()
    assert set(hooks) == {"pytest", "sympy"}
    for source in hooks.values():
        compile(source, "hook", "exec")  # stdlib-only modules the tracer loads inside the sandbox
    namespace: dict = {}
    exec(compile(hooks["sympy"], "hook", "exec"), namespace)
    assert "sympy.testing.runtests" in namespace["MODULES"] and callable(namespace["attach"])


PYTEST_LOG = """============================= test session starts ==============================
collected 3 items

tests/test_a.py .Fs                                                      [100%]

=========================== short test summary info ============================
PASSED tests/test_a.py::test_one
FAILED tests/test_a.py::test_two - assert 1 == 2
SKIPPED [1] tests/test_a.py:9: no network
"""
SYMPY_LOG = """============================= test process starts ==============================
executable:         /opt/miniconda3/envs/testbed/bin/python  (3.9.19-final-0) [CPython]
random seed:        43817112

sympy/core/tests/test_diff.py[2]
test_diff_no_eval_derivative ok
test_diff_nth_derivative ok                                                 [OK]
sympy/core/tests/test_zz.py[2]
test_ok ok
test_bad F                                                                [FAIL]

________________________________________________________________________________
______________ sympy/core/tests/test_zz.py:test_bad ______________
AssertionError
"""
DJANGO_LOG = """test_select (forms_tests.widget_tests.test_select.SelectTest) ... ok
test_render (forms_tests.widget_tests.test_select.SelectTest) ... FAIL
test_skipped (forms_tests.widget_tests.test_select.SelectTest) ... skipped 'no db'
"""
UNITTEST_LOG = """test_add (tests.test_ops.TestOps.test_add) ... ok
test_sub (tests.test_ops.TestOps.test_sub) ... ERROR
"""


@pytest.mark.parametrize(
    ("test_cmd", "parser", "log", "expected"),
    [
        (
            "pytest -rA",
            "parse_log_pytest",
            PYTEST_LOG,
            {"tests/test_a.py::test_one": "PASSED", "tests/test_a.py::test_two": "FAILED"},
        ),
        (
            SYMPY,
            "parse_log_sympy",
            SYMPY_LOG,
            {
                "test_diff_no_eval_derivative": "PASSED",
                "test_diff_nth_derivative": "PASSED",  # the file's last line, `[OK]` cut first
                "test_ok": "PASSED",
                "test_bad": "FAILED",
                "sympy/core/tests/test_zz.py:test_bad": "FAILED",
            },
        ),
        (
            DJANGO,
            "parse_log_django",
            DJANGO_LOG,
            {
                "test_select (forms_tests.widget_tests.test_select.SelectTest)": "PASSED",
                "test_render (forms_tests.widget_tests.test_select.SelectTest)": "FAILED",
                "test_skipped (forms_tests.widget_tests.test_select.SelectTest)": "SKIPPED",
            },
        ),
        (
            "python3 -m unittest -v",
            "",  # no parser named: the runner's own (Django's reads unittest's verbose lines)
            UNITTEST_LOG,
            {
                "test_add (tests.test_ops.TestOps.test_add)": "PASSED",
                "test_sub (tests.test_ops.TestOps.test_sub)": "ERROR",
            },
        ),
        (
            TOX,
            "parse_log_sphinx",
            PYTEST_LOG,
            {"tests/test_a.py::test_one": "PASSED", "tests/test_a.py::test_two": "FAILED"},
        ),
    ],
)
def test_a_real_log_of_each_runner_is_read_by_swebenchs_parser(test_cmd, parser, log, expected):
    env = EnvSpec(image="x", test_cmd=test_cmd, log_parser=parser)
    assert runner_for(test_cmd).parse_log(log, env) == expected
