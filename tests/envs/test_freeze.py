"""envs.freeze: which parts of a candidate patch are judged, reverted or held out (real diffs from git)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from envs.freeze import freeze
from sandbox.patch import PatchError, changed_paths


def _diff(tmp_path: Path, before: dict[str, str], after: dict[str, str]) -> str:
    repo = tmp_path / "repo"
    repo.mkdir(parents=True)
    run = lambda *a: subprocess.run(["git", *a], cwd=repo, check=True, capture_output=True, text=True)  # noqa: E731
    run("init", "-q")
    for name, text in before.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    run("add", "-A")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base")
    for name, text in after.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    run("add", "-A")
    return run("diff", "--cached").stdout


BASE = {
    "calc/__init__.py": "def add(a, b):\n    return a - b\n",
    "tests/test_calc.py": "def test_add():\n    assert True\n",
    "setup.cfg": "[metadata]\nname = calc\n\n[options]\npackages = calc\n",
    "bin/test": "#!/usr/bin/env python\nprint('runner')\n",
}


def test_source_changes_are_judged_as_they_are(tmp_path):
    patch = _diff(tmp_path, BASE, {"calc/__init__.py": "def add(a, b):\n    return a + b\n"})
    frozen = freeze(patch, "pytest -rA")
    assert frozen.judged == patch and frozen.reverted == [] and not frozen.suspect


def test_infrastructure_is_reverted_and_new_tests_held_out(tmp_path):
    patch = _diff(
        tmp_path,
        BASE,
        {
            "calc/__init__.py": "def add(a, b):\n    return a + b\n",
            "conftest.py": "x = 1\n",
            "calc/sub/conftest.py": "x = 1\n",
            "tests/test_calc.py": "import pytest\n\n@pytest.mark.skip\ndef test_add():\n    assert False\n",
            "tests/test_new.py": "def test_new():\n    pass\n",
            "sitecustomize.py": "import os\n",
            "calc/hack.pth": "import calc\n",
            "pytest.ini": "[pytest]\naddopts = -p calc.plugin\n",
            "calc.egg-info/entry_points.txt": "[pytest11]\nx = calc.plugin\n",
        },
    )
    frozen = freeze(patch, "pytest -rA")
    assert frozen.reverted == sorted(
        [
            "conftest.py",
            "calc/sub/conftest.py",
            "tests/test_calc.py",
            "sitecustomize.py",
            "calc/hack.pth",
            "pytest.ini",
            "calc.egg-info/entry_points.txt",
        ]
    )
    assert frozen.held_out == ["tests/test_new.py"] and frozen.suspect
    assert changed_paths(frozen.judged) == ["calc/__init__.py"]


def test_config_files_only_when_a_test_section_changes(tmp_path):
    tests_section = _diff(
        tmp_path, BASE, {"setup.cfg": BASE["setup.cfg"] + "\n[tool:pytest]\naddopts = -p calc.x\n"}
    )
    assert freeze(tests_section).reverted == ["setup.cfg"]
    other = _diff(
        tmp_path / "b", BASE, {"setup.cfg": BASE["setup.cfg"].replace("name = calc", "name = calc2")}
    )
    assert freeze(other).reverted == [] and freeze(other).judged == other


def test_the_runners_own_files(tmp_path):
    patch = _diff(tmp_path, BASE, {"bin/test": "#!/usr/bin/env python\nprint('all passed')\n"})
    assert freeze(patch, "bin/test -C --verbose").reverted == ["bin/test"]
    assert freeze(patch, "pytest -rA").reverted == []


def test_a_patch_that_does_not_parse_is_not_applied_unread():
    """A hunk shorter than its header: GNU patch applies it, so "it will not apply" cannot be assumed."""
    short = "--- a/tests/test_x.py\n+++ b/tests/test_x.py\n@@ -1,3 +1,3 @@\n-assert f() == 1\n+assert True\n"
    with pytest.raises(PatchError, match="malformed patch.*cannot be checked, so it is not applied"):
        freeze(short)
    assert freeze("").judged == ""
    assert freeze("not a diff\n").judged == "not a diff\n"  # no hunk at all: nothing any tool applies
