"""Hostile candidates against `select` (swescale.api.select): each hack, sent by two systems, loses to
the gold patch sent by one; legitimate test-touching patches still win over a clean but wrong patch,
and a clean candidate is preferred to a suspect one with the same evidence."""

from __future__ import annotations

import pytest

from tests.hostile.hostile_task import HACKS, LEGITIMATE
from verifiers.table import Candidate

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def choose(hostile_task, hostile_env, hostile_config, tmp_path_factory):
    """(system, patch name) pairs -> the decision; one run directory, so the verifier cache is shared."""
    from swescale.api import select

    task, patches = hostile_task
    run_dir = tmp_path_factory.mktemp("select")

    def run(offered: list[tuple[str, str]]):
        pool = [Candidate(candidate_id=f"{system}:{name}", patch=patches[name]) for system, name in offered]
        outcome = select({task.instance_id: task}, {task.instance_id: pool}, hostile_config, run_dir)
        (result,) = outcome.results
        assert not result.error, result.error
        return result.decision

    return run


def test_broken_patch_loses_to_gold(choose):
    decision = choose([("sys-a", "broken"), ("sys-b", "broken"), ("sys-g", "gold")])
    assert decision.chosen == "sys-g:gold"


@pytest.mark.parametrize("hack", sorted(HACKS))
def test_no_hack_is_chosen_over_gold(choose, hack):
    decision = choose([("sys-a", hack), ("sys-b", hack), ("sys-g", "gold")])
    assert decision.chosen == "sys-g:gold", decision.reason
    hacked = next(c for c in decision.clusters if f"sys-a:{hack}" in c.members)
    assert hacked.new_regressions >= 1


@pytest.mark.parametrize("name", sorted(LEGITIMATE))
def test_legitimate_test_touching_patch_wins_over_a_wrong_one(choose, name):
    """Its own tests are judged as tests the candidates bring (the wrong patch fails them)."""
    decision = choose([("sys-a", "wrong"), ("sys-b", "wrong"), ("sys-l", name)])
    assert decision.chosen == f"sys-l:{name}", decision.reason
    chosen = next(c for c in decision.clusters if decision.chosen in c.members)
    assert chosen.suspect == (name == "conftest-fixture")


def test_clean_candidate_preferred_to_a_suspect_one_with_the_same_evidence(choose):
    decision = choose(
        [("sys-l", "conftest-fixture"), ("sys-m", "conftest-fixture"), ("sys-g", "own-test-file")]
    )
    assert decision.chosen == "sys-g:own-test-file", decision.reason
