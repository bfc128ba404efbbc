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

from sandbox.patch import PatchError, file_patches

_ROOT_SCRATCH = re.compile(r"^(reproduce.*|repro_.*|repro\.py|scratch.*|debug_.*|test_issue.*|test_repro.*)$")
_ANYWHERE = re.compile(r"(^|/)__pycache__/|\.(pyc|pyo|orig|rej|swp)$|~$")


def is_scratch(path: str, is_new: bool, repro_script: str) -> bool:
    if path == repro_script.lstrip("/") or _ANYWHERE.search(path):
        return True
    return is_new and "/" not in path and bool(_ROOT_SCRATCH.match(posixpath.basename(path)))


def filter_patch(diff: str, repro_script: str) -> tuple[str, list[str]]:
    """(patch without scratch files, dropped paths); a diff unidiff cannot read is kept whole."""
    try:
        files = file_patches(diff)
    except PatchError:
        return diff, []
    kept, dropped = [], []
    for f in files:
        if is_scratch(f.path, f.added, repro_script):
            dropped.append(f.path)
        else:
            kept.append(f.text)
    return "".join(kept), dropped
