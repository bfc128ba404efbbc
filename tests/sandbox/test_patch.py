"""sandbox.patch on real git repositories on this host: apply chains, reverse, split, test/source parts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from sandbox.patch import (
    ALREADY_APPLIED,
    GIT,
    HARNESS,
    INDEX,
    PATCH_FUZZ,
    PATCH_FUZZ_ATOMIC,
    SANDBOX,
    LocalTree,
    PatchError,
    added_lines,
    apply_patch,
    changed_line_count,
    changed_lines,
    changed_paths,
    file_patches,
    is_applied,
    is_test_path,
    line_changes,
    parse_patch,
    split_tests,
)

CALC = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
BINARY = bytes(range(256)) + b"\x00\xff"
# `sub` fixed, without index lines (so no step can find the blobs of a three-way merge)
FIX = (
    "--- a/calc.py\n+++ b/calc.py\n@@ -4,3 +4,3 @@ def add(a, b):\n \n def sub(a, b):\n"
    "-    return a - b\n+    return a - b  # fixed\n"
)
SHIFTED = "# header\n" + CALC.replace("\n\n\ndef sub", "\n\n\n\ndef sub")
# context that is not where the hunk says and trailing lines that are not there: only patch --fuzz applies it
FUZZY = (
    "--- a/calc.py\n+++ b/calc.py\n@@ -4,6 +4,6 @@ def add(a, b):\n \n \n def sub(a, b):\n"
    "-    return a - b\n+    return a - b  # fixed\n \n \n"
)
BAD = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n-nothing like this\n-at all\n+x\n+y\n"


def git(root: Path, *args: str) -> str:
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"]
    return subprocess.run(
        ["git", *identity, *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout


def make_repo(root: Path) -> Path:
    root.mkdir()
    git(root, "init", "-q")
    (root / "calc.py").write_text(CALC)
    (root / "old.txt").write_text("old\n")
    (root / "moved.txt").write_text("a file that is renamed\n" * 5)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "init")
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


def status(root: Path) -> str:
    return git(root, "status", "--porcelain", "--untracked-files=all")


class WritesRecorded(LocalTree):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.written: list[str] = []

    def write_file(self, path: str, data: str | bytes, /) -> None:
        self.written.append(path)
        super().write_file(path, data)


def test_a_clean_patch_applies_by_the_first_step(repo):
    tree = WritesRecorded(repo)
    applied = apply_patch(tree, FIX)
    assert applied.step == "git-apply" and [a.step for a in applied.attempts] == ["git-apply"]
    assert "return a - b  # fixed" in (repo / "calc.py").read_text()
    assert len(tree.written) == 1 and not Path(tree.written[0]).exists()  # the temporary patch file is gone


def test_shifted_context_applies_with_fuzz_and_leaves_no_backup(repo):
    (repo / "calc.py").write_text(SHIFTED)
    git(repo, "commit", "-qam", "shift")
    applied = apply_patch(LocalTree(repo), FUZZY, chain=SANDBOX)
    assert applied.step == PATCH_FUZZ_ATOMIC.name and "fuzz" in applied.output
    assert [a.ok for a in applied.attempts] == [False, True]
    assert "return a - b  # fixed" in (repo / "calc.py").read_text()
    assert status(repo) == " M calc.py\n"  # no .orig or .rej file


def test_the_harness_chain_resets_between_steps_and_reaches_patch_fuzz(repo):
    (repo / "calc.py").write_text(SHIFTED)
    git(repo, "commit", "-qam", "shift")
    seen = []
    applied = apply_patch(LocalTree(repo), FUZZY, chain=HARNESS, on_attempt=seen.append)
    assert applied.step == PATCH_FUZZ.name
    assert [a.step for a in seen] == ["git-apply", "git-apply-3way", "git-apply-reject", "patch-fuzz"]
    assert [a.command for a in seen][0] == "git apply --verbose"  # logged as the harness logs it
    assert "calc.py.rej" not in status(repo)  # --reject's leftovers were cleaned before patch ran


def test_the_harness_chain_is_swebench_s():
    from swebench.harness.run_evaluation import GIT_APPLY_CMDS

    assert [s.label() for s in HARNESS.steps if not s.check] == GIT_APPLY_CMDS
    assert HARNESS.steps[-1] is ALREADY_APPLIED and ALREADY_APPLIED.label() == "git apply --check --reverse"
    assert HARNESS.reset.format(git="git") == "git checkout -- . ; git clean -fdq"


def test_a_patch_no_step_applies_raises_with_every_step_s_output(repo):
    with pytest.raises(PatchError) as err:
        apply_patch(LocalTree(repo), BAD)
    assert [a.step for a in err.value.attempts] == ["git-apply", "patch-fuzz-atomic"]
    assert "$ git apply --verbose" in err.value.output and "$ patch --batch" in err.value.output
    assert str(err.value).startswith("patch does not apply\n")
    assert status(repo) == ""  # nothing half-applied

    with pytest.raises(PatchError) as err:
        apply_patch(LocalTree(repo), BAD, chain=HARNESS)
    assert [a.step for a in err.value.attempts] == [s.name for s in HARNESS.steps]
    assert not any(a.ok for a in err.value.attempts)


def test_already_applied_counts_as_applied_in_the_harness_chain(repo):
    apply_patch(LocalTree(repo), FIX)
    git(repo, "commit", "-qam", "the fix, committed")  # a reset between steps keeps it
    assert is_applied(LocalTree(repo), FIX)
    applied = apply_patch(LocalTree(repo), FIX, chain=HARNESS)
    assert applied.step == "already-applied" and applied.attempts[-1].check
    assert [a.ok for a in applied.attempts] == [False, False, False, False, True]
    assert not is_applied(LocalTree(repo), BAD)


def diff_of_every_kind(repo: Path) -> str:
    """A patch adding (text and binary), deleting, renaming and modifying files, as `git diff` makes it."""
    (repo / "calc.py").write_text(CALC.replace("a - b", "b - a"))
    (repo / "pkg").mkdir()
    (repo / "pkg" / "new_module.py").write_text("X = 1\n")
    (repo / "data.bin").write_bytes(BINARY)
    (repo / "old.txt").unlink()
    git(repo, "mv", "moved.txt", "renamed.txt")
    git(repo, "add", "-A")
    patch = git(repo, "diff", "--cached", "--binary", "-M")
    git(repo, "reset", "-q", "--hard")
    git(repo, "clean", "-qfd")
    return patch


def test_new_deleted_renamed_and_binary_files(repo):
    patch = diff_of_every_kind(repo)
    files = file_patches(patch)
    assert "".join(f.text for f in files) == patch
    kinds = {f.path: (f.added, f.removed, f.renamed, f.binary) for f in files}
    assert kinds == {
        "calc.py": (False, False, False, False),
        "data.bin": (True, False, False, True),
        "old.txt": (False, True, False, False),
        "pkg/new_module.py": (True, False, False, False),
        "renamed.txt": (False, False, True, False),
    }
    assert next(f for f in files if f.renamed).old_path == "moved.txt"
    assert changed_paths(patch) == [f.path for f in files]

    apply_patch(LocalTree(repo), patch)
    assert (repo / "data.bin").read_bytes() == BINARY
    assert (repo / "pkg" / "new_module.py").read_text() == "X = 1\n"
    assert not (repo / "old.txt").exists() and not (repo / "moved.txt").exists()
    assert (repo / "renamed.txt").exists() and "b - a" in (repo / "calc.py").read_text()


def test_each_file_patch_applies_on_its_own(repo, tmp_path):
    patch = diff_of_every_kind(repo)
    for index, part in enumerate(file_patches(patch)):
        fresh = make_repo(tmp_path / f"fresh{index}")
        apply_patch(LocalTree(fresh), part.text)
        assert [line[3:] for line in status(fresh).splitlines()] == [part.path] or part.renamed


def test_reverse_restores_the_original(repo):
    patch = diff_of_every_kind(repo)
    apply_patch(LocalTree(repo), patch, chain=GIT)
    apply_patch(LocalTree(repo), patch, chain=GIT, reverse=True)
    assert status(repo) == "" and (repo / "calc.py").read_text() == CALC
    with pytest.raises(ValueError, match="cannot reverse"):
        apply_patch(LocalTree(repo), patch, chain=HARNESS, reverse=True)


def test_the_index_chain_stages_the_patch(repo):
    patch = diff_of_every_kind(repo)
    assert apply_patch(LocalTree(repo), patch, chain=INDEX).step == "git-apply-index"
    staged = git(repo, "diff", "--cached", "--name-only", "--no-renames").split()
    assert sorted(staged) == [
        "calc.py",
        "data.bin",
        "moved.txt",
        "old.txt",
        "pkg/new_module.py",
        "renamed.txt",
    ]


def test_a_named_patch_file_is_kept(repo, tmp_path):
    kept = str(tmp_path / "patch.diff")
    apply_patch(LocalTree(repo), FIX, chain=HARNESS, patch_file=kept)
    assert Path(kept).read_text() == FIX


def test_malformed_and_empty_patches_raise_clear_errors(repo):
    short = "--- a/calc.py\n+++ b/calc.py\n@@ -1,3 +1,3 @@\n-def add(a, b):\n"
    with pytest.raises(PatchError, match="malformed patch: Hunk is shorter than expected"):
        parse_patch(short)
    with pytest.raises(PatchError, match=r"^patch does not apply \(malformed patch: Hunk is shorter"):
        apply_patch(LocalTree(repo), short)
    with pytest.raises(PatchError, match=r"^patch does not apply \(no file diff found in it\)"):
        apply_patch(LocalTree(repo), "this is no patch\n")
    with pytest.raises(PatchError, match="^empty patch$"):
        apply_patch(LocalTree(repo), " \n")
    assert changed_paths(short) == [] and changed_line_count(short) == 0
    assert status(repo) == ""


def test_changed_lines_in_the_original_numbering(repo):
    patch = diff_of_every_kind(repo)
    assert changed_line_count(FIX) == 2 and added_lines(FIX) == ["    return a - b  # fixed"]
    changes = line_changes(patch)
    assert changes["calc.py"] == [(6, "-", "    return a - b"), (6, "+", "    return b - a")]
    assert changes["old.txt"] == [(0, "-", "")]  # removed: line 0
    assert "pkg/new_module.py" not in changes  # added: the original has no line of it


def test_one_rule_for_test_files():
    for path in (
        "tests/test_a.py",
        "test_a.py",
        "pkg/tests/data/x.sql",
        "a/b_test.py",
        "conftest.py",
        "pkg/testing/helpers.py",
        "test/x.c",
    ):
        assert is_test_path(path), path
    for path in ("pkg/core.py", "setup.py", "docs/conf.py", "pkg/testing_utils.py", "pkg/contest.py"):
        assert not is_test_path(path), path
    assert is_test_path("spec/a.rb", ["spec/**"]) and not is_test_path("tests/a.py", ["spec/**"])


def test_split_into_test_and_source_parts(repo):
    (repo / "tests").mkdir()
    (repo / "tests" / "test_calc.py").write_text("def test_sub():\n    assert True\n")
    (repo / "calc.py").write_text(CALC.replace("a - b", "b - a"))
    git(repo, "add", "-A")
    patch = git(repo, "diff", "--cached")
    others, tests = split_tests(file_patches(patch))
    assert [f.path for f in others] == ["calc.py"] and [f.path for f in tests] == ["tests/test_calc.py"]
    git(repo, "reset", "-q", "--hard")
    git(repo, "clean", "-qfd")
    apply_patch(LocalTree(repo), "".join(f.text for f in tests))
    assert status(repo) == "?? tests/test_calc.py\n"


def test_local_tree_times_out(repo):
    res = LocalTree(repo).exec("sleep 5", timeout=0.2)
    assert res.timed_out and res.exit_code == 124


def test_changed_lines_compare_what_two_patches_change_whatever_their_spacing():
    spaced = FIX.replace("+    return a - b  # fixed", "+    return  a - b   # fixed") + "+\n"
    spaced = spaced.replace("@@ -4,3 +4,3 @@", "@@ -4,3 +4,4 @@")
    assert (
        changed_lines(FIX)
        == changed_lines(spaced)
        == {
            ("calc.py", "-", "return a - b"),
            ("calc.py", "+", "return a - b # fixed"),
        }
    )
    assert changed_lines("--- a/x\n+++ b/x\n@@ -1,5 +1,1 @@\n-a\n") == set()  # malformed: nothing read
