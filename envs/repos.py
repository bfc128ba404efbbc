"""Where a task's code comes from, and the sanitized copy that goes into an image.

Order: the task's `repo_url` (git URL or local path), a mirror `<repos_dir>/owner__name`, then
`https://github.com/<repo>`. Remote sources are cloned once into a cache and fetched when a commit is missing.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import git

from envs.task import Task

CACHE = Path(os.environ.get("SWESCALE_CACHE", "~/.cache/swescale")).expanduser() / "repos"


class RepoError(RuntimeError):
    """The repository or the commit could not be obtained."""


def candidate_sources(task: Task, repos_dir: str | Path = "") -> list[str]:
    """Possible origins of the task's repository, best first."""
    out: list[str] = []
    if task.repo_url:
        out.append(task.repo_url)
    if repos_dir and task.repo:
        owner_name = task.repo.replace("/", "__")
        base = Path(repos_dir).expanduser()
        out += [str(p) for p in (base / owner_name, base / f"{owner_name}.git") if p.exists()]
    if task.repo:
        out.append(f"https://github.com/{task.repo}")
    return out


def _is_local(source: str) -> bool:
    return not re.match(r"^[a-z+]+://|^[^/]+@[^/]+:", source) or source.startswith("file://")


def _has_commit(repo: git.Repo, commit: str) -> bool:
    try:
        repo.git.cat_file("-e", f"{commit}^{{commit}}")
        return True
    except git.GitCommandError:
        return False


def _cached_clone(url: str, commits: list[str]) -> git.Repo:
    """A bare cache clone of a remote repository holding `commits` (fetched when missing)."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", url.rstrip("/").split("://")[-1])[-60:]
    path = CACHE / f"{slug}-{hashlib.sha1(url.encode()).hexdigest()[:8]}.git"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        git.Repo.clone_from(url, path, bare=True, env={"GIT_TERMINAL_PROMPT": "0"})
    repo = git.Repo(path)
    missing = [c for c in commits if c and not _has_commit(repo, c)]
    if missing:
        repo.git.fetch(url, "+refs/heads/*:refs/heads/*", "--tags")
        for commit in missing:
            if not _has_commit(repo, commit):
                repo.git.fetch(url, commit)
    return repo


def _open_local(path: str) -> git.Repo:
    """A local repository: a work tree, a bare clone, or a git directory without a `config` file (such
    as a copied or linked mirror), which GitPython would take for the work tree of its parent folder."""
    repo = git.Repo(path)
    folder = Path(path)
    if not repo.bare and (folder / "HEAD").is_file() and (folder / "objects").is_dir():
        repo.git.update_environment(GIT_DIR=str(folder))
    return repo


def open_source(task: Task, repos_dir: str | Path = "") -> tuple[git.Repo, str]:
    """A local git repository holding the task's base commit, and where it came from."""
    commits = [task.base_commit or "HEAD", task.environment_setup_commit]
    errors = []
    for source in candidate_sources(task, repos_dir):
        try:
            if _is_local(source):
                repo = _open_local(source.removeprefix("file://"))
            else:
                repo = _cached_clone(source, commits)
            if task.base_commit and not _has_commit(repo, task.base_commit):
                errors.append(f"{source}: no commit {task.base_commit}")
                continue
            return repo, source
        except (git.GitError, OSError) as exc:
            errors.append(f"{source}: {type(exc).__name__}: {str(exc).strip()[:200]}")
    if not errors:
        errors.append("the task has neither repo_url nor repo")
    raise RepoError(f"{task.instance_id}: repository not found: " + "; ".join(errors))


def read_file_at(repo: git.Repo, commit: str, path: str) -> str | None:
    """A file's content at a commit, or None."""
    try:
        return repo.git.show(f"{commit}:{path}")
    except git.GitCommandError:
        return None


def sanitized_checkout(repo: git.Repo, commit: str, dest: Path) -> str:
    """Clone to `dest` at `commit` (detached) keeping no object, ref, remote or reflog after it; returns the SHA.

    The copy holds exactly the history reachable from `commit`, so the agent cannot read future commits.
    Tags of earlier commits stay (version tools such as setuptools_scm read them); later tags go.
    """
    clone = git.Repo.clone_from(repo.git_dir, dest, no_local=True, no_checkout=True, no_hardlinks=True)
    g = clone.git
    g.checkout("--detach", commit)
    sha = clone.head.commit.hexsha
    for remote in list(clone.remotes):
        clone.delete_remote(remote)
    past_tags = {f"refs/tags/{t}" for t in g.tag("--merged", sha).split()}
    for ref in g.for_each_ref("--format=%(refname)").split():
        if ref not in past_tags:
            g.update_ref("-d", ref)
    for name in ("FETCH_HEAD", "ORIG_HEAD"):
        (Path(clone.git_dir) / name).unlink(missing_ok=True)
    g.reflog("expire", "--expire=now", "--all")
    g.repack("-a", "-d", "-q")
    g.prune("--expire=now")
    g.config("user.email", "swescale@localhost")
    g.config("user.name", "swescale")
    reachable = {line.split()[0] for line in g.rev_list("--objects", "HEAD", "--tags").splitlines() if line}
    reachable |= set(g.for_each_ref("--format=%(objectname)", "refs/tags").split())  # annotated tag objects
    stored = g.cat_file("--batch-all-objects", "--batch-check=%(objectname)").split()
    extra = [o for o in stored if o not in reachable]
    if extra:
        raise RepoError(f"{dest}: {len(extra)} objects not reachable from {sha} survived the clean-up")
    return sha
