"""Harness-style evaluation scripts, and grading with swebench's own parsers and grading functions.

swebench's harness is imported lazily: importing it loads `datasets` and runs load_dotenv.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from envs.runners import runner_for
from envs.specs import harness_spec, harness_test_cmd, reinstall_command
from envs.task import Task
from sandbox.patch import changed_paths, parse_patch

if TYPE_CHECKING:
    from swebench.types import TestSpec

    from envs.environment import EnvSpec

HEREDOC = "EOF_114329324912"
START, END = ">>>>> Start Test Output", ">>>>> End Test Output"


def test_files(test_patch: str) -> list[str]:
    """Existing files a patch modifies (the harness's get_modified_files: new files excluded)."""
    return [
        f.source_file[2:]
        for f in parse_patch(test_patch)
        if f.source_file != "/dev/null" and f.source_file.startswith("a/")
    ]


def test_directives(task: Task, env: EnvSpec | None = None) -> list[str]:
    """What the harness (swebench 4.x get_test_directives) passes to the test command: the test patch's
    files, as the runner of `env`'s test command (else of the task's harness spec) names them
    (envs.runners: `Runner.directives`)."""
    from swebench.harness.constants import NON_TEST_EXTS

    files = [d for d in changed_paths(task.test_patch) if not any(d.endswith(ext) for ext in NON_TEST_EXTS)]
    test_cmd = env.test_cmd if env is not None else harness_test_cmd(harness_spec(task))
    return runner_for(test_cmd).directives(files)


def eval_script(task: Task, env: EnvSpec) -> str:
    """The task's own 5.x script, else a harness-style one: reinstall a non-editable package (so the
    applied patch takes effect), reset tests, apply test_patch, run, reset."""
    if env.eval_script:
        return env.eval_script
    files = " ".join(test_files(task.test_patch))
    reset = f"git checkout {task.base_commit} {files}" if files else 'echo "No test files to reset"'
    lines = [
        "#!/bin/bash",
        "set -uxo pipefail",
        f"cd {env.workdir}",
        *env.eval_commands,
        f"git config --global --add safe.directory {env.workdir}",
        f"cd {env.workdir}",
        "git status",
        f"git -c core.fileMode=false diff {task.base_commit}",
        *filter(None, [reinstall_command(harness_spec(task))]),
        reset,
        f"git apply -v - <<'{HEREDOC}'\n{task.test_patch}\n{HEREDOC}",
        f": '{START}'",
        " ".join([env.test_cmd, *test_directives(task, env)]),
        f": '{END}'",
        reset,
    ]
    return "\n".join(lines) + "\n"


def eval_type(task: Task) -> str:
    from swebench.harness.constants import FAIL_ONLY_REPOS

    return task.eval_type or ("fail_only" if task.repo in FAIL_ONLY_REPOS else "pass_and_fail")


def harness_instance(task: Task, env: EnvSpec) -> dict[str, Any]:
    """The task as a swebench 5.x instance running in `env` (what the harness's make_test_spec reads)."""
    return {
        **task.model_dump(
            include={
                "instance_id",
                "repo",
                "version",
                "base_commit",
                "FAIL_TO_PASS",
                "PASS_TO_PASS",
                "problem_statement",
                "patch",
                "test_patch",
            }
        ),
        "image": env.image,
        "eval_script": eval_script(task, env),
        "log_parser": env.log_parser,
        "eval_type": eval_type(task),
    }


def test_spec(task: Task, env: EnvSpec) -> TestSpec:
    """swebench's TestSpec (its eval script records the test exit code, as in the harness)."""
    from swebench.harness.utils import make_test_spec

    return make_test_spec(harness_instance(task, env))


def grade(task: Task, env: EnvSpec, prediction: dict, log_path: str) -> dict[str, Any]:
    """swebench's per-instance report ({instance_id: {resolved, tests_status, ...}}) for a test log."""
    from swebench.harness.grading import get_eval_report

    return get_eval_report(
        test_spec=test_spec(task, env),
        prediction=prediction,
        test_log_path=log_path,
        include_tests_status=True,
    )


def log_statuses(task: Task, env: EnvSpec, log_path: str) -> dict[str, str] | None:
    """Test id -> status of an evaluation log, read exactly as `grade` reads it (swebench's
    get_logs_eval: markers, parser, exit-code cross-check); None when the log shows no valid test run."""
    from swebench.harness.grading import get_logs_eval

    statuses, found = get_logs_eval(test_spec(task, env), log_path)
    return (
        {test: str(getattr(status, "value", status)) for test, status in statuses.items()} if found else None
    )
