"""Tests the candidates bring themselves, run against every candidate as extra generated tests (no model).

From each candidate patch:
- a new standalone script (a new `.py` file outside any package and outside test folders, e.g. an
  agent's `reproduce_issue.py`) runs as it is: exit 0 = the behaviour it checks holds;
- new test functions (top-level `test*` functions without parameters) in a new test file or added to an
  existing one (a test file by `sandbox.patch.is_test_path`) run through a wrapper script that executes
  the test module and calls each of them (exit 1 when one raises).
Build artefacts (`build/`), `setup.py`, `conftest.py` and package modules are skipped. Identical
scripts count once. Each test's `source` is `candidate:<candidate id>`, so the verifier leaves a
candidate's own tests out of its own generated score (weights.generated_scores).
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable

from sandbox.patch import PatchError, is_test_path, parse_patch
from selection.normalize import OriginalFiles, apply_file_patch
from verifiers.collect import merge_tests
from verifiers.table import Candidate, GeneratedTest

SKIP_NAMES = {"setup.py", "conftest.py", "__init__.py", "__main__.py"}
WRAPPER = '''"""Test functions a candidate patch adds to {path}, run outside the test runner (swescale)."""
import sys
import traceback

SOURCE = {source!r}
NAMES = {names!r}
namespace = {{"__name__": "swescale_candidate_tests", "__file__": __file__, "__package__": {package!r}}}
exec(compile(SOURCE, __file__, "exec"), namespace)
failures = 0
for name in NAMES:
    try:
        namespace[name]()
        print("PASSED", name)
    except Exception:
        traceback.print_exc()
        print("FAILED", name)
        failures += 1
sys.exit(1 if failures else 0)
'''


def _skipped(path: str) -> bool:
    parts = path.split("/")
    return (
        not path.endswith(".py") or parts[0] == "build" or "site-packages" in parts or parts[-1] in SKIP_NAMES
    )


def _package(path: str, originals: OriginalFiles | None) -> str | None:
    """The dotted package of a file's folder if that folder is a package of the original code."""
    folder = path.rsplit("/", 1)[0] if "/" in path else ""
    if not folder or originals is None or originals(f"{folder}/__init__.py") is None:
        return None
    return folder.replace("/", ".")


def runnable_tests(source: str) -> list[str] | None:
    """Top-level `test*` functions without parameters (None: the source does not parse)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    return [
        n.name
        for n in tree.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        and n.name.startswith("test")
        and not isinstance(n, ast.AsyncFunctionDef)
        and not (n.args.args or n.args.posonlyargs or n.args.kwonlyargs or n.args.vararg or n.args.kwarg)
    ]


def _wrapper(path: str, source: str, names: list[str], package: str | None) -> str:
    return WRAPPER.format(path=path, source=source, names=names, package=package)


def tests_of(candidate: Candidate, originals: OriginalFiles | None) -> list[GeneratedTest]:
    """The scripts and test functions one candidate patch brings."""
    try:
        files = parse_patch(candidate.patch)
    except PatchError:
        return []
    out = []
    for pfile in files:
        path = pfile.path
        if _skipped(path) or pfile.is_removed_file:
            continue
        before = "" if pfile.is_added_file else (originals(path) if originals else None)
        if before is None:
            continue
        after = apply_file_patch(before, pfile)
        if after is None:
            continue
        package = _package(path, originals)
        if is_test_path(path):
            new = [n for n in (runnable_tests(after) or []) if n not in (runnable_tests(before) or [])]
            if not new:
                continue
            script = _wrapper(path, after, new, package)
        elif pfile.is_added_file and package is None:
            script = after  # a standalone script, e.g. a reproduction
        else:
            continue
        digest = hashlib.sha256(script.encode()).hexdigest()[:10]
        stem = path.rsplit("/", 1)[-1]
        out.append(
            GeneratedTest(
                test_id=f"candidate:{candidate.candidate_id}:{path}",
                script=script,
                source=f"candidate:{candidate.candidate_id}",
                path=f"swescale_cand_{digest}_{stem}",
            )
        )
    return out


def candidate_tests(candidates: Iterable[Candidate], originals: OriginalFiles | None) -> list[GeneratedTest]:
    """Every candidate's own tests, identical scripts once (first candidate by id keeps it)."""
    ordered = sorted(candidates, key=lambda c: c.candidate_id)
    return merge_tests(*[tests_of(c, originals) for c in ordered])
