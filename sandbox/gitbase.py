"""The pinned base of a sandbox's repository, and the candidate diff against it.

When a sandbox starts, the working tree of its workdir (HEAD plus anything the image left modified or
untracked, ignored files excepted) is snapshotted as a git tree. The tree's new objects go to a private
object store outside the repository (`STORE`, the repository's own objects as its alternate), and its id is
kept by the host: nothing in the repository changes (no ref, no object, no index entry), so `git commit`,
`stash`, `checkout -b`, `reset`, or even `gc --prune=now` cannot move or drop the base.

The candidate is the working tree at diff time against that tree: commits, staged, unstaged and new files
alike. What is not in the working tree is not the candidate: a `git stash` without `stash pop` leaves an
empty candidate.

Pinning refreshes the stat data of the repository's index (contents and staging unchanged): in a new
container every entry looks modified to git, which would re-hash the whole tree at every diff.
"""

from __future__ import annotations

from dataclasses import dataclass

GIT = "git -c safe.directory='*' -c core.excludesFile=/dev/null"
STORE = "/opt/swescale/base-objects"
PIN_MARK = "swescale-pin:"

# A throwaway copy of the agent's index (its staging stays untouched); `cp -p` keeps the mtime git needs
# to spot "racily clean" files (same size, same second).
_STAGE_ALL = f"""gitdir=$({GIT} rev-parse --absolute-git-dir)
tmp=$(mktemp /tmp/.swescale_index.XXXXXX)
trap 'rm -f "$tmp"' EXIT
if [ -f "$gitdir/index" ]; then cp -p "$gitdir/index" "$tmp"; else rm -f "$tmp"; fi
export GIT_INDEX_FILE="$tmp"
{GIT} add -A"""

PIN_SCRIPT = f"""{GIT} rev-parse --is-inside-work-tree >/dev/null 2>&1 || {{ echo '{PIN_MARK}'; exit 0; }}
set -e
head=$({GIT} rev-parse --verify -q HEAD || true)
objects=$(cd "$({GIT} rev-parse --git-path objects)" && pwd -P)
mkdir -p {STORE}
{GIT} update-index -q --refresh >/dev/null 2>&1 || true  # fresh stat data: later diffs hash nothing again
export GIT_OBJECT_DIRECTORY={STORE} GIT_ALTERNATE_OBJECT_DIRECTORIES="$objects"
{_STAGE_ALL}
echo "{PIN_MARK} $({GIT} write-tree) $objects $head"
"""


@dataclass(frozen=True)
class PinnedBase:
    """The snapshot a sandbox's candidate is diffed against."""

    tree: str
    """Tree id of the working tree at pin time (in STORE or the repository's objects)."""
    objects: str
    """The repository's object directory (the alternate of STORE)."""
    head: str
    """HEAD's commit at pin time ("" in a repository without commits)."""


def parse_pin(output: str) -> PinnedBase | None:
    """The PIN_SCRIPT's answer: a PinnedBase, None when the workdir is no git work tree; ValueError else."""
    for line in output.splitlines():
        if line.startswith(PIN_MARK):
            fields = line[len(PIN_MARK) :].split()
            if not fields:
                return None
            tree, objects, *head = fields
            return PinnedBase(tree=tree, objects=objects, head=head[0] if head else "")
    raise ValueError(f"no pin in: {output[-500:]}")


def diff_script(base: PinnedBase, out: str) -> str:
    """Shell script writing to `out` the binary diff from the pinned tree to the whole working tree."""
    return f"""set -e
export GIT_OBJECT_DIRECTORY={STORE} GIT_ALTERNATE_OBJECT_DIRECTORIES='{base.objects}'
{_STAGE_ALL}
{GIT} diff --cached --binary --full-index --no-color --no-ext-diff --no-renames \\
  --src-prefix=a/ --dst-prefix=b/ {base.tree} > {out}"""
