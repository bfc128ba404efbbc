"""Evidence about a patch that needs no execution: does it touch code the issue names, how large is it.

`issue_names(text)`: identifiers the issue mentions (in backticks, code blocks, tracebacks or as dotted
names / calls / file paths); plain English words are left out unless they look like code (snake_case,
CamelCase, dotted, called, or quoted as code).
`patch_names(patch)`: the functions and classes a patch changes (hunk headers and changed def/class
lines) and the module names of the files it touches.
`issue_overlap(patch, names)`: how many of the patch's names the issue mentions.
"""

from __future__ import annotations

import re

from sandbox.patch import PatchError, parse_patch

_CODE_SPAN = re.compile(r"`{1,3}([^`]+)`{1,3}", re.S)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CODE_LIKE = re.compile(
    r"\b[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+\b"  # dotted
    r"|\b[A-Za-z_][A-Za-z0-9_]*(?=\()"  # called
    r"|\b[a-z0-9]+_[a-z0-9_]+\b"  # snake_case
    r"|\b[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*\b"  # CamelCase
    r"|[\w/]+\.py\b"  # file paths
)
_DEF = re.compile(r"^\s*(?:async\s+)?(?:def|class)\s+([A-Za-z_][A-Za-z0-9_]*)")
_COMMON = {"self", "cls", "None", "True", "False", "def", "class", "return", "import", "from", "the"}


def issue_names(text: str) -> set[str]:
    """Identifiers the issue text names as code (each part of a dotted name counts too)."""
    text = text or ""
    found: set[str] = set()
    pieces = [m.group(1) for m in _CODE_SPAN.finditer(text)]
    for piece in pieces:
        found.update(_IDENT.findall(piece))
    for match in _CODE_LIKE.finditer(text):
        found.update(_IDENT.findall(match.group(0)))
    return {n for n in found if len(n) > 2 and n not in _COMMON}


def patch_names(patch: str) -> set[str]:
    """Functions and classes the patch changes, and the module names of the files it touches."""
    try:
        files = parse_patch(patch)
    except PatchError:
        return set()
    names: set[str] = set()
    for pfile in files:
        path = pfile.path
        if path.endswith(".py"):
            stem = path.rsplit("/", 1)[-1][: -len(".py")]
            if stem != "__init__":
                names.add(stem)
        for hunk in pfile:
            if match := _DEF.match(hunk.section_header or ""):
                names.add(match.group(1))
            for line in hunk:
                if (line.is_added or line.is_removed) and (match := _DEF.match(line.value)):
                    names.add(match.group(1))
    return {n for n in names if len(n) > 2}


def issue_overlap(patch: str, names: set[str]) -> int:
    """How many of the patch's functions, classes and modules the issue names."""
    return len(patch_names(patch) & names) if names else 0
