"""`swescale solve`: generations of parallel trajectories, verification, selection and refinement.

One generation runs `solve.trajectories` fix trajectories in parallel sandboxes (plus, in the first
generation, the verifier's test-writing trajectories). Every candidate found so far is verified
against every test found so far (cells are cached in `verifier.cache`; see verifiers.run), selection
ranks them, and the top `solve.parents` candidates with their test results condition the next
generation (EvoScale, made agentic). The run stops early when the best candidate passes every
distinguishing test with a high judge score and the behavioural clusters agree, when a budget is
spent, or on Ctrl-C; every stop reason is recorded in `run.json`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

import yaml

from agent.agent import run_trajectory
from agent.model import ModelClient
from agent.result import ExitStatus, TrajectoryResult, Usage
from envs.environment import EnvSpec
from envs.task import Task
from sandbox import SandboxPool
from selection.select import Decision
from swescale.budget import Budget
from swescale.config import SwescaleConfig, public_dump
from swescale.outcome import GenerationStats, NullProgress, Progress, RunDirError, SolveOutcome, StageCost
from swescale.refine import converged, render_parents
from swescale.select import select_task
from swescale.serve.metrics import MetricsSampler
from verifiers.collect import run_test_trajectories, tests_from_trajectories
from verifiers.table import Candidate, GeneratedTest, VerifierTable

log = logging.getLogger(__name__)
RERUN_ON_RESUME = (ExitStatus.cancelled, ExitStatus.model_error, ExitStatus.sandbox_error)
"""Trajectories that ended like this run again when a run resumes: they were stopped, or the model server
or their sandbox failed; they did not try and fail."""


def _solved(result: TrajectoryResult) -> bool:
    """Finished in the sense of first-finish: submitted with a non-empty patch."""
    return result.exit_status == ExitStatus.submitted and bool(result.patch.strip())


def candidate_from(result: TrajectoryResult, generation: int) -> Candidate:
    return Candidate(
        candidate_id=result.trajectory_id,
        patch=result.patch,
        source="swescale",
        trajectory_id=result.trajectory_id,
        repro_test=result.repro_test,
        generation=generation,
        meta={
            "exit_status": str(result.exit_status),
            "steps": result.steps,
            "tokens": result.usage.total_tokens,
            "trajectory_file": result.trajectory_file,
        },
    )


class SolveRun:
    """One `swescale solve` run over one task. Call `run()`; it never leaves a container behind."""

    def __init__(
        self,
        task: Task,
        env: EnvSpec,
        config: SwescaleConfig,
        run_dir: Path,
        model: ModelClient,
        judge: ModelClient | None = None,
        progress: Progress | None = None,
        pool: SandboxPool | None = None,
    ):
        self.task, self.env, self.config, self.model, self.judge = task, env, config, model, judge
        self.run_dir = Path(run_dir)
        self.progress = progress or NullProgress()
        self.pool = pool or SandboxPool(max_concurrent=config.sandbox.max_concurrent, config=config.sandbox)
        self.results: list[TrajectoryResult] = []
        self.candidates: dict[str, Candidate] = {}
        self.tests: list[GeneratedTest] = []
        self.finished: dict[str, TrajectoryResult] = {}
        """Trajectories that ended (not cancelled), by id: never run again in this run directory."""
        self.table: VerifierTable | None = None
        """The latest verifier table."""
        self.outcome = SolveOutcome(instance_id=task.instance_id)
        self._lock = threading.Lock()

    # -- bookkeeping ---------------------------------------------------------------------------------------

    def _metrics(self) -> MetricsSampler:
        """Samples the model servers' /metrics (vLLM's) during the run, into metrics.jsonl."""
        clients = [c for c in (self.model, self.judge) if c is not None]
        urls = [u for c in clients for u in c.config.urls]
        return MetricsSampler(urls, self.config.serve.metrics_interval, self.run_dir / "metrics.jsonl")

    def _spent(self, stage: str, seconds: float, tokens: int = 0) -> None:
        with self._lock:
            cost = self.outcome.stages.setdefault(stage, StageCost())
            cost.seconds += max(0.0, seconds)
            cost.tokens += max(0, tokens)

    def usage(self) -> Usage:
        total = Usage()
        for client in {id(c): c for c in (self.model, self.judge) if c is not None}.values():
            total.add(client.usage)
        return total

    def usage_by_server(self) -> dict[str, Usage]:
        """Which server (replica) served how many calls and tokens."""
        out: dict[str, Usage] = {}
        for client in {id(c): c for c in (self.model, self.judge) if c is not None}.values():
            for url, usage in client.usage_by_server.items():
                out.setdefault(url, Usage()).add(usage)
        return out

    def _record(self, result: TrajectoryResult, generation: int) -> None:
        """Keep a finished trajectory (append-only files, so an interrupted run keeps what finished)."""
        with self._lock:
            self.results.append(result)
            if result.exit_status != ExitStatus.cancelled:
                self.finished[result.trajectory_id] = result
            with (self.run_dir / "trajectories.jsonl").open("a") as fh:
                fh.write(result.model_dump_json() + "\n")
            if result.mode == "fix" and result.patch.strip():
                candidate = candidate_from(result, generation)
                self.candidates[candidate.candidate_id] = candidate
                with (self.run_dir / "candidates.jsonl").open("a") as fh:
                    fh.write(
                        json.dumps(
                            {
                                "instance_id": self.task.instance_id,
                                "model_name_or_path": "swescale",
                                "model_patch": candidate.patch,
                                **candidate.model_dump(mode="json"),
                            }
                        )
                        + "\n"
                    )
        self.progress.trajectory_finished(result)

    # -- one generation ------------------------------------------------------------------------------------

    def _fix_trajectory(
        self, trajectory_id: str, generation: int, parents: str, budget: Budget, cancel: threading.Event
    ) -> TrajectoryResult:
        self.progress.trajectory_started(trajectory_id, generation)

        def on_step(steps: int, usage: Usage) -> None:
            self.progress.trajectory_step(trajectory_id, steps, usage)
            budget.check()

        try:
            with self.pool.sandbox(self.env.image, workdir="/testbed") as sandbox:
                result = run_trajectory(
                    self.task,
                    sandbox,
                    self.model,
                    self.config,
                    self.run_dir / "trajectories",
                    trajectory_id,
                    mode="fix",
                    parents=parents,
                    cancel=cancel,
                    on_step=on_step,
                )
        except Exception as exc:  # noqa: BLE001 - one failing trajectory never stops the others
            log.warning("trajectory %s failed: %s", trajectory_id, exc)
            result = TrajectoryResult(
                trajectory_id=trajectory_id,
                exit_status=ExitStatus.sandbox_error,
                error=f"{type(exc).__name__}: {exc}",
            )
        self._record(result, generation)
        return result

    def _test_trajectories(self, cancel: threading.Event) -> list[GeneratedTest]:
        self.progress.stage(f"writing {self.config.verifier.test_trajectories} tests")
        started = time.monotonic()
        try:
            return self._run_test_trajectories(cancel)
        finally:
            self._spent("tests", time.monotonic() - started)

    def _run_test_trajectories(self, cancel: threading.Event) -> list[GeneratedTest]:
        return run_test_trajectories(
            self.task,
            self.env,
            self.model,
            self.pool,
            self.config,
            self.run_dir / "trajectories",
            cancel=cancel,
        )

    def run_generation(self, budget: Budget, generation: int, parents: str) -> GenerationStats:
        """Run one generation's trajectories; first-finish (short-m@k) cancels the rest once m finished."""
        solve = self.config.solve
        stats = GenerationStats(generation=generation, trajectories=solve.trajectories)
        cancel = budget.new_cancel()
        with_tests = (
            generation == 0 and self.config.verifier.test_trajectories > 0 and not self._tests_file.exists()
        )
        workers = solve.trajectories + (1 if with_tests else 0)
        self.progress.stage(f"generation {generation}: {solve.trajectories} trajectories")
        started, model_tokens, known_results = (
            time.monotonic(),
            self.model.usage.total_tokens,
            len(self.results),
        )
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"gen{generation}") as pool:
            ids = [f"g{generation}-t{i}" for i in range(solve.trajectories)]
            fixes: set[Future] = {
                pool.submit(self._fix_trajectory, tid, generation, parents, budget, cancel)
                for tid in ids
                if tid not in self.finished
            }
            test_future = pool.submit(self._test_trajectories, budget.new_cancel()) if with_tests else None
            finished = sum(1 for tid in ids if tid in self.finished and _solved(self.finished[tid]))
            pending = set(fixes)
            try:
                while pending:
                    done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                    for future in done:
                        finished += _solved(future.result())
                    if solve.first_finish and finished >= solve.first_finish and not cancel.is_set():
                        stats.stop_reasons.append(
                            f"first-finish: {finished} of {solve.trajectories} trajectories finished, "
                            "the rest of the generation was stopped"
                        )
                        cancel.set()
            except KeyboardInterrupt:
                budget.stop(
                    "interrupted (Ctrl-C)"
                )  # trajectories stop at their next step; threads are joined
                raise
            self._spent("fix", time.monotonic() - started)
            if test_future is not None:
                written = test_future.result()
                self._tests_file.write_text("".join(t.model_dump_json() + "\n" for t in written))
                self.tests.extend(written)
        # test-writing trajectories use the same client: their tokens are the rest of the generation's
        fix_tokens = sum(r.usage.total_tokens for r in self.results[known_results:] if r.mode == "fix")
        self._spent("fix", 0.0, fix_tokens)
        if with_tests:
            self._spent("tests", 0.0, self.model.usage.total_tokens - model_tokens - fix_tokens)
        known = {t.test_id for t in self.tests}
        this_generation = [
            r for r in self.results if r.mode == "fix" and r.trajectory_id.startswith(f"g{generation}-")
        ]
        self.tests.extend(t for t in tests_from_trajectories(this_generation) if t.test_id not in known)
        stats.candidates = sum(1 for c in self.candidates.values() if c.generation == generation)
        stats.tests = len(self.tests)
        return stats

    def verify_and_select(self, generation: int) -> tuple[VerifierTable, Decision]:
        self.progress.stage(f"verifying {len(self.candidates)} candidates x {len(self.tests)} tests")
        candidates = sorted(self.candidates.values(), key=lambda c: c.candidate_id)
        started, model, judge = time.monotonic(), self.model.usage, self._judge_usage()
        result = select_task(
            self.task,
            candidates,
            self.config,
            self.run_dir / f"gen{generation}",
            model=self.model,
            judge_model=self.judge,
            pool=self.pool,
            env=self.env,
            tests=self.tests,
            cache_dir=self.run_dir,  # one cache for the run: a generation re-runs no earlier cell
        )
        # the judge's and the selection trajectory's model time, the rest is running tests
        wall, model_now, judge_now = time.monotonic() - started, self.model.usage, self._judge_usage()
        judge_seconds = min(wall, judge_now.seconds - judge.seconds)
        selection_seconds = min(wall - judge_seconds, model_now.seconds - model.seconds)
        self._spent("judge", judge_seconds, judge_now.total_tokens - judge.total_tokens)
        self._spent("selection", selection_seconds, model_now.total_tokens - model.total_tokens)
        self._spent("verification", wall - judge_seconds - selection_seconds)
        return result

    def _judge_usage(self) -> Usage:
        return self.judge.usage if self.judge is not None and self.judge is not self.model else Usage()

    # -- the run -------------------------------------------------------------------------------------------

    @property
    def _tests_file(self) -> Path:
        return self.run_dir / "tests.jsonl"

    def resume(self) -> int:
        """Keep what an earlier run in this run directory finished (it crashed or was interrupted):
        trajectories that ended and the written tests. Those in RERUN_ON_RESUME run again. Returns how many
        trajectories were kept."""
        task_file, results_file = self.run_dir / "task.json", self.run_dir / "trajectories.jsonl"
        if not results_file.exists():
            return 0
        earlier = Task.model_validate_json(task_file.read_text()) if task_file.exists() else None
        if earlier is None or (earlier.instance_id, earlier.base_commit) != (
            self.task.instance_id,
            self.task.base_commit,
        ):
            raise RunDirError(f"{self.run_dir} holds a run of another task: give a new --run-dir")
        for line in results_file.read_text().splitlines():
            try:
                result = TrajectoryResult.model_validate_json(line)
            except ValueError:
                continue  # a line cut short by the crash
            if result.exit_status in RERUN_ON_RESUME:
                continue
            self.results.append(result)
            self.finished[result.trajectory_id] = result
            generation = int(result.trajectory_id.split("-")[0].lstrip("g") or 0)
            if result.mode == "fix" and result.patch.strip():
                self.candidates[result.trajectory_id] = candidate_from(result, generation)
        if self._tests_file.exists():
            self.tests = [
                GeneratedTest.model_validate_json(x) for x in self._tests_file.read_text().splitlines()
            ]
        return len(self.finished)

    def run(self) -> SolveOutcome:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.progress.run_started(self.usage)
        self.outcome.resumed = self.resume()
        if self.outcome.resumed:
            self.progress.stage(f"resuming: {self.outcome.resumed} finished trajectories kept")
        (self.run_dir / "config.yaml").write_text(yaml.safe_dump(public_dump(self.config), sort_keys=False))
        (self.run_dir / "task.json").write_text(self.task.model_dump_json(indent=2))
        outcome = self.outcome
        parents = ""
        decision: Decision | None = None
        with Budget(self.config.solve, self.usage) as budget, self._metrics() as metrics:
            try:
                for generation in range(self.config.solve.generations):
                    stats = self.run_generation(budget, generation, parents)
                    outcome.generations.append(stats)
                    if self.candidates:
                        self.table, decision = self.verify_and_select(generation)
                        stats.best_candidate = decision.best
                        if decision.best:
                            stats.best_score = self.table.row(decision.best).hybrid_score
                        parents = render_parents(
                            self.table,
                            self.candidates,
                            decision.ranking,
                            self.config.solve.parents,
                            generation,
                        )
                    stats.tokens = self.usage().total_tokens
                    self.progress.generation_scored(stats)
                    outcome.stop_reasons += stats.stop_reasons
                    if budget.reason:
                        break
                    if decision is not None:
                        reason = converged(
                            self.table,
                            decision,
                            self.config.solve.early_stop_judge,
                            self.judge is not None and self.config.verifier.judge,
                        )
                        if reason and generation + 1 < self.config.solve.generations:
                            outcome.stop_reasons.append(reason)
                            break
                else:
                    outcome.stop_reasons.append(f"all {self.config.solve.generations} generations ran")
            except KeyboardInterrupt:
                budget.stop("interrupted (Ctrl-C)")
                outcome.interrupted = True
            if budget.reason:
                outcome.stop_reasons.append(budget.reason)
        outcome.usage = self.usage()
        outcome.server_metrics = metrics.summary()
        outcome.usage_by_server = self.usage_by_server()
        outcome.decision = decision
        if outcome.interrupted:
            outcome.reason = "interrupted: finished trajectories are kept in the run directory"
        elif decision is None:
            outcome.reason = "no candidate patch: no trajectory produced a non-empty diff"
        else:
            outcome.abstained, outcome.reason = decision.abstained, decision.reason
            if not decision.abstained and decision.chosen:
                outcome.patch = self.candidates[decision.chosen].patch
        outcome.run_dir, outcome.table, outcome.candidates = (
            str(self.run_dir),
            self.table,
            dict(self.candidates),
        )
        (self.run_dir / "run.json").write_text(outcome.model_dump_json(indent=2))
        return outcome
