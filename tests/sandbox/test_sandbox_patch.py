"""apply_patch / diff round trips: modified, new, binary, ignored files; the agent's index stays untouched."""

from __future__ import annotations

import pytest

from sandbox import DockerSandbox, PatchError
from sandbox.patch import PATCH_FUZZ_ATOMIC, apply_patch
from tests.sandbox.conftest import INIT_REPO, TEST_LABEL

pytestmark = pytest.mark.docker

BINARY = bytes(range(256)) * 4 + b"\x00\xff"


@pytest.fixture
def repo(base_image, run_tag):
    with DockerSandbox(base_image, workdir="/testbed", labels={TEST_LABEL: run_tag}) as sb:
        r = sb.exec(INIT_REPO, cwd="/")
        assert r.exit_code == 0, r.output
        sb.pin_base()  # the repository was made after the sandbox started
        yield sb


def test_diff_round_trip_new_and_binary_files(repo, base_image, run_tag):
    base = repo.base_commit
    assert len(base) == 40
    assert repo.diff() == ""
    repo.write_file("calc.py", repo.read_file("calc.py").replace("a + b", "b + a"))
    repo.write_file("pkg/new_module.py", "X = 1\n")
    repo.write_file("data/blob.bin", BINARY)
    repo.write_file("debug.log", "ignored by .gitignore\n")
    repo.exec("git add calc.py")  # the agent's own staging must survive diff()
    staged_before = repo.exec("git diff --cached --name-only").output
    patch = repo.diff()
    assert "b + a" in patch and "pkg/new_module.py" in patch and "GIT binary patch" in patch
    assert "debug.log" not in patch
    assert repo.exec("git diff --cached --name-only").output == staged_before == "calc.py\n"
    assert "?? pkg/" in repo.exec("git status --porcelain").output  # still untracked for the agent

    with DockerSandbox(base_image, workdir="/testbed", labels={TEST_LABEL: run_tag}) as fresh:
        assert fresh.exec(INIT_REPO, cwd="/").exit_code == 0
        fresh.pin_base()
        apply_patch(fresh, patch)
        assert fresh.read_bytes("data/blob.bin") == BINARY
        assert fresh.read_file("pkg/new_module.py") == "X = 1\n"
        assert "b + a" in fresh.read_file("calc.py")
        assert fresh.diff() == patch


def test_diff_includes_commits_after_base(repo):
    repo.write_file("calc.py", "changed\n")
    repo.exec("git commit -qam 'agent commit'")
    assert "+changed" in repo.diff()
    repo.pin_base()
    assert repo.diff() == ""


def test_apply_patch_fuzz_fallback_and_errors(repo):
    # Context shifted by an unrelated edit: git apply refuses (wrong context line), patch --fuzz applies.
    repo.write_file(
        "calc.py", "# header\n" + repo.read_file("calc.py").replace("\n\n\ndef sub", "\n\n\n\ndef sub")
    )
    repo.exec("git commit -qam shift")
    repo.pin_base()
    fuzzy = "\n".join(
        [
            "--- a/calc.py",
            "+++ b/calc.py",
            "@@ -4,6 +4,6 @@ def add(a, b):",
            " ",
            " ",
            " def sub(a, b):",
            "-    return a - b",
            "+    return a - b  # fixed",
            " ",
            " ",
            "",
        ]
    )
    res = apply_patch(repo, fuzzy)
    assert (
        res.step == PATCH_FUZZ_ATOMIC.name and "fuzz" in res.output
    )  # git apply refused, patch --fuzz applied
    assert "return a - b  # fixed" in repo.read_file("calc.py")
    assert not repo.exec("ls calc.py.orig calc.py.rej 2>/dev/null").output

    bad = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n-nothing like this\n-at all\n+x\n+y\n"
    before = repo.diff()
    with pytest.raises(PatchError) as err:
        apply_patch(repo, bad)
    assert "git apply" in err.value.output and "patch" in err.value.output
    assert repo.diff() == before  # a failed patch leaves nothing half-applied
    with pytest.raises(PatchError):
        apply_patch(repo, "")


def test_diff_sees_same_size_edit_in_the_same_second(repo):
    # "Racily clean" entries: an edit of equal size within the index's mtime second must still show up.
    for i in range(3):
        repo.exec(f"echo v{i} > racy.txt && git add racy.txt && git commit -qm v{i}")
        repo.pin_base()
        repo.write_file("racy.txt", f"w{i}\n")
        assert f"+w{i}" in repo.diff()
