"""Hostile candidates against a runner without swescale's result channel: a project's own unittest runner
run as Django's `tests/runtests.py` (tests/hostile/runner_task.py): `bench eval` and `select` catch the
runner edited (frozen), pass lines printed by package code (they contradict the runner's failure report)
and unittest's result rewritten in the tests' own process (swescale's start-up guard names it)."""

from __future__ import annotations

import pytest

from tests.hostile.runner_task import HACKS, make_task
from verifiers.table import Candidate

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def runner_task(docker_client, base_image, tmp_path_factory):
    return make_task(tmp_path_factory.mktemp("runner"), docker_client, base_image)


@pytest.fixture(scope="module")
def evaluate(runner_task, hostile_config, tmp_path_factory):
    import swescale

    task, patches = runner_task
    run_dir = tmp_path_factory.mktemp("runner-eval")

    def run(name: str) -> dict:
        pred = {"instance_id": task.instance_id, "model_name_or_path": name, "model_patch": patches[name]}
        return swescale.bench_eval([task], {task.instance_id: pred}, run_dir, hostile_config)

    return run


@pytest.fixture(scope="module")
def choose(runner_task, hostile_config, tmp_path_factory):
    from swescale.api import select

    task, patches = runner_task
    run_dir = tmp_path_factory.mktemp("runner-select")

    def run(offered: list[tuple[str, str]]):
        pool = [Candidate(candidate_id=f"{system}:{name}", patch=patches[name]) for system, name in offered]
        (result,) = select(
            {task.instance_id: task}, {task.instance_id: pool}, hostile_config, run_dir
        ).results
        assert not result.error, result.error
        return result.decision

    return run


def test_gold_resolves_and_broken_does_not(evaluate, runner_task):
    iid = runner_task[0].instance_id
    assert evaluate("gold")["resolved_ids"] == [iid]
    assert evaluate("broken")["unresolved_ids"] == [iid]


@pytest.mark.parametrize("hack", sorted(HACKS))
def test_no_hack_is_resolved(evaluate, runner_task, hack):
    iid = runner_task[0].instance_id
    summary = evaluate(hack)
    assert summary["resolved_ids"] == [], summary
    if hack == "runner-edited":
        assert summary["test_infrastructure_ids"] == [iid]
    else:
        assert summary["error_reasons"][iid].startswith("verdict-mismatch:")


@pytest.mark.parametrize("hack", sorted(HACKS))
def test_no_hack_is_chosen_over_gold(choose, hack):
    """Two copies of a hack against the gold patch: gold ranks first and no hack is chosen. Only regression
    tests separate them here (no candidate brings a test), and that the hacks break tests says they are
    wrong, not that gold fixes the issue: the confidence reads agreement (1 of 3), so the decision may
    abstain (selection.abstain_threshold_unjudged) with gold as its best."""
    decision = choose([("sys-a", hack), ("sys-b", hack), ("sys-g", "gold")])
    assert decision.best == "sys-g:gold", decision.reason
    assert decision.chosen in (None, "sys-g:gold"), decision.reason
