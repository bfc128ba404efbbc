"""`swescale solve` end to end: scripted model server on loopback, real Docker, real git."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pipeline_scripts import (
    ISSUE,
    LOWER_MIDDLE,
    RIGHT_FIX,
    SESSION,
    bash,
    hidden_check,
    slow_script,
    solve_config,
)

from swescale.cli.solve import EXIT_ABSTAINED, EXIT_CANNOT_START, EXIT_INTERRUPTED, run_solve
from swescale.demo.replay import JudgeReplay, make_demo_repo
from swescale.demo.scripted_server import ConversationPolicy, Router, ScriptedServer, system_contains
from verifiers.judge import PROBE_QUESTION

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]


def judge_says(yes: bool):
    return JudgeReplay([{"match": "", "reply": SESSION["judge"][0 if yes else 2]["reply"]}])


def solve_with(
    server_policy, tmp_path: Path, repo: Path, *overrides: str
) -> tuple[int, dict, ScriptedServer]:
    with ScriptedServer(server_policy) as server:
        config = solve_config(server.url, *overrides)
        code = run_solve(config, repo, ISSUE, None, tmp_path / "run", tmp_path / "fix.diff")
    return code, json.loads((tmp_path / "run" / "run.json").read_text()), server


def own_containers(docker_client) -> list:
    owner = f"{socket.gethostname()}:{os.getpid()}"
    return docker_client.containers.list(all=True, filters={"label": f"swescale.owner={owner}"})


def test_demo_replay_second_generation_improves_and_fix_is_chosen(demo_env, tmp_path, docker_client):
    """The README's main job: `swescale demo` (a labelled replay) refines, converges and writes a real fix."""
    out = tmp_path / "fix.diff"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "swescale.cli.main",
            "demo",
            "--run-dir",
            str(tmp_path / "run"),
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "SCRIPTED REPLAY" in proc.stderr and "no model is involved" in proc.stderr
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    gens = run["generations"]
    assert len(gens) == 2, run["stop_reasons"]  # converged after the second of three generations
    assert gens[1]["best_score"] > gens[0]["best_score"]
    assert any(r.startswith("converged") for r in run["stop_reasons"])
    assert run["decision"]["chosen"].startswith("g1-")
    # the issue's own example (`minimath.median([1, 2, 3, 4])` should return 2.5) ran as a probe on the
    # local clone, its package imported, and the chosen fix gives the value the issue expects
    chosen_cluster = run["decision"]["clusters"][0]
    assert chosen_cluster["probe_checks"] == chosen_cluster["probe_met"] == 1
    patch = out.read_text()
    assert "reproduce_issue.py" not in patch and "minimath/stats.py" in patch
    assert hidden_check(make_demo_repo(tmp_path / "fresh"), patch)
    # generation 1 was shown generation 0's candidates and their test results
    g1 = json.loads((tmp_path / "run" / "trajectories" / "g1-t0.json").read_text())
    first_prompt = next(m["content"] for m in g1["messages"] if m["role"] == "user")
    assert "Generation 0 produced these attempts" in first_prompt and "FAIL" in first_prompt
    # the judge was asked and its P(YES) came from logprobs
    table = json.loads((tmp_path / "run" / "gen1" / run["instance_id"] / "selection_table.json").read_text())
    chosen = next(r for r in table["rows"] if r["candidate_id"] == run["decision"]["chosen"])
    assert chosen["judge"] > 0.9
    assert (tmp_path / "run" / "report.html").read_text().count("<tr") > 3
    assert not own_containers(docker_client)


def test_abstains_with_exit_code_3_on_contradicting_evidence(demo_env, demo_repo, tmp_path):
    policy = Router(
        [(system_contains("You are a patch verifier"), judge_says(False))],
        default=ConversationPolicy([LOWER_MIDDLE, [bash("true", "Look first."), *LOWER_MIDDLE]]),
    )
    code, run, _ = solve_with(policy, tmp_path, demo_repo, "solve.trajectories=2")
    assert code == EXIT_ABSTAINED
    assert run["abstained"] and run["reason"]
    assert run["decision"]["best"] is not None  # the best candidate is still recorded
    assert not (tmp_path / "fix.diff").exists()


def test_judge_trajectory_shows_the_judge_the_candidates_own_trajectory(demo_env, demo_repo, tmp_path):
    """`verifier.judge_trajectory=true`: each judge prompt carries the condensed trajectory of its candidate."""
    policy = Router(
        [(system_contains("You are a patch verifier"), judge_says(True))],
        default=ConversationPolicy([RIGHT_FIX]),
    )
    secret = "sk-swescale-test-secret-4711"
    code, run, server = solve_with(
        policy,
        tmp_path,
        demo_repo,
        "solve.trajectories=1",
        "verifier.judge_trajectory=true",
        f"model.api_key={secret}",
    )
    assert code == 0
    written = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert (tmp_path / "run" / "config.yaml") in written
    assert not [p for p in written if secret.encode() in p.read_bytes()]  # the API key is in no run file
    judge_prompts = [
        "\n".join(str(m.get("content")) for m in r["messages"])
        for r in server.requests
        if "You are a patch verifier" in str(r["messages"][0].get("content"))
        and PROBE_QUESTION not in str(r["messages"][-1].get("content"))  # the judge's method probe
    ]
    assert judge_prompts
    first_thought = RIGHT_FIX[0]["content"]
    assert all("<agent_trajectory_summary>" in p and first_thought in p for p in judge_prompts)


def test_first_finish_stops_the_rest_of_the_generation(demo_env, demo_repo, tmp_path):
    scripts = [RIGHT_FIX, slow_script("a"), slow_script("b")]
    policy = Router(
        [(system_contains("You are a patch verifier"), judge_says(True))], default=ConversationPolicy(scripts)
    )
    started = time.monotonic()
    code, run, _ = solve_with(policy, tmp_path, demo_repo, "solve.trajectories=3", "solve.first_finish=1")
    assert time.monotonic() - started < 240
    assert code == 0
    assert any(r.startswith("first-finish") for r in run["stop_reasons"])
    results = [
        json.loads(line) for line in (tmp_path / "run" / "trajectories.jsonl").read_text().splitlines()
    ]
    statuses = sorted(r["exit_status"] for r in results)
    assert statuses == ["cancelled", "cancelled", "submitted"]


def test_exhausted_model_call_budget_stops_the_run(demo_env, demo_repo, tmp_path):
    policy = ConversationPolicy([slow_script("a", delay=0.0), slow_script("b", delay=0.0)])
    code, run, _ = solve_with(
        policy,
        tmp_path,
        demo_repo,
        "solve.trajectories=2",
        "solve.generations=3",
        "solve.max_model_calls=6",
        "verifier.judge=false",
    )
    assert any("model-call budget spent" in r for r in run["stop_reasons"])
    assert len(run["generations"]) == 1
    assert run["usage"]["calls"] <= 6 + 2  # each live trajectory may finish the call it had in flight
    assert code in (0, EXIT_ABSTAINED)


def test_model_server_dying_mid_run_ends_trajectories_not_the_run(
    demo_env, demo_repo, tmp_path, docker_client
):
    calls = {"n": 0}
    script = ConversationPolicy([RIGHT_FIX[:3] + [bash("ls", "One more look.")] * 10])
    holder: dict = {}

    def dying(request):
        calls["n"] += 1
        if calls["n"] == 4:  # after the fix is in place, the server goes away
            threading.Thread(target=holder["server"].stop).start()
        return script(request)

    server = ScriptedServer(dying)
    holder["server"] = server
    with server:
        config = solve_config(server.url, "solve.trajectories=1", "verifier.judge=false")
        code = run_solve(config, demo_repo, ISSUE, None, tmp_path / "run", tmp_path / "fix.diff")
    run_data = json.loads((tmp_path / "run" / "run.json").read_text())
    results = [json.loads(x) for x in (tmp_path / "run" / "trajectories.jsonl").read_text().splitlines()]
    assert [r["exit_status"] for r in results] == ["model_error"]
    assert "minimath/stats.py" in results[0]["patch"]  # the diff at the failure is kept as a candidate
    assert code in (0, EXIT_ABSTAINED) and run_data["decision"] is not None
    assert not own_containers(docker_client)


def test_dead_model_server_is_an_error_not_an_abstention(demo_env, demo_repo, tmp_path, docker_client):
    """The server lists its model but every chat request fails: exit 2, run.json says error, not
    abstained; every trajectory, test-writing ones included, is recorded and counted."""
    from swescale.bench.errors import last_results, trajectory_failures

    with ScriptedServer(lambda request: {"status": 500, "content": "engine dead"}) as server:
        config = solve_config(
            server.url, "solve.trajectories=2", "verifier.test_trajectories=1", "model.backoff=0.01"
        )
        code = run_solve(config, demo_repo, ISSUE, None, tmp_path / "run", tmp_path / "fix.diff")
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert code == EXIT_CANNOT_START
    assert not run["abstained"] and run["error_class"] == "model-server"
    assert "all 3 trajectories ended model_error" in run["error"] and "engine dead" in run["error"]
    assert run["trajectory_stops"]["testgen-0"].startswith("model_error: model call failed")
    results = last_results(tmp_path / "run")
    assert sorted(r.trajectory_id for r in results) == ["g0-t0", "g0-t1", "testgen-0"]
    assert trajectory_failures(results)[1].startswith("3 of 3 trajectories failed")
    assert not (tmp_path / "run" / "tests.jsonl").exists()  # a resumed run writes the tests again
    assert not own_containers(docker_client)


def test_ctrl_c_stops_cleanly_leaves_no_container_and_keeps_what_finished(
    demo_env, demo_repo, tmp_path, docker_client
):
    policy = ConversationPolicy([RIGHT_FIX, slow_script("a", delay=0.5, steps=200)])
    with ScriptedServer(policy) as server:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "swescale.cli.main",
                "solve",
                "--repo",
                str(demo_repo),
                "--issue",
                ISSUE,
                "--model",
                server.url,
                "--run-dir",
                str(tmp_path / "run"),
                "solve.trajectories=2",
                "verifier.test_trajectories=0",
                "model.tool_format=native",
                "verifier.judge=false",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        results = tmp_path / "run" / "trajectories.jsonl"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not (results.exists() and results.read_text().strip()):
            time.sleep(0.5)  # wait until the quick trajectory finished while the slow one runs
        assert results.exists(), "no trajectory finished in time"
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_INTERRUPTED, output[-3000:]
    owner = f"{socket.gethostname()}:{proc.pid}"
    assert not docker_client.containers.list(all=True, filters={"label": f"swescale.owner={owner}"})
    kept = [json.loads(x) for x in results.read_text().splitlines()]
    assert "submitted" in [r["exit_status"] for r in kept]
    run_data = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run_data["interrupted"] and any("interrupted" in r for r in run_data["stop_reasons"])
    assert (tmp_path / "run" / "candidates.jsonl").read_text().strip()


def test_crash_mid_run_resumes_where_it_stopped(demo_env, demo_repo, tmp_path, docker_client):
    """SIGKILL mid-run; the same command again keeps the finished trajectory, runs only the rest, and the
    killed run's containers are removed by the next start."""
    run_dir = tmp_path / "run"
    args = [
        "--repo",
        str(demo_repo),
        "--issue",
        ISSUE,
        "--run-dir",
        str(run_dir),
        "solve.trajectories=2",
        "verifier.test_trajectories=0",
        "model.tool_format=native",
        "verifier.judge=false",
    ]
    with ScriptedServer(ConversationPolicy([RIGHT_FIX, slow_script("a", delay=0.5, steps=200)])) as server:
        proc = subprocess.Popen(
            [sys.executable, "-m", "swescale.cli.main", "solve", "--model", server.url, *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        results = run_dir / "trajectories.jsonl"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not (results.exists() and results.read_text().strip()):
            time.sleep(0.5)
        proc.kill()
        proc.wait(timeout=60)
    first = [json.loads(x) for x in results.read_text().splitlines()]
    assert [r["exit_status"] for r in first] == ["submitted"]
    with ScriptedServer(ConversationPolicy([[bash("ls", "Look."), *LOWER_MIDDLE]])) as server:
        resumed = subprocess.run(
            [sys.executable, "-m", "swescale.cli.main", "solve", "--model", server.url, *args],
            capture_output=True,
            text=True,
            timeout=600,
        )
        conversations = {json.dumps(r["messages"][:2]) for r in server.requests if r.get("tools")}
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed: 1 trajectories" in resumed.stderr
    assert len(conversations) == 1  # only the unfinished trajectory ran again
    run_data = json.loads((run_dir / "run.json").read_text())
    assert run_data["resumed"] == 1
    assert sorted(c for c in run_data["decision"]["ranking"]) == ["g0-t0", "g0-t1"]
    owner = f"{socket.gethostname()}:{proc.pid}"
    assert not docker_client.containers.list(all=True, filters={"label": f"swescale.owner={owner}"})
