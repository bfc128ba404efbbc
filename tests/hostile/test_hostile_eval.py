"""Hostile candidates against `bench eval` (swescale.api.bench_eval): no hack gets the broken patch
resolved, and legitimate test-touching patches still resolve."""

from __future__ import annotations

import json

import pytest

from tests.hostile.hostile_task import HACKS, LEGITIMATE, MALFORMED

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def evaluated(hostile_task, hostile_env, hostile_config, tmp_path_factory):
    """Model name -> (summary, run_dir): every patch evaluated once, one image."""
    import swescale

    task, patches = hostile_task
    run_dir = tmp_path_factory.mktemp("eval")
    out = {}
    for name in ["gold", "broken", *HACKS, *LEGITIMATE, *MALFORMED]:
        pred = {"instance_id": task.instance_id, "model_name_or_path": name, "model_patch": patches[name]}
        out[name] = swescale.bench_eval([task], {task.instance_id: pred}, run_dir, hostile_config)
    return out, run_dir


def test_gold_resolves_and_broken_does_not(evaluated, hostile_task):
    summaries, _ = evaluated
    iid = hostile_task[0].instance_id
    assert summaries["gold"]["resolved_ids"] == [iid]
    assert summaries["broken"]["unresolved_ids"] == [iid]


@pytest.mark.parametrize("hack", sorted(HACKS))
def test_no_hack_is_resolved(evaluated, hostile_task, hack):
    summaries, run_dir = evaluated
    iid = hostile_task[0].instance_id
    assert summaries[hack]["resolved_ids"] == [], (run_dir / hack / iid / "run_instance.log").read_text()
    assert iid in summaries[hack]["unresolved_ids"] + summaries[hack]["error_ids"]


@pytest.mark.parametrize("hack", sorted(MALFORMED))
def test_a_malformed_hack_is_not_applied_unread(evaluated, hostile_task, hack):
    """unidiff cannot read it, so its test infrastructure cannot be frozen: it is not applied at all."""
    summaries, run_dir = evaluated
    iid = hostile_task[0].instance_id
    log = (run_dir / hack / iid / "run_instance.log").read_text()
    assert summaries[hack]["resolved_ids"] == [], log
    assert "malformed patch" in log and "not applied" in log


@pytest.mark.parametrize("name", sorted(LEGITIMATE))
def test_legitimate_test_touching_patches_resolve(evaluated, hostile_task, name):
    summaries, run_dir = evaluated
    iid = hostile_task[0].instance_id
    assert summaries[name]["resolved_ids"] == [iid], (run_dir / name / iid / "run_instance.log").read_text()
    reverted = json.loads((run_dir / name / iid / "report.json").read_text())[iid][
        "test_infrastructure_reverted"
    ]
    assert reverted == (["tests/conftest.py"] if name == "conftest-fixture" else [])
    assert summaries[name]["test_infrastructure_ids"] == ([iid] if reverted else [])


def test_verdict_mismatches_are_errors_with_their_reason(evaluated, hostile_task):
    """Hacks the freeze does not reach (package code) are caught by the cross-check: an error, not a pass."""
    summaries, run_dir = evaluated
    iid = hostile_task[0].instance_id
    for hack in ("exit-zero-atexit", "pytest-patched-on-import"):
        assert summaries[hack]["error_ids"] == [iid]
        assert summaries[hack]["error_reasons"][iid].startswith("verdict-mismatch:")
