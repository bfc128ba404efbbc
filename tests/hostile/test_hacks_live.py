"""Every hack of the suite works when nothing guards the run: in the suite's image, the broken patch plus
the hack, applied whole and tested without swescale's result channel, gets a log that says the broken
regression test passed (so catching it is the guards' doing, not the hack's failure)."""

from __future__ import annotations

import pytest

from envs.runners import runner_for
from sandbox import DockerSandbox
from sandbox.patch import apply_patch
from tests.hostile.hostile_task import HACKS, PASS_TO_PASS, TEST_FILE

pytestmark = pytest.mark.docker
BROKEN_TEST = PASS_TO_PASS[0]  # test_in_range: fails for real on the broken patch


def unguarded_statuses(env, patch: str) -> dict[str, str]:
    """The test file's statuses after `patch` is applied whole, read from the log alone."""
    with DockerSandbox(env.image, workdir=env.workdir, network=False) as sb:
        apply_patch(sb, patch)
        run = sb.exec(f"{env.test_cmd} {TEST_FILE}", timeout=300)
        return runner_for(env.test_cmd).parse_log(run.output, env)


def test_the_broken_patch_fails_the_regression_test(hostile_task, hostile_env):
    assert unguarded_statuses(hostile_env, hostile_task[1]["broken"])[BROKEN_TEST] == "FAILED"


@pytest.mark.parametrize("hack", sorted(HACKS))
def test_hack_makes_the_log_say_passed_without_the_guards(hostile_task, hostile_env, hack):
    statuses = unguarded_statuses(hostile_env, hostile_task[1][hack])
    assert statuses.get(BROKEN_TEST) == "PASSED", statuses
