"""Host-side git for the bot: fetch, a clean checkout, the commit of the chosen diff, the push.

The token reaches git only through the environment of the one command that needs it: a credential
helper reads it from SWESCALE_GIT_TOKEN, so it is never in a URL, a config file, an argument list or a log.
Sandboxes never see any of this: they get the repository from the environment image.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sandbox.patch import INDEX, LocalTree, PatchError, apply_patch
from swescale.bot.client import BotError
from swescale.bot.redact import redactor

_TOKEN_ENV = "SWESCALE_GIT_TOKEN"
_HELPER = f'!f() {{ test "$1" = get && echo username=x-access-token && echo "password=${_TOKEN_ENV}"; }}; f'
_SECRET_ENV = ("GITHUB_TOKEN", "GH_TOKEN", _TOKEN_ENV)


class GitError(BotError):
    """A git command failed; the message holds its (redacted) output."""


def _env(token: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SECRET_ENV}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="true")
    if token:
        env[_TOKEN_ENV] = token
    return env


def git(cwd: Path | str, *args: str, token: str | None = None, input: str | None = None) -> str:
    """Run git in `cwd`; with `token`, remote operations authenticate with it. Returns stdout."""
    auth = ["-c", "credential.helper=", "-c", f"credential.helper={_HELPER}"] if token else []
    proc = subprocess.run(
        ["git", *auth, *args],
        cwd=cwd,
        env=_env(token),
        input=input,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        output = redactor.scrub((proc.stderr or proc.stdout).strip())
        raise GitError(f"git {args[0]} failed ({proc.returncode}): {output[-2000:]}")
    return proc.stdout


def rev_parse(repo: Path, ref: str) -> str | None:
    try:
        return git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip() or None
    except GitError:
        return None


def ensure_clone(clone_url: str, dest: Path, token: str | None) -> Path:
    """A workspace of the repository at `dest` (cloned once, fetched later) with `origin` = clone_url."""
    if not (dest / ".git").exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        git(dest.parent, "clone", "--quiet", "--no-checkout", clone_url, dest.name, token=token)
    return dest


def fetch(repo: Path, *refspecs: str, token: str | None) -> None:
    git(repo, "fetch", "--quiet", "--force", "origin", *refspecs, token=token)


def default_branch_commit(repo: Path, branch: str, token: str | None) -> str:
    """The tip of `origin/<branch>` after fetching it."""
    fetch(repo, f"+refs/heads/{branch}:refs/remotes/origin/{branch}", token=token)
    sha = rev_parse(repo, f"refs/remotes/origin/{branch}")
    if sha is None:
        raise GitError(f"origin has no branch {branch}")
    return sha


@contextmanager
def clean_checkout(repo: Path, commit: str) -> Iterator[Path]:
    """A detached worktree of `repo` at `commit` in a temporary folder, removed afterwards."""
    parent = Path(tempfile.mkdtemp(prefix="swescale-commit-"))
    path = parent / "checkout"
    git(repo, "worktree", "add", "--quiet", "--detach", str(path), commit)
    try:
        yield path
    finally:
        try:
            git(repo, "worktree", "remove", "--force", str(path))
        except GitError:
            pass
        shutil.rmtree(parent, ignore_errors=True)
        git(repo, "worktree", "prune")


def commit_patch(checkout: Path, patch: str, message: str, name: str, email: str) -> str:
    """Apply `patch` to the clean checkout and commit it; returns the commit id."""
    try:
        apply_patch(LocalTree(checkout, env=_env(None)), patch, chain=INDEX)
    except PatchError as exc:
        raise GitError(f"git apply failed: {redactor.scrub(exc.output or str(exc))[-2000:]}") from exc
    identity = ["-c", f"user.name={name}", "-c", f"user.email={email}", "-c", "commit.gpgsign=false"]
    git(checkout, *identity, "commit", "--quiet", "--no-verify", "-m", message)
    return git(checkout, "rev-parse", "HEAD").strip()


def push(repo: Path, commit: str, branch: str, token: str | None) -> None:
    """Force-push `commit` to `origin` as `branch` (a branch under the bot's own prefix)."""
    git(repo, "push", "--quiet", "--force", "origin", f"{commit}:refs/heads/{branch}", token=token)


def pr_diff(repo: Path, base: str, head: str) -> tuple[str, str]:
    """(start, diff): the changes of `head` since its merge base with `base`, as GitHub shows a PR."""
    try:
        start = git(repo, "merge-base", base, head).strip()
    except GitError:
        start = git(repo, "rev-parse", base).strip()  # shallow history: the base itself
    return start, git(repo, "diff", "--binary", start, head)
