"""`swescale bench run`: many instances at once under global limits, state in SQLite, resumable.

The driver (this module) owns the state; an executor runs instance jobs (`swescale.bench.instance`):
`LocalExecutor` in threads of this process sharing one sandbox pool and one model client per server
group, or `swescale.bench.ray_executor.RayExecutor` as Ray tasks on a cluster. kill -9 at any moment and
the same command again: finished instances are kept, unfinished ones resume from their run folders.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from rich.console import Console

from envs.records import DatasetError
from envs.task import Task
from sandbox.cleanup import stop_work
from swescale.bench.errors import RETRYABLE
from swescale.bench.instance import Shared, run_instance
from swescale.bench.jobs import Executor, Job
from swescale.bench.progress import BenchProgress
from swescale.bench.state import GRADING_ERROR, BenchState, InstanceResult, instance_dir
from swescale.config import SwescaleConfig, public_dump

log = logging.getLogger(__name__)

MAX_BACKOFF = 300.0  # seconds: the longest wait before an instance's next attempt


class BenchSummary(BaseModel):
    """What a `bench run` leaves: counts over the selected instances and the files written."""

    total: int
    done: int = 0
    errors: int = 0
    pending: int = 0
    resolved: int | None = None
    """Resolved instances when grading is on."""
    error_ids: list[str] = Field(default_factory=list)
    predictions: str = ""
    interrupted: bool = False


class LocalExecutor:
    """Instances in threads of this process, sharing one `Shared` (pool, model clients)."""

    def __init__(self, config: SwescaleConfig, run_dir: Path, progress: BenchProgress | None = None):
        self.config, self.run_dir, self.progress = config, Path(run_dir), progress
        self.capacity = config.bench.workers
        self.shared = Shared(config)
        self._threads = ThreadPoolExecutor(max_workers=self.capacity, thread_name_prefix="bench")
        self._futures: list[Future] = []

    def submit(self, job: Job) -> Future:
        progress = self.progress.instance(job.task.instance_id) if self.progress else None
        future = self._threads.submit(
            run_instance,
            job.task,
            self.config,
            instance_dir(self.run_dir, job.task.instance_id),
            self.shared,
            solve=job.solve,
            patch=job.patch,
            evaluate=self.config.bench.evaluate,
            progress=progress,
        )
        self._futures.append(future)
        return future

    def wait(self, handles: list[Future], timeout: float) -> list[tuple[Future, InstanceResult]]:
        done, _ = wait(handles, timeout=timeout, return_when=FIRST_COMPLETED)
        return [(f, f.result()) for f in done]

    def stop(self) -> None:
        self.shared.stop.set()

    def close(self) -> None:
        """Instances still running (Ctrl-C, past the driver's drain) are stopped in a bounded time: their
        sandboxes and image builds removed, the threads given cleanup.STOP_WAIT seconds."""
        if any(not f.done() for f in self._futures):
            self.shared.stop.set()
            stop_work(self._futures)
        self._threads.shutdown(wait=False, cancel_futures=True)


def _redo(state: BenchState, run_dir: Path, ids: list[str]) -> None:
    """Forget the given instances' results; their run folders are moved aside (kept, not deleted)."""
    known = {r.instance_id for r in state.rows()}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise DatasetError(f"--redo: no instance(s) {', '.join(unknown)} in this run")
    for iid in ids:
        folder = instance_dir(run_dir, iid)
        if folder.exists():
            aside = folder.parent / ".redo" / f"{folder.name}-{time.strftime('%Y%m%d-%H%M%S')}"
            aside.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(folder, aside)
    state.redo(ids)


def plan_jobs(state: BenchState, tasks: list[Task], evaluate: bool) -> list[Job]:
    """The jobs of the selected tasks: pending ones are solved; done ones graded if asked, when ungraded or
    their grading failed."""
    wanted = {t.instance_id for t in tasks}
    jobs = []
    for row in state.rows():
        if row.instance_id not in wanted:
            continue
        if row.status == "pending":
            jobs.append(Job(task=state.task(row.instance_id)))
        elif row.status == "done" and evaluate and row.verdict in (None, GRADING_ERROR):
            jobs.append(Job(task=state.task(row.instance_id), solve=False, patch=row.patch or ""))
    return jobs


def _due(queue: list[Job]) -> Job | None:
    """Take the first job of the queue whose backoff is over."""
    now = time.monotonic()
    for i, job in enumerate(queue):
        if job.not_before <= now:
            return queue.pop(i)
    return None


class Driver:
    """Feeds jobs to an executor, records every result in the state as it lands."""

    def __init__(
        self, state: BenchState, config: SwescaleConfig, progress: BenchProgress, output: Path | None
    ):
        self.state, self.config, self.progress, self.output = state, config, progress, output
        self._lock = threading.Lock()

    def record(self, job: Job, result: InstanceResult) -> Job | None:
        """Store a result; returns the next attempt when the error is an infrastructure one worth another
        (`RETRYABLE`, within `bench.max_attempts`): the instance stays pending meanwhile, so a driver killed
        during the backoff leaves it to the next run."""
        bench = self.config.bench
        retry = (
            job.solve
            and result.status == "error"
            and result.error_class in RETRYABLE
            and job.attempt < bench.max_attempts
        )
        stored = result.model_copy(update={"status": "pending"}) if retry else result
        with self._lock:
            if not job.solve:  # a grading job: only the verdict changes, the prediction stays
                if result.status == "done":
                    self.state.set_verdict(
                        result.instance_id, result.verdict or GRADING_ERROR, result.verdict_detail
                    )
                elif result.status == "error":  # the job itself failed (e.g. its Ray worker died)
                    failure = f"{result.error_class}: {result.error}".strip(": ")
                    self.state.set_verdict(result.instance_id, GRADING_ERROR, {"error": failure})
            else:
                self.state.record(stored)
            self.state.write_predictions(bench.model_name, self.output)
        if job.solve:
            self.progress.finished(stored)
        if result.verdict:
            self.progress.verdict(result.instance_id, result.verdict)
        if not retry:
            return None
        delay = min(bench.retry_backoff * 2 ** (job.attempt - 1), MAX_BACKOFF)
        why = (result.error or "").strip().splitlines()
        self.progress.log(
            f"{result.instance_id}: {result.error_class} on attempt {job.attempt} of {bench.max_attempts}, "
            f"again in {delay:.0f} s" + (f": {why[0][:200]}" if why else "")
        )
        return job.model_copy(update={"attempt": job.attempt + 1, "not_before": time.monotonic() + delay})

    def run(self, executor: Executor, jobs: list[Job]) -> bool:
        """Run every job; returns False when interrupted (Ctrl-C: running instances stay pending)."""
        queue, running = list(jobs), {}
        try:
            while queue or running:
                while len(running) < executor.capacity and (job := _due(queue)) is not None:
                    if job.solve:
                        self.state.claim(job.task.instance_id)
                        self.progress.started(job.task.instance_id, job.attempt)
                    running[executor.submit(job)] = job
                if not running:  # only retries waiting for their backoff
                    time.sleep(min(1.0, max(0.0, min(j.not_before for j in queue) - time.monotonic())))
                    continue
                for handle, result in executor.wait(list(running), timeout=1.0):
                    again = self.record(running.pop(handle), result)
                    if again is not None:
                        queue.insert(0, again)
        except KeyboardInterrupt:
            executor.stop()
            self._drain(executor, running)
            return False
        return True

    def _drain(self, executor: Executor, running: dict[Any, Job]) -> None:
        """After Ctrl-C: instances end at their next step; what they return is kept (pending at most)."""
        deadline = time.monotonic() + 120
        while running and time.monotonic() < deadline:
            try:
                for handle, result in executor.wait(list(running), timeout=1.0):
                    job = running.pop(handle)
                    if result.status == "error":
                        result = result.model_copy(update={"status": "pending", "error_class": ""})
                    self.record(job, result)
            except KeyboardInterrupt:
                break


def make_executor(config: SwescaleConfig, run_dir: Path, progress: BenchProgress) -> Executor:
    if config.bench.executor == "ray":
        from swescale.bench.ray_executor import RayExecutor

        return RayExecutor(config, run_dir)
    return LocalExecutor(config, run_dir, progress)


def run_bench(
    tasks: list[Task],
    config: SwescaleConfig,
    run_dir: Path,
    *,
    output: Path | None = None,
    retry_errors: bool = False,
    redo: list[str] | None = None,
    console: Console | None = None,
    executor_factory: Callable[[SwescaleConfig, Path, BenchProgress], Executor] = make_executor,
) -> BenchSummary:
    """Solve `tasks` into `run_dir` (state, instance folders, predictions.jsonl; `output` gets a copy).

    Raises StateError when another process uses `run_dir`, DatasetError on a bad `--redo`."""
    run_dir = Path(run_dir)
    with BenchState(run_dir) as state:
        state.sync(tasks)
        state.set_meta("config", public_dump(config))
        if redo:
            _redo(state, run_dir, list(dict.fromkeys(redo)))
        wanted = [t.instance_id for t in tasks]
        if retry_errors:
            state.reset(wanted)
        rows = {r.instance_id: r for r in state.rows() if r.instance_id in set(wanted)}
        jobs = plan_jobs(state, tasks, config.bench.evaluate)
        state.write_predictions(config.bench.model_name, output)
        progress = BenchProgress(
            console,
            total=len(rows),
            done=sum(r.status == "done" for r in rows.values()),
            errors=sum(r.status == "error" for r in rows.values()),
            resolved=sum(r.verdict == "resolved" for r in rows.values()),
            graded=sum(r.verdict not in (None, GRADING_ERROR) for r in rows.values()),
            interval=config.bench.status_interval,
        )
        started = time.time()
        with progress:
            progress.log(
                f"{len(rows)} instances: {progress.done} done in an earlier run, {progress.errors} errors, "
                f"{sum(j.solve for j in jobs)} to solve, {sum(not j.solve for j in jobs)} to grade"
            )
            executor = executor_factory(config, run_dir, progress)
            try:
                finished = Driver(state, config, progress, output).run(executor, jobs)
            finally:
                executor.close()
        sessions = state.meta("sessions", [])
        state.set_meta("sessions", [*sessions, [started, time.time()]])
        return summarize(state, wanted, interrupted=not finished)


def summarize(state: BenchState, wanted: list[str], interrupted: bool = False) -> BenchSummary:
    rows = [r for r in state.rows() if r.instance_id in set(wanted)]
    graded = [r for r in rows if r.verdict is not None]
    return BenchSummary(
        total=len(rows),
        done=sum(r.status == "done" for r in rows),
        errors=sum(r.status == "error" for r in rows),
        pending=sum(r.status in ("pending", "running") for r in rows),
        resolved=sum(r.verdict == "resolved" for r in rows) if graded else None,
        error_ids=[r.instance_id for r in rows if r.status == "error"],
        predictions=str(state.run_dir / "predictions.jsonl"),
        interrupted=interrupted,
    )
