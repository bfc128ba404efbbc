"""Environment faults on logs shaped like the harness's: what cannot have measured the patch is a fault,
what the patch itself broke is not. (End to end, with Docker: test_envs_validate.py.)"""

from __future__ import annotations

from envs.faults import classify
from envs.task import Task

TASK = Task(
    instance_id="o__r-1",
    repo="o/r",
    base_commit="abc",
    test_patch="diff --git a/tests/test_m.py b/tests/test_m.py\n--- a/tests/test_m.py\n+++ b/tests/test_m.py\n",
    FAIL_TO_PASS=["tests/test_m.py::test_new"],
    PASS_TO_PASS=["tests/test_m.py::test_old"],
)
HEAD = "+ git apply -v -\nChecking patch tests/test_m.py...\nApplied patch tests/test_m.py cleanly.\n"


def log(section: str, exit_code: int = 1, head: str = HEAD) -> str:
    return (
        f"{head}+ : '>>>>> Start Test Output'\n{section}\n+ : '>>>>> End Test Output'\n"
        f">>>>> Test Exit Code: {exit_code}\n"
    )


def repo_modules(name: str) -> bool:
    return name in ("pkg", "tests")


def fault(text: str, status: dict[str, str] | None = None, patch: str = "", task: Task = TASK):
    return classify(task, text, status or {}, patch, test_cmd="pytest -rA", in_repo=repo_modules)


def test_script_that_never_reached_the_tests():
    found = fault("+ cd /testbed\nfatal: not a git repository\n")
    assert found.kind == "no-start" and "not a git repository" in found.reason


def test_test_command_not_found():
    found = fault(log("/eval.sh: line 12: pytest: command not found", exit_code=127))
    assert found.kind == "test-command" and "command not found" in found.reason


def test_interpreter_without_the_runner():
    found = fault(log("/testbed/.tox/py39/bin/python: No module named pytest"))
    assert found.kind == "test-runner" and "/testbed/.tox/py39/bin/python" in found.reason


def test_missing_dependency_at_collection():
    section = (
        "ImportError while loading conftest '/testbed/tests/conftest.py'.\n"
        "tests/conftest.py:1: in <module>\n    import hypothesis\n"
        "E   ModuleNotFoundError: No module named 'hypothesis'\n"
    )
    found = fault(log(section))
    assert found.kind == "dependency" and "hypothesis" in found.reason


def test_import_of_a_name_a_dependency_lacks():
    section = (
        "E   ImportError: cannot import name 'environmentfilter' from 'jinja2' "
        "(/opt/venv/lib/python3.9/site-packages/jinja2/__init__.py)\n"
        "ERROR tests/test_m.py\n"
    )
    found = fault(log(section), {"tests/test_m.py": "ERROR"})
    assert found.kind == "dependency" and "jinja2" in found.reason


def test_every_listed_test_missing_without_code_error():
    found = fault(log("============ no tests ran in 0.01s ============", exit_code=5))
    assert found.kind == "no-tests" and "2 listed tests" in found.reason


def test_patch_breaking_collection_is_unresolved_not_an_error():
    section = (
        "ERROR collecting tests/test_m.py\n"
        '  File "/testbed/pkg/mod.py", line 3\n    def f(:\n'
        "E   SyntaxError: invalid syntax\nERROR tests/test_m.py\n"
    )
    assert (
        fault(log(section), {"tests/test_m.py": "ERROR"}, patch="diff --git a/pkg/mod.py b/pkg/mod.py\n")
        is None
    )


def test_missing_repository_module_is_the_code_not_the_environment():
    section = (
        "ImportError while importing test module '/testbed/tests/test_m.py'.\n"
        "E   ModuleNotFoundError: No module named 'pkg.newmod'\nERROR tests/test_m.py\n"
    )
    assert fault(log(section), {"tests/test_m.py": "ERROR"}) is None


def test_dependency_the_patch_imports_is_the_patch():
    section = "E   ModuleNotFoundError: No module named 'numpy'\nERROR tests/test_m.py\n"
    patch = "diff --git a/pkg/mod.py b/pkg/mod.py\n--- a/pkg/mod.py\n+++ b/pkg/mod.py\n@@ -1,0 +2 @@\n+import numpy as np\n"
    assert fault(log(section), {"tests/test_m.py": "ERROR"}, patch=patch) is None


def test_optional_dependency_skips_do_not_count():
    section = (
        "SKIPPED [1] tests/test_x.py:3: could not import 'numpy': No module named 'numpy'\n"
        "E   ModuleNotFoundError: No module named 'pkg.newmod'\nERROR tests/test_m.py\n"
    )
    assert fault(log(section), {"tests/test_m.py": "ERROR"}) is None


def test_listed_tests_failing_on_the_network():
    section = (
        "________________________________ test_new ________________________________\n"
        "E   socket.gaierror: [Errno -3] Temporary failure in name resolution\n"
        "FAILED tests/test_m.py::test_new - ConnectionError: ...\nPASSED tests/test_m.py::test_old\n"
    )
    found = fault(
        log(section), {"tests/test_m.py::test_new": "FAILED", "tests/test_m.py::test_old": "PASSED"}
    )
    assert found.kind == "environment" and "needs the network" in found.reason


def test_one_real_failure_keeps_the_verdict():
    section = (
        "________________________________ test_new ________________________________\n"
        "E   socket.gaierror: [Errno -3] Temporary failure in name resolution\n"
        "________________________________ test_old ________________________________\n"
        "E   assert 1 == 2\n"
    )
    status = {"tests/test_m.py::test_new": "FAILED", "tests/test_m.py::test_old": "FAILED"}
    assert fault(log(section), status) is None


def test_test_patch_that_did_not_apply():
    head = "+ git apply -v -\nChecking patch tests/test_m.py...\nerror: while searching for:\n"
    found = fault(log("collected 0 items", head=head))
    assert found.kind == "test-patch"


def test_measured_failure_is_no_fault():
    status = {"tests/test_m.py::test_new": "FAILED", "tests/test_m.py::test_old": "PASSED"}
    assert fault(log("E   assert 3 == 4\nFAILED tests/test_m.py::test_new - assert 3 == 4"), status) is None


def test_long_test_names_have_short_section_headers():
    task = TASK.model_copy(
        update={"FAIL_TO_PASS": ["tests/test_m.py::Suite::" + "t" * 80], "PASS_TO_PASS": []}
    )
    section = f"_ Suite.{'t' * 80} _\nE   requests.exceptions.ConnectionError: [Errno -3] Temporary failure\n"
    found = fault(log(section), {task.FAIL_TO_PASS[0]: "FAILED"}, task=task)
    assert found.kind == "environment"


def test_https_to_a_host_served_here_over_http():
    section = (
        "________________________________ test_new ________________________________\n"
        "E   urllib3.exceptions.MaxRetryError: HTTPSConnectionPool(host='httpbin.org', port=443): "
        "Max retries exceeded (Caused by NewConnectionError: [Errno 111] Connection refused)\n"
    )
    status = {"tests/test_m.py::test_new": "FAILED", "tests/test_m.py::test_old": "PASSED"}
    assert "HTTPS" in fault(log(section), status).reason
