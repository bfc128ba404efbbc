"""Small git repositories of the tests: fixed identities and dates (same commit SHAs, hence the same image
keys, in every session: images build once per machine) and the pyproject of a tiny package."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@t",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@t",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
}


def git(cwd: Path, *args: str, date: str | None = None) -> str:
    """Run git in `cwd` with the fixed identity (and `date`, ISO 8601, instead of the fixed one); its
    stdout without its last newline (a diff's text: add it back; strip() would also cut a last context
    line's space)."""
    dates = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date} if date else {}
    env = {**os.environ, **GIT_ENV, **dates}
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env)
    return done.stdout.removesuffix("\n")


def pyproject(name: str, src_layout: bool = False) -> str:
    """A setuptools project `name` whose test extra is pytest (`src_layout`: packages under src/)."""
    text = f"""[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "0.1"

[project.optional-dependencies]
test = ["pytest"]
"""
    return text + ('\n[tool.setuptools.packages.find]\nwhere = ["src"]\n' if src_layout else "")
