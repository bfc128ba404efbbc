"""A test-writing trajectory whose container is removed mid-run: recorded in trajectories.jsonl (never
dropped), tests.jsonl not written, and the resumed run writes the tests while the finished fix trajectory is
kept; with sandbox reruns on, the same fault is survived within the run. Real Docker, HTTP and files."""

from __future__ import annotations

import json
import uuid
from collections import Counter

import pytest
from bench_scripts import make_dataset
from pipeline_scripts import REPRO_STRICT, RIGHT_FIX, bash, edit, solve_config, submit
from scenario import break_sandbox

from envs.datasets import load_tasks
from swescale.demo.scripted_server import Reply, ScriptedServer
from swescale.pipeline import solve_task

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]
TEST_WRITER = "Your task is NOT to fix the issue"


class WriterFault:
    """Fix conversations get the right fix; test-writing ones a script, their first sandbox removed after its
    first command (a marker file finds it) when `faults` is left."""

    def __init__(self, faults: int):
        self.faults, self.marker = faults, f"/tmp/swescale-writer-{uuid.uuid4().hex[:12]}"
        self.started = Counter[str]()

    def __call__(self, request: dict) -> Reply:
        first_user = next(m for m in request["messages"] if m["role"] == "user")["content"]
        writer = TEST_WRITER in first_user
        step = sum(1 for m in request["messages"] if m["role"] == "assistant")
        if step == 0:
            self.started["writer" if writer else "fix"] += 1
        script = (
            [
                bash(f"touch {self.marker}", "Start."),
                edit("A test.", command="create", path="/testbed/reproduce_issue.py", file_text=REPRO_STRICT),
                submit("Written."),
            ]
            if writer
            else RIGHT_FIX
        )
        if writer and step == 1 and self.faults:
            self.faults -= 1
            break_sandbox(self.marker, remove=True)
        return Reply.of(script[step] if step < len(script) else script[-1])


def _lines(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "trajectories.jsonl").read_text().splitlines()]


def test_a_failed_test_writer_is_recorded_and_the_resumed_run_writes_the_tests(
    bench_env, bench_repo, tmp_path
):
    task = load_tasks(make_dataset(tmp_path, bench_repo, {"w1": "right"}))[0]
    run_dir, policy = tmp_path / "run", WriterFault(faults=1)
    overrides = ["verifier.test_trajectories=1", "solve.trajectories=1", "verifier.judge=false"]
    overrides += ["verifier.regression=false", "model.name=scripted"]
    with ScriptedServer(policy) as server:
        solve_task(
            task, solve_config(server.url, *overrides, "solve.sandbox_reruns=0"), run_dir, env=bench_env
        )
        writers = [r for r in _lines(run_dir) if r["mode"] == "test"]
        assert [(r["trajectory_id"], r["exit_status"]) for r in writers] == [("testgen-0", "sandbox_error")]
        assert not (run_dir / "tests.jsonl").exists()  # the stage did not complete
        before = dict(policy.started)
        solve_task(task, solve_config(server.url, *overrides), run_dir, env=bench_env)  # resumed
    # the finished fix trajectory was kept, the writer ran again
    assert policy.started["fix"] == before["fix"] and policy.started["writer"] > before["writer"]
    tests = [json.loads(line) for line in (run_dir / "tests.jsonl").read_text().splitlines()]
    assert [t["test_id"] for t in tests] == ["testgen:testgen-0"]


def test_a_test_writer_whose_sandbox_died_runs_again_within_the_run(bench_env, bench_repo, tmp_path):
    task = load_tasks(make_dataset(tmp_path, bench_repo, {"w2": "right"}))[0]
    run_dir, policy = tmp_path / "run", WriterFault(faults=1)
    overrides = ["verifier.test_trajectories=1", "solve.trajectories=1", "verifier.judge=false"]
    overrides += ["verifier.regression=false", "model.name=scripted", "solve.sandbox_backoff=0.2"]
    with ScriptedServer(policy) as server:
        outcome = solve_task(task, solve_config(server.url, *overrides), run_dir, env=bench_env)
    writers = [r for r in _lines(run_dir) if r["mode"] == "test"]
    # the fault (other users of the engine may add sandbox errors), then the rerun that ended
    assert any("exec server is gone" in r["error"] for r in writers[:-1]), writers
    assert {r["exit_status"] for r in writers[:-1]} == {"sandbox_error"} and writers[-1][
        "exit_status"
    ] == "submitted"
    assert (run_dir / "tests.jsonl").exists() and outcome.patch
    assert (run_dir / "trajectories" / "testgen-0.sandbox-error-1.json").exists()
