"""Normalization and deduplication of patches (pure, no Docker)."""

from __future__ import annotations

import difflib
from types import SimpleNamespace

from selection.normalize import apply_file_patch, dedupe, normalize_patch

ORIGINAL = '''"""Module docstring."""


def add(a, b):
    """Add two numbers."""
    return a - b


def mul(a, b):
    return a * b
'''


def make_patch(path: str, before: str, after: str) -> str:
    diff = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{path}", f"b/{path}"
    )
    return f"diff --git a/{path} b/{path}\n" + "".join(diff)


FIX = ORIGINAL.replace("return a - b", "return a + b")
# Same behaviour, cosmetic differences: a comment, a changed docstring, extra whitespace and parentheses.
FIX_COMMENTED = ORIGINAL.replace("return a - b", "# fixed the operator\n    return (a  +  b)  # sum")
FIX_DOCSTRING = FIX.replace('"""Add two numbers."""', '"""Return the sum of a and b.\n\n    Fixed.\n    """')
WRONG = ORIGINAL.replace("return a - b", "return a * b")


def originals(path: str) -> str | None:
    return ORIGINAL if path == "calc.py" else None


def cand(cid: str, patch: str):
    return SimpleNamespace(candidate_id=cid, patch=patch)


def test_cosmetic_variants_merge_with_count():
    cands = [
        cand("a", make_patch("calc.py", ORIGINAL, FIX)),
        cand("b", make_patch("calc.py", ORIGINAL, FIX_COMMENTED)),
        cand("c", make_patch("calc.py", ORIGINAL, FIX_DOCSTRING)),
        cand("d", make_patch("calc.py", ORIGINAL, WRONG)),
        cand("e", ""),
    ]
    groups = dedupe(cands, originals)
    assert [g.count for g in groups] == [3, 1, 1]
    assert groups[0].members == ["a", "b", "c"]
    assert groups[0].representative == "a"  # shortest raw patch
    assert groups[1].members == ["d"]


def test_docstring_only_patch_is_empty_after_normalization():
    only_doc = ORIGINAL.replace('"""Add two numbers."""', '"""Add numbers."""')
    assert normalize_patch(make_patch("calc.py", ORIGINAL, only_doc), originals) == normalize_patch("") == ""


def test_fallback_without_originals_ignores_whitespace_and_comment_lines():
    a = make_patch("calc.py", ORIGINAL, FIX)
    b = make_patch("calc.py", ORIGINAL, FIX.replace("return a + b", "# sum\n    return a   +   b"))
    assert normalize_patch(a) == normalize_patch(b)
    assert normalize_patch(a) != normalize_patch(make_patch("calc.py", ORIGINAL, WRONG))


def test_non_python_files_compare_by_whitespace_normalized_lines():
    a = make_patch("README.md", "hello\nworld\n", "hello\nbig  world\n")
    b = make_patch("README.md", "hello\nworld\n", "hello\n  big world \n")
    assert normalize_patch(a, originals) == normalize_patch(b, originals)


def test_new_files_are_kept_and_normalized():
    a = make_patch("new.py", "", "X = 1  # one\n").replace("--- a/new.py", "--- /dev/null")
    b = make_patch("new.py", "", '"""doc"""\nX = (1)\n').replace("--- a/new.py", "--- /dev/null")
    assert normalize_patch(a, originals) == normalize_patch(b, originals) != ""
    assert "new.py" in normalize_patch(a, originals)


def test_apply_file_patch_with_shifted_hunk():
    from unidiff import PatchSet

    patch = PatchSet(make_patch("calc.py", ORIGINAL, FIX))[0]
    shifted = "# header line\n# another\n" + ORIGINAL
    assert apply_file_patch(shifted, patch) == "# header line\n# another\n" + FIX
    assert apply_file_patch("unrelated\n", patch) is None


def test_multi_file_order_does_not_matter():
    p1 = make_patch("calc.py", ORIGINAL, FIX)
    p2 = make_patch("README.md", "x\n", "y\n")
    assert normalize_patch(p1 + p2, originals) == normalize_patch(p2 + p1, originals)
