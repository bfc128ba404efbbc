"""`swescale bench run --evaluate` on two tiny tasks with a real model (SmolLM2-135M on llama.cpp), through a
recording proxy: each instance ends with a prediction (an empty one is an abstention) or a classified error,
never a traceback or a hang; the report shows what each instance spent; every request the server received
would be valid for vLLM too. Native tool calls (`model.tool_format=native`): a call the model writes (its
own `<tool_call>` JSON, cut or malformed as a 135M model writes it) goes into the history as a native call
with its arguments, where vLLM would parse them. SmolLM2-135M wrote no readable call in our runs (the
check then covers roles and contents only); it prints how many history calls it saw."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from bench_scripts import instance_rows, make_dataset
from realmodel_cli import RealModel, swescale
from recording_proxy import RecordingProxy, vllm_history_problems

from swescale.demo.replay import make_demo_repo

pytestmark = [pytest.mark.realmodel, pytest.mark.docker, pytest.mark.timeout(600)]

CASES = {"rm__bench-1": "right", "rm__bench-2": "wrong"}
SMALL_BENCH = [
    "agent.max_steps=3",
    "model.max_tokens=256",
    "model.tool_format=native",
    "solve.trajectories=1",
    "solve.generations=1",
    "verifier.test_trajectories=0",
    "verifier.regression=false",
]
"""Six to ten model calls: one trajectory of three steps per instance, the judge on any candidate."""


@dataclass(frozen=True)
class BenchRun:
    output: str
    returncode: int
    run_dir: Path
    requests: list[dict]


@pytest.fixture(scope="module")
def bench_run(_smollm2_server: RealModel, base_image, tmp_path_factory) -> BenchRun:
    root = tmp_path_factory.mktemp("bench-real")
    dataset = make_dataset(root, make_demo_repo(root / "minimath"), CASES)
    run_dir = root / "run"
    with RecordingProxy(_smollm2_server.url) as proxy:
        args = ["bench", "run", "--dataset", str(dataset), "--servers", str(_smollm2_server.servers)]
        args += ["--model", proxy.url, "--run-dir", str(run_dir), "--output", str(root / "preds.jsonl")]
        args += ["--evaluate", "--workers", "2", *SMALL_BENCH]
        ran = swescale(*args, cwd=root, timeout=420)  # a hang fails here
        requests = proxy.chat_requests
    return BenchRun(ran.stdout, ran.returncode, run_dir, requests)


def test_each_instance_ends_with_a_graded_prediction_or_a_classified_error(real_model, bench_run):
    assert "Traceback" not in bench_run.output, bench_run.output
    assert bench_run.returncode in (0, 1), bench_run.output  # 1: some instance ended in an error
    assert bench_run.requests, "no chat request reached the server"
    rows = instance_rows(bench_run.run_dir)
    assert set(rows) == set(CASES)
    print({i: (r["status"], r["error_class"], r["verdict"]) for i, r in rows.items()})
    for row in rows.values():
        assert row["status"] in ("done", "error"), row
        if row["status"] == "error":
            assert row["error_class"] and row["error"], row
            continue
        # --evaluate graded the prediction: an empty one (abstention) without running anything
        expected = {"resolved", "unresolved", "apply-failed"} if (row["patch"] or "").strip() else {"empty"}
        assert row["verdict"] in expected, row
    predictions = [
        json.loads(line) for line in (bench_run.run_dir / "predictions.jsonl").read_text().splitlines()
    ]
    assert sorted(p["instance_id"] for p in predictions) == sorted(
        i for i, r in rows.items() if r["status"] == "done"
    )
    done, errors = (
        sum(r["status"] == "done" for r in rows.values()),
        sum(r["status"] == "error" for r in rows.values()),
    )
    assert f"{done} of 2 instances done" in bench_run.output and f"{errors} errors" in bench_run.output


def test_the_report_shows_what_each_instance_spent(real_model, bench_run):
    report = swescale("bench", "report", str(bench_run.run_dir), cwd=bench_run.run_dir, timeout=120)
    assert report.returncode == 0 and "Traceback" not in report.stdout, report.stdout
    summary = json.loads((bench_run.run_dir / "summary.json").read_text())
    for instance in summary["per_instance"]:  # what its own run.json counts, errors included
        run_json = bench_run.run_dir / "instances" / instance["instance_id"] / "run.json"
        calls = json.loads(run_json.read_text())["usage"]["calls"] if run_json.exists() else 0
        assert calls > 0 or instance["status"] == "error", instance
        if calls:
            assert instance["tokens"] > 0, (instance, run_json.read_text()[:2000])
        if instance["status"] == "done":
            assert instance["stages"]["fix"]["tokens"] > 0, instance
    assert summary["stages"]["fix"]["tokens"]["total"] > 0
    assert "tokens / instance" in report.stdout


def test_every_request_would_be_valid_for_vllm(real_model, bench_run):
    problems = [p for request in bench_run.requests for p in vllm_history_problems(request)]
    calls = sum(len(m.get("tool_calls") or []) for r in bench_run.requests for m in r["messages"])
    print(f"{len(bench_run.requests)} chat requests, {calls} history tool calls")
    assert not problems, "\n".join(problems)
