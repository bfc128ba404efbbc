"""Hostile candidates against `select` (swescale.api.select): each hack, sent by two systems, loses to
the gold patch sent by one; legitimate test-touching patches still win over a clean but wrong patch,
and a clean candidate is preferred to a suspect one with the same evidence."""

from __future__ import annotations

import pytest

from tests.hostile.hostile_task import HACKS, LEGITIMATE, MALFORMED
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


@pytest.mark.parametrize("hack", sorted(MALFORMED))
def test_a_malformed_hack_is_not_viable(choose, hack):
    """unidiff cannot read it, so its test files cannot be held back: it is not applied at all."""
    decision = choose([("sys-a", hack), ("sys-b", hack), ("sys-g", "gold")])
    assert decision.chosen == "sys-g:gold", decision.reason
    assert not next(c for c in decision.clusters if f"sys-a:{hack}" in c.members).viable


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


def _cluster_of(decision, candidate_id: str):
    return next(c for c in decision.clusters if candidate_id in c.members)


def test_a_correct_patch_is_not_ranked_below_a_wrong_one_passing_the_test_it_brought(choose):
    """The wrong patch passes the correct one's own test (and every other test): the test counts for its
    author as for the wrong patch, and the test file does not lengthen the author's change, so the
    simpler correct patch represents the behaviour (it lost on the author's missing credit before)."""
    decision = choose([("sys-a", "wrong-above-100"), ("sys-l", "own-upper-test")])
    assert decision.best == "sys-l:own-upper-test", decision.reason
    assert _cluster_of(decision, "sys-a:wrong-above-100") is _cluster_of(decision, "sys-l:own-upper-test")


def test_an_own_test_a_wrong_patch_fails_never_ranks_its_author_below_it(choose):
    """Only its author passes the test: it confirms nothing (a wrong patch's tailored test would be the
    same), so it neither helps nor hurts the author; the other evidence decides."""
    decision = choose([("sys-a", "wrong-off-by-one"), ("sys-l", "own-upper-test")])
    author, wrong = (
        _cluster_of(decision, "sys-l:own-upper-test"),
        _cluster_of(decision, "sys-a:wrong-off-by-one"),
    )
    assert author is not wrong and author.hybrid >= wrong.hybrid, decision.reason
