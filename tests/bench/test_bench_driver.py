"""The driver's bookkeeping with an executor of our own (no Docker): infrastructure errors retried within a
run by default (`bench.max_attempts`, after `bench.retry_backoff`), only those classes, done instances never
resubmitted, the live display."""

from __future__ import annotations

import io
import time
from concurrent.futures import Future

from rich.console import Console

from envs.task import Task
from swescale.bench.progress import BenchProgress
from swescale.bench.runner import run_bench
from swescale.bench.state import BenchState, InstanceResult
from swescale.config import load_config


class ListExecutor:
    """Answers each job from a list of results per instance, in order; records what it was given."""

    def __init__(self, answers: dict[str, list[InstanceResult]]):
        self.answers, self.capacity, self.jobs = answers, 2, []

    def submit(self, job):
        self.jobs.append(job.task.instance_id)
        future: Future = Future()
        future.set_result(self.answers[job.task.instance_id].pop(0))
        return future

    def wait(self, handles, timeout):
        return [(h, h.result()) for h in handles]

    def stop(self):
        pass

    def close(self):
        pass


def _error(iid: str, kind: str) -> InstanceResult:
    return InstanceResult(instance_id=iid, status="error", error_class=kind, error=f"{kind} failed")


def _done(iid: str) -> InstanceResult:
    return InstanceResult(instance_id=iid, status="done", patch=f"diff of {iid}", tokens=5)


def test_retryable_errors_get_another_attempt_and_done_instances_are_not_resubmitted(tmp_path):
    tasks = [Task(instance_id=i) for i in ("a", "b", "c")]
    answers = {
        "a": [_error("a", "model-server"), _done("a")],  # retried, then done
        "b": [_error("b", "environment-build")],  # not worth another attempt
        "c": [_done("c")],
    }
    executor = ListExecutor(answers)
    config = load_config([], ["bench.retry_backoff=0.5"])  # otherwise the defaults: retries are on
    started = time.monotonic()
    summary = run_bench(tasks, config, tmp_path, executor_factory=lambda *_: executor)
    assert sorted(executor.jobs) == ["a", "a", "b", "c"] and time.monotonic() - started >= 0.5
    assert (summary.done, summary.errors, summary.error_ids) == (2, 1, ["b"])
    with BenchState(tmp_path, lock=False) as state:
        assert state.row("a").attempts == 2 and state.row("b").attempts == 1
    # the same call again: only the error would run, and only when asked to
    again = ListExecutor({"b": [_done("b")]})
    run_bench(tasks, config, tmp_path, executor_factory=lambda *_: again)
    assert again.jobs == []
    summary = run_bench(tasks, config, tmp_path, retry_errors=True, executor_factory=lambda *_: again)
    assert again.jobs == ["b"] and summary.done == 3
    assert (tmp_path / "predictions.jsonl").read_text().count("instance_id") == 3


def test_live_display_on_a_terminal_shows_running_instances_and_counts():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with BenchProgress(console, total=3, done=1) as progress:
        progress.started("org__repo-7")
        progress.stage("org__repo-7", "generation 0: 4 trajectories")
        progress.tokens("org__repo-7", "g0-t0", 1200)
        time.sleep(0.7)  # a refresh of the live table
        progress.finished(_done("org__repo-7"))
        progress.verdict("org__repo-7", "resolved")
    text = out.getvalue()
    assert "org__repo-7" in text and "generation 0: 4 trajectories" in text
    assert "3/3 finished" not in text and "2/3 finished: 2 done, 0 errors" in text and "resolved 1/1" in text


def test_a_grading_job_that_fails_keeps_the_prediction_and_is_graded_again(tmp_path):
    tasks = [Task(instance_id="a")]
    config = load_config([], ["bench.evaluate=true"])
    graded = _done("a").model_copy(update={"verdict": "resolved"})
    first = ListExecutor({"a": [_done("a").model_copy(update={"verdict": "eval-error"})]})
    run_bench(tasks, config, tmp_path, executor_factory=lambda *_: first)
    # the grading job's worker dies (Ray's give-up): an error result for a job that only grades
    lost = ListExecutor({"a": [_error("a", "worker-lost")]})
    run_bench(tasks, config, tmp_path, executor_factory=lambda *_: lost)
    assert lost.jobs == ["a"]
    with BenchState(tmp_path, lock=False) as state:
        row = state.row("a")
        assert (row.status, row.patch, row.verdict) == ("done", "diff of a", "eval-error")
        assert "worker-lost" in row.verdict_detail["error"]
    assert "diff of a" in (tmp_path / "predictions.jsonl").read_text()
    again = ListExecutor({"a": [graded]})
    summary = run_bench(tasks, config, tmp_path, executor_factory=lambda *_: again)
    assert again.jobs == ["a"] and summary.resolved == 1
    with BenchState(tmp_path, lock=False) as state:
        assert state.row("a").patch == "diff of a" and state.row("a").attempts == 1


def test_infrastructure_errors_are_retried_a_bounded_number_of_times_with_backoff(tmp_path):
    tasks = [Task(instance_id=i) for i in ("d", "w", "g")]
    answers = {
        "d": [_error("d", "docker-infrastructure")] * 3,  # every attempt fails: the error stands
        "w": [_error("w", "worker-lost")],  # Ray already ran it again: not retried by a second layer
        "g": [_error("g", "agent")],  # a bug or the task: not infrastructure
    }
    executor = ListExecutor(answers)
    times: list[float] = []
    submit = executor.submit
    executor.submit = lambda job: times.append(time.monotonic()) or submit(job)
    summary = run_bench(
        tasks, load_config([], ["bench.retry_backoff=0.3"]), tmp_path, executor_factory=lambda *_: executor
    )
    assert sorted(executor.jobs) == ["d", "d", "d", "g", "w"]
    d_times = [t for t, iid in zip(times, executor.jobs, strict=True) if iid == "d"]
    assert d_times[1] - d_times[0] >= 0.3 and d_times[2] - d_times[1] >= 0.6  # doubling backoff
    assert sorted(summary.error_ids) == ["d", "g", "w"]
    with BenchState(tmp_path, lock=False) as state:
        assert state.row("d").attempts == 3 and state.row("d").error_class == "docker-infrastructure"
