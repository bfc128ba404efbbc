"""What SWE-bench's harness environments hold beyond what its specs say, for builds without conda.

The harness creates a conda env (`conda create -n testbed python=X`) and then runs the spec's installs with
network. So its environments also had: conda's pip, setuptools and wheel of the time (with `wheel`
importable, pip installs a project without pyproject.toml in editable mode by `setup.py develop`, which puts
the work tree on sys.path; without it pip builds a PEP 660 import-finder install that tools such as
astroid's modutils cannot map back to files), the dependency releases of the time, and httpbin.org on the
internet. Here: the same base packages, constraints for dependencies whose later releases broke old
versions, and local stand-ins of the internet the tests call (envs/internet.py).
"""

from __future__ import annotations

from envs.task import Task

BASE_PACKAGES = ["pip==24.0", "setuptools==75.1.0", "wheel==0.44.0"]
"""The conda env's own packages in late 2024 (pip 24 still falls back to `setup.py develop` for editable
installs whose build backend lacks PEP 660's `build_editable`, e.g. pylint 2.15's setuptools~=62.6)."""

CONSTRAINTS: dict[str, list[tuple[str, str]]] = {
    "sphinx-doc/sphinx": [
        # the listed tests were computed with the docutils of 2023; 0.21 changed the man page writer
        # (.EX/.EE literal blocks: test_build_manpage), 0.22 removed docutils.utils.roman (LaTeX writer)
        ("docutils<0.21", "docutils 0.21 and later change output the listed tests compare against"),
    ],
}
"""repo -> [(pip constraint, why)]: later releases that fail tests the harness's environments passed."""


def constraints(task: Task) -> list[str]:
    return [spec for spec, _why in CONSTRAINTS.get(task.repo, [])]
