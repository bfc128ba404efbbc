"""Patch normalization and deduplication (Agentless style).

Two patches are the same when they leave every touched file identical after normalization:
- `.py` files: the patch is applied to the original contents, both sides are parsed with `ast`,
  docstrings are removed and `ast.unparse` gives a canonical text (comments and formatting vanish);
  the normalized patch is the zero-context diff between the two canonical texts.
- other files, and `.py` files whose original is unknown or does not parse: the added and removed
  lines with whitespace collapsed (blank lines and, for `.py`, whole-line comments dropped).
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sandbox.patch import PatchedFile, PatchError, parse_patch

OriginalFiles = Callable[[str], str | None]

_WS = re.compile(r"\s+")


def _squash(line: str) -> str:
    return _WS.sub(" ", line).strip()


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    """Remove the docstring of the module and of every class and function."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                if isinstance(body[0].value.value, str):
                    node.body = body[1:] or [ast.Pass()]
    return tree


def canonical_python(source: str) -> str | None:
    """`ast.unparse` of the source without docstrings, or None if it does not parse."""
    try:
        return ast.unparse(_strip_docstrings(ast.parse(source)))
    except (SyntaxError, ValueError, RecursionError):
        return None


def apply_file_patch(original: str, pfile: PatchedFile) -> str | None:
    """Apply one file's hunks to its original text; None when a hunk's context is not found.

    Hunks are located at their stated line, else at the nearest position where the source lines
    match exactly, else where they match ignoring whitespace.
    """
    lines = original.splitlines(keepends=True)
    out: list[str] = []
    pos = 0  # next unconsumed line of the original
    for hunk in pfile:
        src = [line.value for line in hunk if line.is_context or line.is_removed]
        dst = [line.value for line in hunk if line.is_context or line.is_added]
        start = _find(lines, src, max(hunk.source_start - 1, 0), pos)
        if start is None:
            return None
        out.extend(lines[pos:start])
        out.extend(dst)
        pos = start + len(src)
    out.extend(lines[pos:])
    return "".join(out)


def _find(lines: list[str], src: list[str], hint: int, lo: int) -> int | None:
    if not src:
        return min(max(hint, lo), len(lines))
    for equal in (lambda a, b: a.rstrip("\r\n") == b.rstrip("\r\n"), lambda a, b: _squash(a) == _squash(b)):
        candidates = range(lo, len(lines) - len(src) + 1)
        for start in sorted(candidates, key=lambda i: abs(i - hint)):
            if all(equal(lines[start + k], src[k]) for k in range(len(src))):
                return start
    return None


def _file_path(pfile: PatchedFile) -> str:
    if pfile.is_removed_file:
        return pfile.source_file[2:] if pfile.source_file.startswith("a/") else pfile.source_file
    return pfile.path


def _line_normalized(pfile: PatchedFile, python: bool) -> list[str]:
    """Whitespace-normalized added/removed lines (whole-line comments dropped for Python)."""
    out = []
    for hunk in pfile:
        for line in hunk:
            if not (line.is_added or line.is_removed):
                continue
            text = _squash(line.value)
            if not text or (python and text.startswith("#")):
                continue
            out.append(f"{line.line_type}{text}")
    return out


def _python_normalized(
    path: str, pfile: PatchedFile, original_files: OriginalFiles | None
) -> list[str] | None:
    if pfile.is_added_file:
        before = ""
    elif original_files is None:
        return None
    else:
        before = original_files(path)
        if before is None:
            return None
    after = "" if pfile.is_removed_file else apply_file_patch(before, pfile)
    if after is None:
        return None
    a, b = canonical_python(before), canonical_python(after)
    if a is None or b is None:
        return None
    diff = difflib.unified_diff(a.splitlines(), b.splitlines(), n=0, lineterm="")
    return [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def normalize_patch(patch: str, original_files: OriginalFiles | None = None) -> str:
    """Canonical text of a patch: equal for patches that differ only cosmetically.

    `original_files(path)` returns a file's content before the patch (None if unknown); without it
    Python files fall back to line normalization. An empty or unparsable patch normalizes to itself
    stripped (so every empty patch is one group).
    """
    if not patch.strip():
        return ""
    try:
        files = parse_patch(patch)
    except PatchError:
        return "\n".join(_squash(line) for line in patch.splitlines() if _squash(line))
    parts: list[str] = []
    for pfile in sorted(files, key=_file_path):
        path = _file_path(pfile)
        header = f"=== {path}"
        if pfile.is_rename:
            header += f" (from {pfile.source_file[2:]})"
        if pfile.is_binary_file:
            digest = hashlib.sha256(str(pfile).encode()).hexdigest()[:16]
            parts.append(f"{header} binary {digest}")
            continue
        body = None
        if path.endswith(".py"):
            body = _python_normalized(path, pfile, original_files)
        if body is None:
            body = _line_normalized(pfile, python=path.endswith(".py"))
        if body or pfile.is_added_file or pfile.is_removed_file or pfile.is_rename:
            kind = " added" if pfile.is_added_file else " removed" if pfile.is_removed_file else ""
            parts.append("\n".join([header + kind, *body]))
    return "\n".join(parts)


def patch_hash(normalized: str) -> str:
    return hashlib.sha256(normalized.encode()).hexdigest()[:16]


@dataclass
class PatchGroup:
    """Candidates whose patches normalize to the same text."""

    key: str
    """Hash of the normalized patch."""
    normalized: str
    members: list[str] = field(default_factory=list)
    """Candidate ids, in input order."""
    representative: str = ""
    """The member with the shortest raw patch (ties: first seen)."""

    @property
    def count(self) -> int:
        return len(self.members)


def dedupe(candidates: Iterable, original_files: OriginalFiles | None = None) -> list[PatchGroup]:
    """Merge candidates (objects with `candidate_id` and `patch`) with identical normalized patches.

    Groups come largest first (ties: first seen).
    """
    groups: dict[str, PatchGroup] = {}
    length: dict[str, int] = {}
    for cand in candidates:
        norm = normalize_patch(cand.patch, original_files)
        key = patch_hash(norm)
        group = groups.setdefault(key, PatchGroup(key=key, normalized=norm))
        group.members.append(cand.candidate_id)
        if not group.representative or len(cand.patch) < length[group.representative]:
            group.representative = cand.candidate_id
        length[cand.candidate_id] = len(cand.patch)
    order = list(groups)
    return sorted(groups.values(), key=lambda g: (-g.count, order.index(g.key)))
