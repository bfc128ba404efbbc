"""Test directives of the evaluation script: the harness's list, without data files under pytest."""

from __future__ import annotations

from envs import grading
from envs.environment import EnvSpec
from envs.task import Task


def _diff(*paths: str) -> str:
    return "".join(f"diff --git a/{p} b/{p}\n--- a/{p}\n+++ b/{p}\n@@ -1 +1 @@\n-a\n+b\n" for p in paths)


def test_pytest_gets_only_python_files():
    task = Task(instance_id="x", test_patch=_diff("tests/test_a.py", "tests/files/q.sql", "tests/data.json"))
    assert grading.test_directives(task) == ["tests/test_a.py", "tests/files/q.sql"]  # the harness's list
    pytest_env = EnvSpec(image="i", test_cmd="python -m pytest -rA")
    assert grading.test_directives(task, pytest_env) == ["tests/test_a.py"]
    assert "python -m pytest -rA tests/test_a.py\n" in grading.eval_script(
        task.model_copy(update={"base_commit": "c"}), pytest_env
    )
    other = EnvSpec(image="i", test_cmd="bin/test")
    assert grading.test_directives(task, other) == ["tests/test_a.py", "tests/files/q.sql"]
