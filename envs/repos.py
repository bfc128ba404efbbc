"""Where a task's code comes from, and the sanitized copy that goes into an image.

Order: the task's `repo_url` (git URL or local path), a mirror `<repos_dir>/owner__name`, then
`https://github.com/<repo>`. Remote sources are cloned once into a cache and fetched when a commit is missing.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
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


def _bare_without_config(path: Path) -> bool:
    """A bare repository without a `config` file (as some mirrors are): git reads it, GitPython does not."""
    return (path / "HEAD").is_file() and (path / "objects").is_dir() and not (path / "config").exists()


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


def open_source(task: Task, repos_dir: str | Path = "") -> tuple[git.Repo, str]:
    """A local git repository holding the task's base commit, and where it came from."""
    commits = [task.base_commit or "HEAD", task.environment_setup_commit]
    errors = []
    for source in candidate_sources(task, repos_dir):
        try:
            local = Path(source.removeprefix("file://"))
            if _is_local(source) and _bare_without_config(local):
                repo = _cached_clone(str(local), commits)  # a proper bare copy GitPython can read
            elif _is_local(source):
                repo = git.Repo(local)
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


# Keep the history up to HEAD and nothing after it: the checked-out branch (if any) and the tags of earlier
# commits stay (version tools such as setuptools_scm read them); every other ref, remote, pseudo-ref, reflog
# and unreachable object goes. Runs in the repository (host clones and images alike); prints what it did
# and fails if an object not reachable from HEAD or its tags survives. The working tree is not touched.
CLEAN_HISTORY = r"""set -e
gitdir=$(git rev-parse --absolute-git-dir)
sha=$(git rev-parse --verify 'HEAD^{commit}')
keep=$(mktemp); reach=$(mktemp); all=$(mktemp)
trap 'rm -f "$keep" "$reach" "$all"' EXIT
git for-each-ref --merged "$sha" --format='%(refname)' refs/tags > "$keep"
git symbolic-ref -q HEAD >> "$keep" || true
extra() {
  { git rev-list --objects HEAD --tags | cut -d' ' -f1; git for-each-ref --format='%(objectname)' refs/tags; } \
    | sort -u > "$reach"
  git cat-file --batch-all-objects --batch-check='%(objectname)' | sort -u > "$all"
  comm -23 "$all" "$reach" | wc -l
}
refs=$(git for-each-ref --format='%(refname)' | grep -cvxF -f "$keep" || true)
remotes=$(git remote | wc -l)
pseudo=$(cd "$gitdir" && ls FETCH_HEAD ORIG_HEAD MERGE_HEAD CHERRY_PICK_HEAD REVERT_HEAD 2>/dev/null | wc -l)
logs=$(find "$gitdir/logs" -type f -size +0 2>/dev/null | wc -l)
objects=$(extra)
if [ "$refs$remotes$pseudo$logs$objects" != 00000 ]; then
  for r in $(git remote); do git remote remove "$r"; done
  git for-each-ref --format='%(refname)' | { grep -vxF -f "$keep" || true; } | sed 's/^/delete /' \
    | git update-ref --stdin
  (cd "$gitdir" && rm -f FETCH_HEAD ORIG_HEAD MERGE_HEAD CHERRY_PICK_HEAD REVERT_HEAD)
  git reflog expire --expire=now --all
  git repack -a -d -q
  git prune --expire=now
  left=$(extra)
  test "$left" -eq 0 || { echo "$left objects not reachable from $sha survived the clean-up" >&2; exit 1; }
fi
git config --local user.email >/dev/null || git config user.email swescale@localhost
git config --local user.name >/dev/null || git config user.name swescale
echo "removed: $refs refs, $remotes remotes, $pseudo pseudo-refs, $logs reflogs, $objects later objects"
"""


def sanitized_checkout(repo: git.Repo, commit: str, dest: Path) -> str:
    """Clone to `dest` at `commit` (detached) keeping no object, ref, remote or reflog after it; returns the SHA.

    The copy holds exactly the history reachable from `commit` (CLEAN_HISTORY), so the agent cannot read
    future commits.
    """
    clone = git.Repo.clone_from(repo.git_dir, dest, no_local=True, no_checkout=True, no_hardlinks=True)
    clone.git.checkout("--detach", commit)
    proc = subprocess.run(["sh", "-c", CLEAN_HISTORY], cwd=dest, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RepoError(f"{dest}: cleaning the history failed: {(proc.stdout + proc.stderr).strip()[-2000:]}")
    return clone.head.commit.hexsha
