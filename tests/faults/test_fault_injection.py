"""Faults caused for real during `swescale bench run --workers 2 --evaluate`, then the same command again:
every instance exactly once, with a prediction, nothing lost or silently emptied, no container left
(scenario.py says which fault hits which instance; the disk budget reached among them). Real Docker,
processes, HTTP and SQLite."""

from __future__ import annotations

import json

import pytest
from bench_scripts import cli
from scenario import CASES, DISK_NOTE, FAULTS, run_scenario

from swescale.bench.state import instance_dir

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]


def test_every_fault_is_survived_with_nothing_lost(bench_env, bench_repo, tmp_path):
    outcome = run_scenario(tmp_path, bench_repo)
    logs = "\n".join(p.read_text()[-3000:] for p in sorted(tmp_path.glob("run-*.log")))
    assert sorted(outcome.fired) == sorted(FAULTS), logs
    rows = outcome.rows
    assert sorted(p["instance_id"] for p in outcome.predictions) == sorted(CASES), logs  # each once
    assert all(p["model_patch"].strip() for p in outcome.predictions), logs  # none silently emptied
    assert {i: r["status"] for i, r in rows.items()} == dict.fromkeys(CASES, "done"), logs
    assert {i: r["verdict"] for i, r in rows.items()} == dict.fromkeys(CASES, "resolved"), logs
    for iid in ("f-rm", "f-kill"):  # the dead sandbox's trajectory ran again within the same run
        assert outcome.trajectories[iid]["sandbox_error"] >= 1, outcome.trajectories  # more: other users
        assert outcome.trajectories[iid]["submitted"] == 1 and rows[iid]["attempts"] == 1
    assert "locked" in " ".join(outcome.verification_retries["f-lock"]), outcome.verification_retries
    # the runaway write was stopped and the agent told why (the watchdog's note, or ENOSPC where the storage
    # driver enforces the limit); its trajectory went on to submit the fix
    told = outcome.observations["f-disk"]
    assert DISK_NOTE in told or "No space left on device" in told, outcome.observations
    assert dict(outcome.trajectories["f-disk"]) == {"submitted": 1} and rows["f-disk"]["attempts"] == 1
    assert outcome.containers_left == []
    # every lost piece of work has a line in the reports
    report = cli("bench", "report", str(outcome.run_dir))
    assert report.returncode == 0, report.stderr[-3000:]
    lost = json.loads((outcome.run_dir / "summary.json").read_text())["lost_work"]
    for iid in ("f-rm", "f-kill"):
        assert any("sandbox_error" in line and "ran again: submitted" in line for line in lost[iid]), lost
        assert "Lost work" in (instance_dir(outcome.run_dir, iid) / "report.html").read_text()
    assert any("ran again" in line and "locked" in line for line in lost["f-lock"]), lost
    assert "lost work" in report.stdout
