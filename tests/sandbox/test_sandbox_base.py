"""The base of diff() is pinned when the sandbox starts: whatever the agent does with git, the candidate is
the working tree against the image's tree (issue #11, point 1)."""

from __future__ import annotations

import pytest

from agent.patch import filter_patch
from sandbox import DockerSandbox, SandboxError
from tests.sandbox.conftest import INIT_REPO, TEST_LABEL

pytestmark = pytest.mark.docker

FIX = "calc.py", "return a + b", "return b + a"
# The image's repository: two commits, and a tracked file left modified plus an untracked one (as the
# SWE-bench harness's pre_install edits leave them): neither may show up in any candidate.
MAKE_IMAGE_REPO = (
    INIT_REPO
    + """echo 'VERSION = 1' > version.py && git add version.py && git commit -qm second
git config --global --add safe.directory '*'
printf '[tool]\\nsetting = 1\\n' > setup.cfg
echo 'VERSION = 1  # local build' > version.py
"""
)


@pytest.fixture(scope="module")
def repo_image(docker_client, base_image, run_tag):
    repository = "swescale-test/gitbase"
    with DockerSandbox(base_image, workdir="/", labels={TEST_LABEL: run_tag}) as sb:
        r = sb.exec(MAKE_IMAGE_REPO, cwd="/")
        assert r.exit_code == 0, r.output
        image = sb.commit(repository, run_tag)
    yield f"{repository}:{run_tag}"
    docker_client.images.remove(image.id, force=True)


@pytest.fixture
def box(repo_image, run_tag):
    with DockerSandbox(repo_image, workdir="/testbed", labels={TEST_LABEL: run_tag}) as sb:
        yield sb


def edit(sb: DockerSandbox) -> None:
    """The agent's fix: one tracked file changed, one new module."""
    path, old, new = FIX
    sb.write_file(path, sb.read_file(path).replace(old, new))
    sb.write_file("pkg/helper.py", "HELP = 1\n")


def assert_is_the_fix(patch: str) -> None:
    assert "+    return b + a" in patch and "-    return a + b" in patch
    assert "b/pkg/helper.py" in patch and "+HELP = 1" in patch
    assert "setup.cfg" not in patch and "version.py" not in patch  # the image's own state is no change


def test_base_is_pinned_at_start_with_the_images_own_state(box):
    head = box.exec("git rev-parse HEAD").output.strip()
    assert box.base_commit == head and box.diff() == ""
    edit(box)
    assert_is_the_fix(box.diff())


@pytest.mark.parametrize(
    "git_action",
    [
        "git add -A && git commit -qm fix",
        "git checkout -q -b fix && git add -A && git commit -qm fix",
        "git add -A && git commit -qm fix && git reset -q --soft HEAD~2",
        "git add pkg && git commit -qm one && git commit -qam two && git gc -q --prune=now",
        "git stash -q -u && git stash pop -q",
    ],
    ids=["commit", "checkout-b", "reset-soft", "commits-and-gc", "stash-pop"],
)
def test_candidate_survives_what_the_agent_does_with_git(box, git_action):
    edit(box)
    r = box.exec(git_action)  # (the image's repository has a committer identity)
    assert r.exit_code == 0, r.output
    assert_is_the_fix(box.diff())


def test_stash_and_other_branches_leave_what_is_in_the_working_tree(box):
    edit(box)
    assert box.exec("git stash -q -u").exit_code == 0
    stashed = box.diff()  # the stash is not the candidate: the working tree is (the image's edits went too)
    assert "b + a" not in stashed and "helper" not in stashed and "-VERSION = 1  # local build" in stashed
    assert box.exec("git stash pop -q && git checkout -q -b side && git commit -qam side").exit_code == 0
    assert box.exec("git checkout -q -").exit_code == 0  # back on the image's branch, the fix left on `side`
    patch = box.diff()
    assert "pkg/helper.py" in patch and "b + a" not in patch  # untracked files follow, the commit does not


def test_committed_repro_script_is_still_dropped(box):
    edit(box)
    box.write_file("reproduce_issue.py", "print('repro')\n")
    assert box.exec("git add -A && git commit -qm all").exit_code == 0
    patch, dropped = filter_patch(box.diff(), "reproduce_issue.py")
    assert dropped == ["reproduce_issue.py"]
    assert_is_the_fix(patch)


def test_no_pin_without_a_repository(base_image, run_tag):
    with DockerSandbox(base_image, workdir="/srv", labels={TEST_LABEL: run_tag}) as sb:
        with pytest.raises(SandboxError, match="no pinned base"):
            sb.diff()
        with pytest.raises(SandboxError, match="not a git work tree"):
            sb.pin_base()
