"""Frozen test infrastructure: what of a candidate patch is applied when tests judge it.

The files that decide how tests run and report come from the base commit (plus the task's test patch),
never from the candidate: `conftest.py` anywhere, `pytest.ini`/`tox.ini`, the test sections of
`setup.cfg`/`pyproject.toml`/`setup.py` (a change to such a file that touches a test section is reverted
whole), `sitecustomize.py`/`usercustomize.py`, `.pth` files, installed metadata (`*.egg-info`,
`*.dist-info`: entry points), the runner's own files (`Runner.infrastructure`: sympy's `bin/test`,
Django's `runtests.py`) and existing files of the repository's test folders (`sandbox.patch.is_test_path`).
A candidate's new test files are left out of the judging run too (they are "tests the candidates bring",
selection/candidate_tests.py), but are not held against it.

`freeze(patch, test_cmd)` splits a patch: `judged` is applied, `reverted` names the infrastructure files
the candidate touched (recorded, shown as "touches test infrastructure", and the candidate is suspect).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from envs.runners import runner_for
from sandbox.patch import FilePatch, PatchError, file_patches, is_test_path, path_matches

INFRASTRUCTURE = (
    "**/conftest.py",
    "**/pytest.ini",
    "**/tox.ini",
    "**/sitecustomize.py",
    "**/usercustomize.py",
    "**/*.pth",
    "**/*.egg-info/**",
    "**/*.dist-info/**",
)
"""Files that change how any Python test run starts or reports, whoever runs it."""
CONFIG_FILES = ("**/setup.cfg", "**/pyproject.toml", "**/setup.py")
"""Configuration files with test sections: frozen when the candidate's change touches one."""
TEST_SECTION = re.compile(
    r"pytest|tox|testenv|addopts|unittest|nose|entry.points|plugins|python_files|python_functions"
    r"|testpaths|norecursedirs|doctest|filterwarnings|-p\s",
    re.IGNORECASE,
)
"""Any line of a config file's hunks (context included) naming one of these: the change touches tests."""


@dataclass(frozen=True)
class Frozen:
    """A candidate patch split for judging."""

    judged: str
    """What is applied when tests judge the candidate (the source changes)."""
    reverted: list[str] = field(default_factory=list)
    """Test infrastructure the candidate changed, reverted to the base (it makes the candidate suspect)."""
    held_out: list[str] = field(default_factory=list)
    """New test files the candidate adds: judged separately, as tests the candidates bring."""

    @property
    def suspect(self) -> bool:
        return bool(self.reverted)


def _touches_test_section(fp: FilePatch) -> bool:
    lines = fp.text.splitlines()[1:]  # the hunks; the header names only the file
    return any(TEST_SECTION.search(line) for line in lines if not line.startswith(("---", "+++")))


def is_infrastructure(fp: FilePatch, runner_files: tuple[str, ...] = ()) -> bool:
    """Does this file's change touch test infrastructure (INFRASTRUCTURE, the runner's own files, a config
    file's test section, an existing test file)?"""
    paths = [p for p in (fp.old_path, fp.new_path) if p]
    if any(path_matches(p, (*INFRASTRUCTURE, *runner_files)) for p in paths):
        return True
    if any(path_matches(p, CONFIG_FILES) for p in paths) and _touches_test_section(fp):
        return True
    return fp.old_path is not None and is_test_path(fp.old_path)


def freeze(patch: str, test_cmd: str = "") -> Frozen:
    """`patch` split into what is judged and what is reverted or held out (`test_cmd` names the runner,
    whose own files are frozen too).

    Raises PatchError for a patch unidiff cannot read: its test files cannot be told from its source, and
    "it will not apply" does not hold (GNU `patch`, the harness's last resort, applies a hunk shorter than
    its header), so it is not applied at all."""
    try:
        files = file_patches(patch)
    except PatchError as exc:
        raise PatchError(f"{exc}; its test files cannot be checked, so it is not applied") from exc
    runner_files = runner_for(test_cmd).infrastructure if test_cmd else ()
    judged, reverted, held_out = [], [], []
    for fp in files:
        if is_infrastructure(fp, runner_files):
            reverted.append(fp.path)
        elif is_test_path(fp.path):
            held_out.append(fp.path)
        else:
            judged.append(fp.text)
    if not reverted and not held_out:
        return Frozen(judged=patch)
    return Frozen("".join(judged), sorted(set(reverted)), sorted(set(held_out)))
