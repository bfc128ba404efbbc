"""django without its history (too large to fetch here): what a user's clone goes through, on a stand-in
repository with django's layout. (An image build and test run need the real clone: `--repos-dir`.)"""

from __future__ import annotations

from envs import grading
from envs.environment import base_pythons
from envs.repos import open_source
from envs.specs import build_plan
from envs.task import Task
from tests.envs.conftest import make_repo

TEST_PATCH = (
    "diff --git a/tests/admin_views/tests.py b/tests/admin_views/tests.py\n"
    "--- a/tests/admin_views/tests.py\n+++ b/tests/admin_views/tests.py\n"
    "diff --git a/tests/forms_tests/widget_tests/test_select.py b/tests/forms_tests/widget_tests/test_select.py\n"
)


def _django_clone(tmp_path) -> tuple[str, str]:
    folder = tmp_path / "repos" / "django__django"
    base = make_repo(
        folder,
        {
            "setup.py": "from setuptools import setup\nsetup(name='Django')\n",
            "tests/requirements/py3.txt": "asgiref >= 3.2\npytz\nsqlparse\n",
            "tests/runtests.py": "#!/usr/bin/env python\n",
        },
    )
    return str(tmp_path / "repos"), base


def test_a_users_django_clone_gets_the_harness_plan(tmp_path):
    repos_dir, base = _django_clone(tmp_path)
    task = Task(
        instance_id="django__django-11099",
        repo="django/django",
        version="3.0",
        base_commit=base,
        environment_setup_commit=base,
        test_patch=TEST_PATCH,
    )
    repo, source = open_source(task, repos_dir)
    assert source.endswith("django__django")
    plan = build_plan(task, repo, "3.11")
    assert plan.source == "swebench-specs" and plan.python == "3.6"
    requirements = plan.files["/tmp/swescale/requirements.txt"]
    assert (
        "asgiref >= 3.2" in requirements and "argon2-cffi" not in requirements
    )  # -r is relative to the file
    assert ("install", "python -m pip install -e .") in plan.steps
    assert any("locale-gen" in cmd for _, cmd in plan.steps) or any(
        "locale-gen" in c for c in plan.eval_commands
    )
    assert "export LANG=en_US.UTF-8" in plan.eval_commands
    assert plan.test_cmd.startswith("./tests/runtests.py --verbosity 2 --settings=test_sqlite")
    assert plan.log_parser == "parse_log_django"
    assert grading.test_directives(task) == ["admin_views.tests", "forms_tests.widget_tests.test_select"]


def test_old_pythons_run_on_the_nearest_debian_python():
    assert base_pythons("3.6", "3.11")[:2] == ["3.6", "3.9"]  # django 3.0-3.2, scikit-learn 0.2x
    assert base_pythons("3.10", "3.11")[:2] == ["3.10", "3.11"]  # xarray 0.12, flask 2.1
    assert base_pythons("3.9", "3.11") == ["3.9", "3.11", "3.13"]
