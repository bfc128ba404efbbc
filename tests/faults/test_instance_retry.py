"""An instance whose sandbox fails (its container removed mid-trajectory) with the trajectory-level reruns
off, so that the failure reaches the instance: with bench's default configuration the instance is retried
within the same `bench run` (after `bench.retry_backoff`) and finished, resuming its folder. Real Docker,
processes and HTTP."""

from __future__ import annotations

import json

import pytest
from bench_scripts import COMMON, cli, instance_rows, make_dataset
from scenario import FaultPolicy

from swescale.bench.config import BenchConfig
from swescale.bench.state import instance_dir
from swescale.demo.scripted_server import ScriptedServer

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]


def test_an_instance_whose_sandbox_failed_is_finished_in_the_same_run_by_default(
    bench_env, bench_repo, tmp_path
):
    cases = {"f-rm": "right"}
    dataset, run_dir = make_dataset(tmp_path, bench_repo, cases), tmp_path / "run"
    policy = FaultPolicy(cases, inject=True, lock_file=tmp_path / "unused.sqlite")
    with ScriptedServer(policy) as server:
        run = cli(
            *("bench", "run", "--dataset", str(dataset), "--model", server.url, "--run-dir", str(run_dir)),
            *COMMON,
            "solve.sandbox_reruns=0",  # the trajectory is not rerun: the instance sees the failure
        )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert policy.fired == ["f-rm"]
    row = instance_rows(run_dir)["f-rm"]
    assert (row["status"], row["attempts"]) == ("done", 2) and row["patch"].strip()
    backoff = BenchConfig().retry_backoff
    assert f"docker-infrastructure on attempt 1 of 3, again in {backoff:.0f} s" in run.stdout + run.stderr
    lines = (instance_dir(run_dir, "f-rm") / "trajectories.jsonl").read_text().splitlines()
    assert [json.loads(line)["exit_status"] for line in lines] == ["sandbox_error", "submitted"]
