"""The bench state: SQLite in the run directory, predictions derived from it, safe against kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from swebench.harness.utils import get_predictions_from_file

from envs.records import DatasetError
from envs.task import Task
from swescale.bench.state import PREDICTIONS_FILE, BenchState, InstanceResult, StateError
from swescale.bench.tasks import parse_slice, select_tasks


def _tasks(n: int) -> list[Task]:
    return [
        Task(instance_id=f"org__repo-{i}", repo="org/repo", problem_statement=f"issue {i}") for i in range(n)
    ]


def _done(iid: str, patch: str = "diff --git a/x b/x\n") -> InstanceResult:
    return InstanceResult(instance_id=iid, status="done", patch=patch, tokens=10, seconds=1.0)


def test_predictions_hold_done_instances_only_in_dataset_order(tmp_path):
    with BenchState(tmp_path) as state:
        assert state.sync(_tasks(4)) == 4
        assert state.sync(_tasks(5)) == 1  # known ones keep their state
        state.record(_done("org__repo-2"))
        state.record(_done("org__repo-0", patch=""))  # an abstention is an empty prediction
        state.record(
            InstanceResult(
                instance_id="org__repo-1", status="error", error_class="model-server", error="down"
            )
        )
        state.write_predictions("swescale", tmp_path / "out" / "preds.jsonl")
        counts = state.counts()
    preds = get_predictions_from_file(str(tmp_path / PREDICTIONS_FILE), "unused", "test")
    assert [p["instance_id"] for p in preds] == ["org__repo-0", "org__repo-2"]
    assert preds[0]["model_patch"] == "" and preds[1]["model_name_or_path"] == "swescale"
    assert (tmp_path / "out" / "preds.jsonl").read_text() == (tmp_path / PREDICTIONS_FILE).read_text()
    assert counts == {"pending": 2, "running": 0, "done": 2, "error": 1}


def test_an_errored_instance_never_becomes_a_prediction_and_retry_resets_it(tmp_path):
    with BenchState(tmp_path) as state:
        state.sync(_tasks(2))
        state.claim("org__repo-0")
        state.record(
            InstanceResult(instance_id="org__repo-0", status="error", error_class="agent", error="bug")
        )
        assert state.predictions("m") == ""
        row = state.row("org__repo-0")
        assert (row.status, row.error_class, row.attempts, row.patch) == ("error", "agent", 1, None)
        assert state.reset(["org__repo-0", "org__repo-1"]) == ["org__repo-0"]  # only errors are reset
        state.claim("org__repo-0")
        state.record(_done("org__repo-0"))
        assert state.row("org__repo-0").attempts == 2
        state.set_candidate("org__repo-0", "g0-t0", "abc", 3, 100, "resolved")
        state.redo(["org__repo-0"])
        assert state.row("org__repo-0").status == "pending" and state.predictions("m") == ""
        assert state.candidates() == {}


def test_second_driver_on_the_same_run_dir_is_refused(tmp_path):
    with BenchState(tmp_path):
        with pytest.raises(StateError, match="in use by another"):
            BenchState(tmp_path)
        BenchState(tmp_path, lock=False).close()  # readers (bench report) are fine
    BenchState(tmp_path).close()  # the lock went with the first


def test_kill_9_mid_transaction_leaves_consistent_state_and_running_rows_resume(tmp_path):
    """A driver killed with SIGKILL while instances run: its lock lapses, its running rows are pending again,
    its recorded results are all there."""
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        from envs.task import Task
        from swescale.bench.state import BenchState, InstanceResult
        state = BenchState({str(tmp_path)!r})
        state.sync([Task(instance_id=f"i{{k}}") for k in range(20)])
        for k in range(10):
            state.claim(f"i{{k}}")
            state.record(InstanceResult(instance_id=f"i{{k}}", status="done", patch=f"p{{k}}"))
            state.write_predictions("m")
        state.claim("i10"); state.claim("i11")
        print("ready", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=os.getcwd())
    assert proc.returncode == -signal.SIGKILL and "ready" in proc.stdout, proc.stderr
    with BenchState(tmp_path) as state:
        counts = state.counts()
        preds = [json.loads(x) for x in (tmp_path / PREDICTIONS_FILE).read_text().splitlines()]
    assert counts == {"pending": 10, "running": 0, "done": 10, "error": 0}
    assert [p["instance_id"] for p in preds] == [f"i{k}" for k in range(10)]


def test_select_tasks_slice_and_seeded_shuffle():
    tasks = _tasks(10)
    assert [t.instance_id for t in select_tasks(tasks, "2:4")] == ["org__repo-2", "org__repo-3"]
    first = [t.instance_id for t in select_tasks(tasks, None, shuffle=True, seed=7)]
    assert first == [t.instance_id for t in select_tasks(tasks, None, shuffle=True, seed=7)]
    assert first != [t.instance_id for t in tasks] and sorted(first) == sorted(t.instance_id for t in tasks)
    assert len(select_tasks(tasks, ":3", shuffle=True, seed=1)) == 3
    assert parse_slice("-2:") == slice(-2, None)
    with pytest.raises(DatasetError, match="expected A:B"):
        parse_slice("3")
    with pytest.raises(DatasetError, match="no tasks selected"):
        select_tasks(tasks, "20:30")


def test_server_down_tells_an_unanswering_server_from_a_refused_request():
    from swescale.bench.errors import server_down

    assert server_down("model call failed after 5 attempts: Connection error.")
    assert server_down("model call failed after 3 attempts (status 503): overloaded")
    assert server_down("could not discover the model name: Connection error.")
    assert not server_down("model call failed after 1 attempt (status 400): prompt too long")
    assert not server_down("the bench run is stopping")
