"""envs.verdict: the evaluation script's guard, the cross-check's rules, and swescale's pytest plugin in
real pytest runs (a subprocess on this host, the plugin loaded as in the sandbox)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from envs.verdict import Channel, cross_check, guarded_script, plugin_source

SCRIPT = "#!/bin/bash\nset -uxo pipefail\ncd /testbed\n: '>>>>> Start Test Output'\npytest -rA t.py\n"
SCRIPT += "SWEBENCH_TEST_EXIT_CODE=$?\n: '>>>>> End Test Output'\necho \">>>>> Test Exit Code: $SWEBENCH_TEST_EXIT_CODE\"\n"
SCRIPT += "git checkout abc t.py\n"


def test_the_script_loads_the_channel_before_the_tests_and_exits_with_their_status():
    lines = guarded_script(SCRIPT, "export X=1").splitlines()
    assert lines.index("export X=1") == lines.index(": '>>>>> Start Test Output'") - 1
    assert lines[-1] == 'exit "$SWEBENCH_TEST_EXIT_CODE"'
    assert guarded_script("echo hi\n", None) == "echo hi\n"  # no recorded status: left as it is


def test_exit_status_rules():
    assert cross_check({"a": "PASSED"}, 0) is None
    assert cross_check({"a": "PASSED", "b": "FAILED"}, 1) is None
    assert "no failure" in cross_check({"a": "PASSED"}, 1)
    assert "records exit status 0" in cross_check({"a": "PASSED"}, 1, logged_exit=0)


def test_channel_rules():
    started = Channel(started=True, raised={"t.py::a": True, "t.py::b": False}, exitstatus=1)
    finished = Channel(started=True, raised=started.raised, exitstatus=0)
    assert "raised" in cross_check({"t.py::a": "PASSED", "t.py::b": "PASSED"}, 0, finished)
    assert "ended with status 1" in cross_check({"t.py::a": "FAILED"}, 0, started)
    assert "never ran" in cross_check({"t.py::c": "PASSED"}, 0, finished, graded=["t.py::c"])
    artefacts = {"[100%]": "PASSED", "u.py::d": "PASSED"}  # a dataset's parser artefact, a file not run
    assert cross_check(artefacts, 0, finished, graded=list(artefacts)) is None
    assert cross_check({"t.py::c": "PASSED", "t.py::a": "FAILED"}, 1, started) is None  # a nested run's line
    assert "never finished" in cross_check({}, 0, Channel(started=True))
    assert "replaced" in cross_check({}, 0, Channel(started=True, exitstatus=0, replaced=["x:y"]))
    assert (
        cross_check({"t.py::a": "PASSED"}, 0, Channel()) is None
    )  # the plugin did not load: exit rules only
    cut = Channel(started=True, raised={"t.py::p[a b]": False}, exitstatus=0)
    assert cut.saw("t.py::p[a") == ["t.py::p[a b]"]


def _pytest(tmp_path: Path, files: dict[str, str]) -> tuple[int, str, Channel]:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    module, source = plugin_source("pytest -rA")
    plugin_dir = tmp_path / "plugin"
    plugin_dir.mkdir()
    (plugin_dir / f"{module}.py").write_text(source)
    channel = tmp_path / "channel.jsonl"
    env = {
        **os.environ,
        "PYTHONPATH": f"{plugin_dir}{os.pathsep}{tmp_path}",
        "PYTEST_ADDOPTS": f"-p {module}",
        "SWESCALE_CHANNEL": str(channel),
    }
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", "test_x.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    return run.returncode, run.stdout, Channel.parse(channel.read_text() if channel.exists() else "")


TESTS = "def test_ok():\n    assert True\n\n\ndef test_bad():\n    assert False\n"


def test_an_honest_run_agrees(tmp_path):
    code, log, channel = _pytest(tmp_path, {"test_x.py": TESTS})
    assert code == 1 and channel.started and channel.exitstatus == 1
    assert channel.raised == {"test_x.py::test_ok": False, "test_x.py::test_bad": True}
    statuses = {"test_x.py::test_ok": "PASSED", "test_x.py::test_bad": "FAILED"}
    assert cross_check(statuses, code, channel, graded=list(statuses)) is None


def test_a_report_hook_is_caught_by_the_channel(tmp_path):
    hook = (
        "import pytest\n\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport(item, call):\n"
        "    rep = (yield).get_result()\n    if rep.failed:\n        rep.outcome = 'passed'\n"
    )
    code, log, channel = _pytest(tmp_path, {"test_x.py": TESTS, "conftest.py": hook})
    assert code == 0 and "PASSED test_x.py::test_bad" in log
    statuses = {"test_x.py::test_ok": "PASSED", "test_x.py::test_bad": "PASSED"}
    assert "test_bad passed, but its call raised" in cross_check(statuses, code, channel)


def test_internals_replaced_on_import_are_named(tmp_path):
    patching = (
        "import _pytest.reports as r\n_init = r.TestReport.__init__\n\n\ndef init(self, *a, **k):\n"
        "    _init(self, *a, **k)\n    self.outcome = 'passed'\n\n\nr.TestReport.__init__ = init\n"
    )
    code, _, channel = _pytest(tmp_path, {"test_x.py": "import pkg_hack\n" + TESTS, "pkg_hack.py": patching})
    assert code == 0 and channel.replaced == ["_pytest.reports:TestReport.__init__"]


def test_ids_the_log_parser_rewrites_are_matched_as_it_names_them(tmp_path):
    """pylint-dev__pylint-7080's gold patch was a `verdict-mismatch`: swebench's pylint parser cuts a
    parameter that is a path to its last part (`test_stdin[/mymodule.py]`), the channel knows the node id
    pytest gave (`test_stdin[/tmp/.../mymodule.py]`), so the graded id "never ran"."""
    from swebench.harness.log_parsers.python import parse_log_pytest_options

    test = (
        "import pytest\n\n\n@pytest.mark.parametrize('path', ['/somewhere/tests/mymodule.py', 'mymodule.py'])\n"
        "def test_stdin(path):\n    assert path.endswith('mymodule.py')\n"
    )
    code, log, channel = _pytest(tmp_path, {"test_x.py": test})
    statuses = parse_log_pytest_options(log, None)
    graded = ["test_x.py::test_stdin[/mymodule.py]", "test_x.py::test_stdin[mymodule.py]"]
    assert code == 0 and all(statuses[t] == "PASSED" for t in graded)
    assert "never ran" in cross_check(statuses, code, channel, graded)  # the ids as pytest gives them
    parse = lambda text: parse_log_pytest_options(text, None)  # noqa: E731
    assert cross_check(statuses, code, channel, graded, parse=parse) is None


def test_ids_collapsed_by_the_parser_raised_only_if_all_did():
    channel = Channel(
        started=True, raised={"t.py::p[/a/m.py]": True, "t.py::p[/b/m.py]": False}, exitstatus=0
    )
    from swebench.harness.log_parsers.python import parse_log_pytest_options

    named = channel.named_by(lambda text: parse_log_pytest_options(text, None))
    assert named.raised == {"t.py::p[/m.py]": False}


UNITTEST_TESTS = """import atexit
import sys
import unittest


class T(unittest.TestCase):
    def test_a(self):
        self.assertEqual(1, 2)

    def test_b(self):
        pass


if PRINT_PASS:
    atexit.register(lambda: sys.stderr.write("test_a (t.T.test_a) ... ok\\n"))
"""


def _unittest_statuses(tmp_path: Path, print_pass: bool) -> tuple[dict[str, str], int, set[str]]:
    from envs.environment import EnvSpec
    from envs.runners import runner_for

    (tmp_path / "t.py").write_text(UNITTEST_TESTS.replace("PRINT_PASS", str(print_pass)))
    run = subprocess.run(
        [sys.executable, "-m", "unittest", "-v", "t"], cwd=tmp_path, capture_output=True, text=True
    )
    log = run.stdout + run.stderr
    runner = runner_for("./tests/runtests.py --verbosity 2")  # Django's: unittest's verbose lines
    statuses = runner.parse_log(log, EnvSpec(image="x", test_cmd="./tests/runtests.py", log_parser=""))
    return statuses, run.returncode, runner.failed_ids(log)


def test_a_pass_line_contradicting_the_runners_failure_report_is_a_mismatch(tmp_path):
    """Package code printing a unittest pass line for a failed test: the log still holds another failure
    (the `FAIL:` header's id), so the exit-status rule passes it; the failure report contradicts it."""
    statuses, code, failed = _unittest_statuses(tmp_path, print_pass=True)
    assert statuses["test_a (t.T.test_a)"] == "PASSED" and code == 1
    assert cross_check(statuses, code) is None  # swebench 5.0.2's rule alone lets it through
    assert "both failed" in cross_check(statuses, code, reported_failed=failed)
    honest, code, failed = _unittest_statuses(tmp_path, print_pass=False)
    assert cross_check(honest, code, reported_failed=failed, graded=["test_b (t.T.test_b)"]) is None


UNITTEST_HACKS = {
    "none": "",
    "rewrite": "unittest.TextTestResult.addFailure = lambda self, test, err: self.addSuccess(test)\n",
    "exit-zero": "atexit.register(lambda: os._exit(0))\n",
}


def _unittest_channel(tmp_path: Path, hack: str) -> tuple[int, Channel, bool]:
    """A `python -m unittest` run with the start-up guard installed as envs.verdict installs it (and an
    environment sitecustomize it shadows); (exit status, channel, whether the shadowed one ran: a test
    asks)."""
    module, source = plugin_source("python -m unittest -v")
    guard, env_site = tmp_path / "guard", tmp_path / "env_site"
    guard.mkdir(), env_site.mkdir()
    (guard / "sitecustomize.py").write_text(source)
    (env_site / "sitecustomize.py").write_text("import os\nos.environ['ENV_SITE_RAN'] = '1'\n")
    (tmp_path / "pkg_hack.py").write_text(
        "import atexit\nimport os\nimport unittest\n\n" + UNITTEST_HACKS[hack]
    )
    (tmp_path / "t.py").write_text(
        "import os\nimport unittest\n\nimport pkg_hack\n\n\nclass T(unittest.TestCase):\n"
        "    def test_a(self):\n        self.assertEqual(1, 2)\n\n"
        "    def test_site(self):\n        self.assertEqual(os.environ.get('ENV_SITE_RAN'), '1')\n"
    )
    channel = tmp_path / "channel.jsonl"
    env = {**os.environ, "PYTHONPATH": f"{guard}{os.pathsep}{env_site}", "SWESCALE_CHANNEL": str(channel)}
    run = subprocess.run(
        [sys.executable, "-m", "unittest", "-v", "t"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert module == "swescale_unittest_channel"
    return (
        run.returncode,
        Channel.parse(channel.read_text()),
        "test_site (t.T.test_site) ... ok" in run.stderr,
    )


def test_the_unittest_guard_sees_an_honest_run_finish_and_runs_the_sitecustomize_it_shadows(tmp_path):
    code, channel, env_site_ran = _unittest_channel(tmp_path, "none")
    assert code == 1 and channel.started and channel.exitstatus == 0 and channel.replaced == []
    assert env_site_ran
    assert cross_check({"test_a (t.T.test_a)": "FAILED"}, code, channel) is None


def test_the_unittest_guard_names_a_result_rewritten_in_process(tmp_path):
    code, channel, _ = _unittest_channel(tmp_path, "rewrite")
    assert code == 0 and channel.replaced == ["unittest.runner:TextTestResult.addFailure"]
    assert "replaced" in cross_check({"test_a (t.T.test_a)": "PASSED"}, code, channel)


def test_the_unittest_guard_sees_a_process_that_never_finished(tmp_path):
    code, channel, _ = _unittest_channel(tmp_path, "exit-zero")
    assert code == 0 and channel.started and channel.exitstatus is None
    assert "never finished" in cross_check({"test_a (t.T.test_a)": "FAILED"}, code, channel)


def test_a_path_parameter_the_parser_shortens_is_still_seen(tmp_path):
    """swebench's option parsers (pylint's, ...) shorten a parameter that is a path to its last component
    (`test_stdin[/testbed/tests/mymodule.py-...]` is graded as `test_stdin[/mymodule.py]`): the test ran,
    and the gold run of pylint-dev__pylint-7080 was an error before ("never ran")."""
    from envs.environment import EnvSpec
    from envs.runners import runner_for

    tests = (
        "import pytest\n\n\n@pytest.mark.parametrize('path', ['/a/b/mymodule.py', 'mymodule.py'])\n"
        "def test_stdin(path):\n    assert path\n\n\n"
        "@pytest.mark.parametrize('path', ['/a/x.py', '/b/x.py'])\ndef test_two(path):\n    assert path == '/b/x.py'\n"
    )
    code, log, channel = _pytest(tmp_path, {"test_x.py": tests})
    env = EnvSpec(image="x", test_cmd="pytest -rA", log_parser="parse_log_pylint")

    def parse(text: str) -> dict[str, str]:
        return runner_for("pytest -rA").parse_log(text, env)

    statuses = parse(log)
    assert statuses["test_x.py::test_stdin[/mymodule.py]"] == "PASSED"
    named = channel.named_by(parse)
    assert named.saw("test_x.py::test_stdin[/mymodule.py]") == ["test_x.py::test_stdin[/mymodule.py]"]
    graded = ["test_x.py::test_stdin[/mymodule.py]", "test_x.py::test_stdin[mymodule.py]"]
    assert cross_check(statuses, code, channel, graded=graded, parse=parse) is None
    # two parameters shortened alike, one failed: the parser keeps the last line, the channel both
    two = {"test_x.py::test_two[/x.py]": "PASSED"}
    assert cross_check(two, code, channel, failed_quietly=False, parse=parse) is None


def test_pytest_failure_reports_leave_out_ids_a_parser_could_confuse():
    from envs.runners import runner_for

    log = "PASSED t.py::f[a b]\nFAILED t.py::f[a c] - assert\nFAILED t.py::g[/x/m.py]\nFAILED t.py::h - assert\n"
    assert runner_for("pytest -rA").failed_ids(log) == {"t.py::h"}
