"""`swescale bench run` as a user runs it: kill -9 mid-run and rerun, errors recorded while the others
finish, `--retry-errors`, `bench report` on graded candidates. Real Docker, git, HTTP and SQLite; the
model is the scripted server."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading

import docker
import pytest
from bench_scripts import (
    COMMON,
    InstancePolicy,
    cli,
    instance_rows,
    make_dataset,
    spawn,
    statuses,
    wait_for,
)

from swescale.demo.scripted_server import Reply, Router, ScriptedServer, system_contains

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]


def _predictions(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_kill_9_mid_run_then_the_same_command_gets_every_instance_once(bench_env, bench_repo, tmp_path):
    cases = {"k1": "right", "k2": "right", "k3": "wrong", "k4": "right", "k5": "wrong"}
    dataset = make_dataset(tmp_path, bench_repo, cases)
    run_dir, output = tmp_path / "run", tmp_path / "preds.jsonl"
    policy = InstancePolicy(cases, delay=0.4)
    with ScriptedServer(policy) as server:
        args = ["bench", "run", "--dataset", str(dataset), "--model", server.url, "--run-dir", str(run_dir)]
        args += ["--output", str(output), "--workers", "2", "--evaluate", *COMMON]
        first = spawn(*args, log=tmp_path / "first.log")

        def mid_run() -> bool:
            states = list(statuses(run_dir).values())
            return states.count("done") >= 1 and states.count("running") >= 1

        wait_for(mid_run, 300, "one instance done and one running")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(30)
        at_kill = statuses(run_dir)
        done_before = {i for i, s in at_kill.items() if s == "done"}
        running_at_kill = {i for i, s in at_kill.items() if s == "running"}
        requests_before = dict(policy.requests)
        predictions_at_kill = {p["instance_id"] for p in _predictions(output)}
        # derived from the state: never ahead of it; a kill between the state's commit and the file's
        # rewrite leaves it one change behind, which the next open rewrites (checked after the rerun)
        assert predictions_at_kill <= done_before and len(done_before - predictions_at_kill) <= 1

        again = cli(*args)
        assert again.returncode == 0, again.stderr[-4000:]
    rows = instance_rows(run_dir)
    for path in (output, run_dir / "predictions.jsonl"):
        assert sorted(p["instance_id"] for p in _predictions(path)) == sorted(cases)  # each exactly once
    for iid in done_before:  # no finished instance redone
        assert policy.requests[iid] == requests_before[iid] and rows[iid]["attempts"] == 1
    assert all(rows[i]["attempts"] == 2 for i in running_at_kill)
    assert {i: r["verdict"] for i, r in rows.items()} == {
        i: "resolved" if kind == "right" else "unresolved" for i, kind in cases.items()
    }
    # the killed driver's sandboxes were removed by the rerun (gc of dead owners)
    owner = f"{socket.gethostname()}:{first.pid}"
    left = docker.from_env().containers.list(all=True, filters={"label": f"swescale.owner={owner}"})
    assert left == []

    # the predictions file is what `bench eval` (and swebench's harness) reads; it grades them alike
    graded = cli(
        "bench",
        "eval",
        "--dataset",
        str(dataset),
        "--predictions",
        str(output),
        "--run-dir",
        str(tmp_path / "eval"),
    )
    assert graded.returncode == 0, graded.stderr[-3000:]
    harness = json.loads((tmp_path / "eval" / "swescale.report.json").read_text())
    assert harness["resolved_ids"] == sorted(i for i, r in rows.items() if r["verdict"] == "resolved")

    report = cli("bench", "report", str(run_dir))
    assert report.returncode == 0, report.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["resolve_rate"] == sum(k == "right" for k in cases.values()) / len(cases)
    assert summary["done"] == len(cases) and "resolve rate" in report.stdout


def test_build_failure_and_dying_model_server_are_errors_while_the_others_finish(
    bench_env, bench_repo, tmp_path
):
    cases = {"e1": "right", "e2": "broken", "e3": "right", "e4": "wrong"}
    dataset = make_dataset(tmp_path, bench_repo, cases)
    run_dir = tmp_path / "run"
    servers: list[ScriptedServer] = []

    def die() -> None:  # e3's first answer goes out, then the server is gone
        threading.Thread(target=servers[0].stop, daemon=True).start()

    policy = InstancePolicy(cases, hooks={"e3": die})
    servers.append(ScriptedServer(policy).start())
    url, port = servers[0].url, servers[0]._httpd.server_address[1]
    args = ["bench", "run", "--dataset", str(dataset), "--model", url, "--run-dir", str(run_dir), *COMMON]
    args += ["model.retries=3", "model.backoff=0.5", "bench.max_attempts=1"]  # no retry within the run
    try:
        run = spawn(*args, log=tmp_path / "first.log")
        wait_for(lambda: statuses(run_dir).get("e3") == "error", 300, "e3 recorded as an error")
        servers.append(ScriptedServer(policy, port=port).start())  # the server is back for the others
        assert run.wait(300) == 1, (tmp_path / "first.log").read_text()[-4000:]
        rows = instance_rows(run_dir)
        assert {i: r["status"] for i, r in rows.items()} == {
            "e1": "done",
            "e2": "error",
            "e3": "error",
            "e4": "done",
        }
        assert rows["e2"]["error_class"] == "environment-build" and "deadbeef" in rows["e2"]["error"]
        assert rows["e3"]["error_class"] == "model-server"
        spent = json.loads(rows["e3"]["result"])  # what it spent before the server died
        assert spent["tokens"] > 0 and spent["calls"] >= 1
        assert [p["instance_id"] for p in _predictions(run_dir / "predictions.jsonl")] == ["e1", "e4"]

        retry = cli(*args, "--retry-errors")
        assert retry.returncode == 1, retry.stderr[-4000:]  # e2 still cannot be built
    finally:
        for server in servers:
            server.stop()
    rows = instance_rows(run_dir)
    assert rows["e3"]["status"] == "done" and rows["e3"]["attempts"] == 2
    assert rows["e2"]["status"] == "error" and rows["e2"]["attempts"] == 2
    assert rows["e1"]["attempts"] == 1 and "e2" in retry.stderr
    assert [p["instance_id"] for p in _predictions(run_dir / "predictions.jsonl")] == ["e1", "e3", "e4"]


def test_bench_report_on_graded_candidates(bench_env, bench_repo, tmp_path):
    cases = {"r1": "mixed", "r2": "wrong"}
    dataset = make_dataset(tmp_path, bench_repo, cases)
    run_dir = tmp_path / "run"
    judge = Reply(content="YES")
    policy = Router(
        [(system_contains("You are a patch verifier"), lambda _: judge)], default=InstancePolicy(cases)
    )
    overrides = [o for o in COMMON if not o.startswith(("solve.trajectories", "verifier.judge"))]
    with ScriptedServer(policy) as server:
        args = ["bench", "run", "--dataset", str(dataset), "--model", server.url, "--run-dir", str(run_dir)]
        run = cli(*args, "--workers", "2", "--evaluate", "solve.trajectories=2", *overrides)
        assert run.returncode == 0, run.stderr[-4000:]
    report = cli("bench", "report", str(run_dir), "--grade-candidates")
    assert report.returncode == 0, report.stderr[-4000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    by_id = {p["instance_id"]: p for p in summary["per_instance"]}
    assert by_id["r1"]["candidates_resolved"] == 1 and by_id["r2"]["candidates_resolved"] == 0
    assert summary["coverage"] == 1 / 2 and summary["selection_accuracy"] == 1.0
    assert summary["resolve_rate"] == 1 / 2
    assert summary["abstention_precision"] in (None, 1.0)  # r2 has nothing to resolve it
    assert (
        summary["stages"]["fix"]["tokens"]["total"] > 0 and summary["stages"]["judge"]["tokens"]["total"] > 0
    )
    assert summary["stages"]["verification"]["seconds"]["total"] > 0
    html = (run_dir / "report.html").read_text()
    assert html.count("<svg") == 4 and "coverage (oracle)</td><td>50.0%" in html


def test_ctrl_c_leaves_running_instances_pending_and_no_container(bench_env, bench_repo, tmp_path):
    cases = {"i1": "right", "i2": "wrong"}
    dataset = make_dataset(tmp_path, bench_repo, cases)
    run_dir = tmp_path / "run"
    policy = InstancePolicy(cases, delay=1.0)
    with ScriptedServer(policy) as server:
        args = ["bench", "run", "--dataset", str(dataset), "--model", server.url, "--run-dir", str(run_dir)]
        args += ["--workers", "2", *COMMON]
        run = spawn(*args, log=tmp_path / "run.log")
        wait_for(lambda: len(policy.started) == 2, 300, "both instances solving")
        run.send_signal(signal.SIGINT)
        assert run.wait(120) == 130, (tmp_path / "run.log").read_text()[-3000:]
        assert set(statuses(run_dir).values()) <= {"pending", "done"}
        owner = f"{socket.gethostname()}:{run.pid}"
        assert docker.from_env().containers.list(all=True, filters={"label": f"swescale.owner={owner}"}) == []
        again = cli(*args)
        assert again.returncode == 0, again.stderr[-3000:]
    assert set(statuses(run_dir).values()) == {"done"}


def test_instance_timeout_is_an_error_not_a_prediction(bench_env, bench_repo, tmp_path):
    from envs.datasets import load_tasks
    from swescale.api import bench_run
    from swescale.config import load_config

    cases = {"t1": "right"}
    tasks = load_tasks(make_dataset(tmp_path, bench_repo, cases))
    with ScriptedServer(InstancePolicy(cases, delay=3.0)) as server:
        config = load_config([], [f"model.urls=[{server.url}]", "bench.instance_timeout=4", *COMMON])
        summary = bench_run(tasks, config, tmp_path / "run")
    assert summary.errors == 1 and summary.error_ids == ["t1"]
    row = instance_rows(tmp_path / "run")["t1"]
    assert row["error_class"] == "timeout" and "instance_timeout" in row["error"]
    assert (tmp_path / "run" / "predictions.jsonl").read_text() == ""
