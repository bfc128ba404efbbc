"""Candidate patch hygiene: drop the reproduction script and scratch files from a git diff.

The rule (documented, deliberately simple):
- always dropped: the reproduction script (`AgentConfig.repro_script`), anything under `__pycache__/`,
  `*.pyc`, `*.pyo`, `*.orig`, `*.rej`, `*.swp`, editor backups ending in `~`;
- dropped when NEW and at the repository ROOT: names matching `reproduce*`, `repro_*`, `repro.py`,
  `scratch*`, `debug_*`, `test_issue*`, `test_repro*` (the agent's throwaway scripts);
- everything else is kept: changes to tracked files whatever their name, and new files inside package
  folders (a fix may need a new module).
"""

from __future__ import annotations

import posixpath
import re

from unidiff import PatchSet
from unidiff.errors import UnidiffParseError

_ROOT_SCRATCH = re.compile(r"^(reproduce.*|repro_.*|repro\.py|scratch.*|debug_.*|test_issue.*|test_repro.*)$")
_ANYWHERE = re.compile(r"(^|/)__pycache__/|\.(pyc|pyo|orig|rej|swp)$|~$")
_HEADER = re.compile(r"^diff --git a/(.*) b/(.*)$", re.MULTILINE)


def split_diff(diff: str) -> list[str]:
    """A git diff -> one chunk per file (each starting with `diff --git`)."""
    starts = [m.start() for m in _HEADER.finditer(diff)]
    return [diff[a:b] for a, b in zip(starts, [*starts[1:], len(diff)], strict=False)]


def _file_info(chunk: str) -> tuple[str, bool]:
    """(path, is new file) of one chunk; unidiff for text diffs, the git header for binary ones."""
    try:
        patched = PatchSet(chunk)
        if len(patched) == 1:
            f = patched[0]
            path = f.target_file if f.target_file and f.target_file != "/dev/null" else f.source_file
            return path.removeprefix("b/").removeprefix("a/"), f.is_added_file
    except (UnidiffParseError, IndexError, ValueError):
        pass
    m = _HEADER.match(chunk)
    path = m.group(2) if m else ""
    return path, bool(re.search(r"^new file mode", chunk, re.MULTILINE))


def changed_paths(diff: str) -> list[str]:
    """Paths a diff changes (the new side; the old one for deletions), in order, binary files included."""
    return [path for path in (_file_info(chunk)[0] for chunk in split_diff(diff)) if path]


def changed_lines(diff: str) -> int:
    """Added plus removed lines of a unified diff (0 for one unidiff cannot parse)."""
    try:
        return sum(f.added + f.removed for f in PatchSet(diff))
    except (UnidiffParseError, ValueError):
        return 0


def is_scratch(path: str, is_new: bool, repro_script: str) -> bool:
    if path == repro_script.lstrip("/") or _ANYWHERE.search(path):
        return True
    return is_new and "/" not in path and bool(_ROOT_SCRATCH.match(posixpath.basename(path)))


def filter_patch(diff: str, repro_script: str) -> tuple[str, list[str]]:
    """(patch without scratch files, dropped paths)."""
    kept, dropped = [], []
    for chunk in split_diff(diff):
        path, is_new = _file_info(chunk)
        if is_scratch(path, is_new, repro_script):
            dropped.append(path)
        else:
            kept.append(chunk)
    return "".join(kept), dropped
