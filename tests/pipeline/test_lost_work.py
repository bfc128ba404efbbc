"""Lost work, one line each (swescale.lostwork), and the sandbox rerun of a fix trajectory
(swescale.pipeline.rerun_sandbox_errors): real files, real threads, no Docker."""

from __future__ import annotations

import json
import threading
import time

from agent.result import ExitStatus, TrajectoryResult
from swescale.config import load_config
from swescale.lostwork import lost_work
from swescale.pipeline import rerun_sandbox_errors


def _result(status: ExitStatus, patch: str = "", error: str = "") -> TrajectoryResult:
    return TrajectoryResult(trajectory_id="g0-t0", exit_status=status, patch=patch, steps=3, error=error)


def test_every_lost_attempt_and_failed_verification_has_a_line(tmp_path):
    results = [
        _result(
            ExitStatus.sandbox_error, "diff --git a/x b/x\n+1\n", "SandboxError: container gone\nTraceback"
        ),
        _result(ExitStatus.submitted, "diff"),
        TrajectoryResult(trajectory_id="g0-t1", exit_status=ExitStatus.model_error, error="failed after 5"),
        TrajectoryResult(trajectory_id="g0-t2", exit_status=ExitStatus.step_limit),
    ]
    (tmp_path / "trajectories.jsonl").write_text(
        "".join(r.model_dump_json() + "\n" for r in results) + "{cut"
    )
    table = tmp_path / "gen0" / "task" / "verifier_table.json"
    table.parent.mkdir(parents=True)
    meta = {"verification_retries": {"a" * 64: "OperationalError('database is locked')"}}
    meta["verification_errors"] = {"b" * 64: "SandboxError('gone')"}
    table.write_text(json.dumps({"instance_id": "task", "meta": meta}))
    lines = lost_work(tmp_path)
    assert len(lines) == 4, lines
    assert "g0-t0 (fix): sandbox_error after 3 steps" in lines[0] and "its diff kept (2 lines)" in lines[0]
    assert "ran again: submitted (SandboxError: container gone)" in lines[0]
    assert "g0-t1" in lines[1] and "not run again" in lines[1]
    assert "aaaaaaaaaaaa failed and ran again (OperationalError('database is locked'))" in lines[2]
    assert "bbbbbbbbbbbb failed twice" in lines[3]


def test_a_sandbox_error_runs_again_with_backoff_up_to_the_bound():
    solve = load_config([], ["solve.sandbox_reruns=2", "solve.sandbox_backoff=0.1"]).solve
    answers = [_result(ExitStatus.sandbox_error, error=f"gone {i}") for i in range(5)]
    aside: list[tuple[str, int]] = []
    started = time.monotonic()
    last = rerun_sandbox_errors(
        lambda: answers.pop(0), solve, threading.Event(), lambda r, n: aside.append((r.error, n))
    )
    assert time.monotonic() - started >= 0.3  # 0.1 s, then 0.2 s
    assert last.error == "gone 2" and aside == [("gone 0", 1), ("gone 1", 2)] and len(answers) == 2
    answers = [_result(ExitStatus.sandbox_error), _result(ExitStatus.submitted, "diff")]
    assert (
        rerun_sandbox_errors(lambda: answers.pop(0), solve, threading.Event(), lambda r, n: None).patch
        == "diff"
    )


def test_no_rerun_once_the_run_is_cancelled():
    solve = load_config([], ["solve.sandbox_backoff=30"]).solve
    cancel = threading.Event()
    cancel.set()
    calls = []
    result = rerun_sandbox_errors(
        lambda: calls.append(1) or _result(ExitStatus.sandbox_error), solve, cancel, lambda r, n: None
    )
    assert result.exit_status == ExitStatus.sandbox_error and calls == [1]
