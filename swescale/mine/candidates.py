"""Candidates: commits of a repository's history that change source and test files, split into `patch`
(source and everything else) and `test_patch` (test files), the way SWE-bench splits a pull request."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import PurePosixPath

import git
from pydantic import BaseModel

from envs.grading import test_directives
from envs.task import Task
from sandbox.patch import PatchError, file_patches, path_matches, split_tests
from swescale.mine.config import MineConfig

_GITHUB = re.compile(r"github\.com[:/]([^/]+)/([^/]+?)(?:\.git)?/?$")


class Candidate(BaseModel):
    """One commit (or merged pull request) and its split diff; `reason` says why it is no candidate."""

    sha: str
    parent: str = ""
    kind: str = "commit"
    """`commit`, or `pr` for a pull request's merge commit (diff against its first parent)."""
    pr: int = 0
    """Pull request number, when the GitHub API named one."""
    pr_text: str = ""
    """Title and body of that pull request (searched for linked issues)."""
    date: str = ""
    """Commit date, ISO 8601 in UTC."""
    message: str = ""
    patch: str = ""
    test_patch: str = ""
    reason: str = ""
    """Empty for a candidate; else why the commit cannot become a task."""

    @property
    def subject(self) -> str:
        return self.message.strip().splitlines()[0] if self.message.strip() else ""


def repo_name(source: str, repo: git.Repo) -> str:
    """`owner/name`: from a GitHub URL, a remote of the repository, a mirror folder `owner+name`, else
    `local/<folder>`."""
    urls = [source, *(u for remote in repo.remotes for u in remote.urls)]
    for url in urls:
        match = _GITHUB.search(url.strip())
        if match:
            return f"{match.group(1)}/{match.group(2)}"
    path = PurePosixPath(source.rstrip("/"))
    for part in (path.name, path.parent.name):
        if re.fullmatch(r"[\w.-]+\+[\w.-]+", part):
            return part.replace("+", "/", 1)
    name = path.name.removesuffix(".git") if path.name not in ("repo", ".git") else path.parent.name
    return f"local/{re.sub(r'[^A-Za-z0-9_.-]+', '-', name) or 'repo'}"


def scan(
    repo: git.Repo, since: str | None = None, until: str | None = None, limit: int | None = None
) -> Iterator[git.Commit]:
    """Non-merge commits reachable from HEAD, newest first, in [since, until], at most `limit`."""
    kwargs: dict = {"no_merges": True}
    if since:
        kwargs["since"] = since
    if until:
        kwargs["until"] = until
    if limit:
        kwargs["max_count"] = limit
    yield from repo.iter_commits("HEAD", **kwargs)


def _diff(repo: git.Repo, parent: str, sha: str) -> str | None:
    """The commit's diff (no renames: each file whole on its own), or None when it is not UTF-8."""
    raw = repo.git.diff(parent, sha, "--no-color", "--no-ext-diff", "--no-renames", stdout_as_string=False)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if not text or text.endswith("\n") else text + "\n"


def split(repo: git.Repo, commit: git.Commit, config: MineConfig, parent: str = "") -> Candidate:
    """The commit as a candidate, or with `reason` set when it is none."""
    when = datetime.fromtimestamp(commit.committed_date, tz=UTC).isoformat().replace("+00:00", "Z")
    cand = Candidate(sha=commit.hexsha, date=when, message=str(commit.message))
    if not commit.parents:
        return cand.model_copy(update={"reason": "root commit (no parent)"})
    cand.parent = parent or commit.parents[0].hexsha
    text = _diff(repo, cand.parent, cand.sha)
    if text is None:
        return cand.model_copy(update={"reason": "diff is not UTF-8"})
    if not text.strip():
        return cand.model_copy(update={"reason": "empty diff"})
    if text.count("\n") > config.max_patch_lines:
        return cand.model_copy(update={"reason": f"diff longer than {config.max_patch_lines} lines"})
    try:
        files = file_patches(text)
    except PatchError as exc:
        return cand.model_copy(update={"reason": f"unparsable diff: {exc}"})
    binary = [f.path for f in files if f.binary]
    if binary:
        return cand.model_copy(update={"reason": f"binary file changed: {binary[0]}"})
    others, tests = split_tests(files, config.test_patterns)
    sources = [
        f
        for f in others
        if PurePosixPath(f.path).suffix in config.source_suffixes
        and not path_matches(f.path, config.doc_patterns)
    ]
    if not tests and not sources:
        return cand.model_copy(update={"reason": "changes neither source nor test files"})
    if not tests:
        return cand.model_copy(update={"reason": "no test file changed"})
    if not sources:
        return cand.model_copy(update={"reason": "no source file changed"})
    cand.patch = "".join(f.text for f in others)
    cand.test_patch = "".join(f.text for f in tests)
    return _check_directives(cand, tests)


def _check_directives(cand: Candidate, tests: list) -> Candidate:
    """The harness passes the test modules of test_patch to the test command: there must be one, and
    none of them deleted."""
    directives = [
        d for d in test_directives(Task(instance_id="x", test_patch=cand.test_patch)) if d.endswith(".py")
    ]
    if not directives:
        return cand.model_copy(update={"reason": "no test module changed (only test data)"})
    deleted = [f.path for f in tests if f.removed and f.path in directives]
    if deleted:
        return cand.model_copy(update={"reason": f"deletes test file {deleted[0]}"})
    return cand


def nearest_version(repo: git.Repo, commit: str) -> str:
    """`major.minor` of the nearest tag before `commit` (SWE-bench's `version`), or ""."""
    try:
        tag = repo.git.describe("--tags", "--abbrev=0", commit)
    except git.GitCommandError:
        return ""
    match = re.search(r"(\d+)\.(\d+)", tag)
    return f"{match.group(1)}.{match.group(2)}" if match else ""
