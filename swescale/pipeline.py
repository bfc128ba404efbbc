"""`swescale solve` for one task, top to bottom: issue -> trajectories -> candidates -> verifier table ->
decision, in generations.

    solve_task(task, config, run_dir)        the issue as an `envs.task.Task`, its environment, the run
      SolveRun.run()                         generations until converged, a budget is spent, or Ctrl-C
        run_generation()                     fix trajectories in parallel sandboxes (agent.agent) ->
                                             candidates (candidate_from) and tests (verifiers.collect)
        verify_and_select()                  candidates x tests -> verifier table -> decision
                                             (swescale.select.select_task: verifiers, then selection)
        render_parents() / converged()       the decision conditions the next generation, or stops the run
      write_report()                         report.html beside run.json

One generation runs `solve.trajectories` fix trajectories (first-finish may stop the rest), plus, in the
first generation, the verifier's test-writing trajectories. Every candidate found so far is verified
against every test found so far (cells are cached in `verifier.cache`), selection ranks them, and the top
`solve.parents` candidates with their test results condition the next generation (EvoScale, made agentic).
Every stop reason is recorded in `run.json`. The run's model usage is one ledger (`agent.usage`) with a
child per stage; its files are `swescale.rundir`'s.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from tenacity import Retrying, retry_if_result, stop_after_attempt, wait_exponential

from agent.agent import run_trajectory
from agent.model import ModelClient, ModelView
from agent.result import ExitStatus, TrajectoryResult
from agent.usage import Ledger, Usage
from envs.environment import EnvSpec, prepare_environment
from envs.task import Task
from sandbox import SandboxPool
from selection.select import Decision
from swescale.budget import Budget
from swescale.config import SolveConfig, SwescaleConfig, judge_config
from swescale.outcome import GenerationStats, NullProgress, Progress, SolveOutcome, model_failure
from swescale.refine import converged, render_parents
from swescale.report import write_report
from swescale.rundir import RERUN_ON_RESUME, RunDir
from swescale.select import select_task
from swescale.serve.metrics import MetricsSampler
from swescale.stages import StageCosts
from verifiers.collect import run_test_trajectories, tests_from_trajectories
from verifiers.table import Candidate, GeneratedTest, VerifierTable

log = logging.getLogger(__name__)


def solve_task(
    task: Task,
    config: SwescaleConfig,
    run_dir: Path,
    *,
    env: EnvSpec | None = None,
    progress: Progress | None = None,
    model: ModelClient | None = None,
    judge: ModelClient | None = None,
    pool: SandboxPool | None = None,
    ledger: Ledger | None = None,
) -> SolveOutcome:
    """Environment, pipeline and report for one task. Shared `model`/`judge` clients and `pool` let many
    tasks share global limits (requests in flight per server, sandboxes alive); `ledger` receives the
    run's model usage (a new one by default)."""
    env = env or prepare_environment(task, config)
    model = model or ModelClient(config.model)
    if judge is None and config.verifier.judge:
        judge = ModelClient(judge_config(config))
    solver = SolveRun(
        task, env, config, Path(run_dir), model, judge, progress=progress, pool=pool, ledger=ledger
    )
    outcome = solver.run()
    write_report(
        Path(run_dir), outcome, solver.table, solver.candidates, solver.results, task.problem_statement
    )
    return outcome


def candidate_from(result: TrajectoryResult, generation: int) -> Candidate:
    """A fix trajectory's patch as a candidate of the verifier table."""
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
        ledger: Ledger | None = None,
    ):
        self.task, self.env, self.config = task, env, config
        self.files = RunDir(run_dir)
        self.run_dir = self.files.path
        self.ledger = ledger if ledger is not None else Ledger()
        """Every model call of this run (model and judge), per server; a child ledger per stage."""
        self.stages = StageCosts(self.ledger)
        self.model, self.judge = model, judge
        self.progress = progress or NullProgress()
        self.pool = pool or SandboxPool(max_concurrent=config.sandbox.max_concurrent, config=config.sandbox)
        self.results: list[TrajectoryResult] = []
        self.candidates: dict[str, Candidate] = {}
        self.tests: list[GeneratedTest] = []
        self.finished: dict[str, TrajectoryResult] = {}
        """Trajectories that ended (not cancelled), by id: never run again in this run directory."""
        self.table: VerifierTable | None = None
        """The latest verifier table."""
        self.decision: Decision | None = None
        """The latest decision."""
        self.outcome = SolveOutcome(instance_id=task.instance_id)
        self._lock = threading.Lock()

    def usage(self) -> Usage:
        """What the run's model calls cost so far."""
        return self.ledger.total

    def usage_by_server(self) -> dict[str, Usage]:
        """Which server (replica) served how many calls and tokens."""
        return self.ledger.by_server

    # -- the run -------------------------------------------------------------------------------------------

    def run(self) -> SolveOutcome:
        """Generations until one converges, a budget is spent, or Ctrl-C; the outcome is also run.json."""
        self.progress.run_started(self.usage)
        self.outcome.resumed = self.resume()
        if self.outcome.resumed:
            self.progress.stage(f"resuming: {self.outcome.resumed} finished trajectories kept")
        self.files.start(self.task, self.config)
        with Budget(self.config.solve, self.usage) as budget, self._metrics() as metrics:
            try:
                self.generations(budget)
            except KeyboardInterrupt:
                budget.stop("interrupted (Ctrl-C)")
                self.outcome.interrupted = True
            if budget.reason:
                self.outcome.stop_reasons.append(budget.reason)
        self.conclude(metrics)
        self.files.save_outcome(self.outcome)
        return self.outcome

    def generations(self, budget: Budget) -> None:
        """Each generation: trajectories -> candidates -> verifier table -> decision -> parents of the next."""
        solve, parents = self.config.solve, ""
        for generation in range(solve.generations):
            stats = self.run_generation(budget, generation, parents)
            self.outcome.generations.append(stats)
            if self.candidates:
                self.table, self.decision = self.verify_and_select(generation)
                stats.best_candidate = self.decision.best
                if self.decision.best:
                    stats.best_score = self.table.row(self.decision.best).hybrid_score
                ranking = self.decision.ranking
                parents = render_parents(self.table, self.candidates, ranking, solve.parents, generation)
            stats.tokens = self.usage().total_tokens
            self.progress.generation_scored(stats)
            self.outcome.stop_reasons += stats.stop_reasons
            if budget.reason:
                return
            if self.decision is not None and generation + 1 < solve.generations:
                judged = self.judge is not None and self.config.verifier.judge
                if reason := converged(self.table, self.decision, solve.early_stop_judge, judged):
                    self.outcome.stop_reasons.append(reason)
                    return
        self.outcome.stop_reasons.append(f"all {solve.generations} generations ran")

    # -- issue -> trajectories -> candidates ---------------------------------------------------------------

    def run_generation(self, budget: Budget, generation: int, parents: str) -> GenerationStats:
        """Run one generation's trajectories; first-finish (short-m@k) cancels the rest once m finished."""
        solve = self.config.solve
        stats = GenerationStats(generation=generation, trajectories=solve.trajectories)
        cancel = budget.new_cancel()
        with_tests = (
            generation == 0
            and self.config.verifier.test_trajectories > 0
            and not self.files.tests_file.exists()
        )
        self.progress.stage(f"generation {generation}: {solve.trajectories} trajectories")
        started = time.monotonic()
        workers = solve.trajectories + (1 if with_tests else 0)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"gen{generation}") as pool:
            ids = [f"g{generation}-t{i}" for i in range(solve.trajectories)]
            fixes: set[Future] = {
                pool.submit(self.fix_trajectory, tid, generation, parents, budget, cancel)
                for tid in ids
                if tid not in self.finished
            }
            written = pool.submit(self.test_trajectories, budget.new_cancel()) if with_tests else None
            finished = sum(1 for tid in ids if tid in self.finished and _solved(self.finished[tid]))
            pending = set(fixes)
            try:
                while pending:
                    done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                    finished += sum(_solved(future.result()) for future in done)
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
            self.stages.spent("fix", time.monotonic() - started)
            if written is not None:
                tests = written.result()  # every test-writing trajectory has been kept
                rerun = any(r.mode == "test" and r.exit_status in RERUN_ON_RESUME for r in self.results)
                if not rerun:  # a resumed run writes the tests again when a writer failed
                    self.files.save_tests(tests)
                self.tests.extend(tests)
        known = {t.test_id for t in self.tests}
        this_generation = [
            r for r in self.results if r.mode == "fix" and r.trajectory_id.startswith(f"g{generation}-")
        ]
        self.tests.extend(t for t in tests_from_trajectories(this_generation) if t.test_id not in known)
        stats.candidates = sum(1 for c in self.candidates.values() if c.generation == generation)
        stats.tests = len(self.tests)
        return stats

    def fix_trajectory(
        self, trajectory_id: str, generation: int, parents: str, budget: Budget, cancel: threading.Event
    ) -> TrajectoryResult:
        """One fix trajectory in its own sandbox; a failure becomes its exit status, never an exception."""
        self.progress.trajectory_started(trajectory_id, generation)

        def on_step(steps: int, usage: Usage) -> None:
            self.progress.trajectory_step(trajectory_id, steps, usage)
            budget.check()

        def attempt() -> TrajectoryResult:
            result = None
            try:
                with self.pool.sandbox(self.env.image, workdir="/testbed") as sandbox:
                    result = run_trajectory(
                        self.task,
                        sandbox,
                        self._model_for("fix"),
                        self.config,
                        self.files.trajectories_dir,
                        trajectory_id,
                        mode="fix",
                        parents=parents,
                        cancel=cancel,
                        on_step=on_step,
                    )
            except Exception as exc:  # noqa: BLE001 - one failing trajectory never stops the others
                log.warning("trajectory %s failed: %s", trajectory_id, exc)
                if result is not None:  # it ended; only removing its sandbox failed: its work stands
                    return result
                return TrajectoryResult(
                    trajectory_id=trajectory_id,
                    exit_status=ExitStatus.sandbox_error,
                    error=f"{type(exc).__name__}: {exc}",
                )
            return result

        result = rerun_sandbox_errors(attempt, self.config.solve, cancel, self.set_aside)
        self.keep(result, generation, save=True)
        self.progress.trajectory_finished(result)
        return result

    def set_aside(self, result: TrajectoryResult, attempt: int) -> None:
        """A trajectory's attempt whose sandbox failed, before it runs again: its record (and the diff it
        had, when it could be read) is kept in trajectories.jsonl and its JSON under another name."""
        path = Path(result.trajectory_file) if result.trajectory_file else None
        if path is not None and path.exists():
            aside = path.with_name(f"{path.stem}.sandbox-error-{attempt}.json")
            path.replace(aside)
            result = result.model_copy(update={"trajectory_file": str(aside)})
        self.files.append_trajectory(result)

    def test_trajectories(self, cancel: threading.Event) -> list[GeneratedTest]:
        """The verifier's test-writing trajectories (first generation only)."""
        self.progress.stage(f"writing {self.config.verifier.test_trajectories} tests")
        started = time.monotonic()
        try:
            return run_test_trajectories(
                self.task,
                self.env,
                self._model_for("tests"),
                self.pool,
                self.config,
                self.files.trajectories_dir,
                cancel=cancel,
                on_result=lambda result: self.keep(result, 0, save=True),
                rerun=lambda attempt: rerun_sandbox_errors(
                    attempt, self.config.solve, cancel, self.set_aside
                ),
            )
        finally:
            self.stages.spent("tests", time.monotonic() - started)

    def keep(self, result: TrajectoryResult, generation: int, save: bool = False) -> None:
        """A trajectory that ended, and its candidate (with `save`, appended to the run directory)."""
        with self._lock:
            self.results.append(result)
            if result.exit_status != ExitStatus.cancelled:
                self.finished[result.trajectory_id] = result
            if save:
                self.files.append_trajectory(result)
            if result.mode == "fix" and result.patch.strip():
                candidate = candidate_from(result, generation)
                self.candidates[candidate.candidate_id] = candidate
                if save:
                    self.files.append_candidate(self.task.instance_id, candidate)

    # -- candidates -> verifier table -> decision ----------------------------------------------------------

    def verify_and_select(self, generation: int) -> tuple[VerifierTable, Decision]:
        self.progress.stage(f"verifying {len(self.candidates)} candidates x {len(self.tests)} tests")
        candidates = sorted(self.candidates.values(), key=lambda c: c.candidate_id)
        judge = self.stages.ledger("judge").child(f"gen{generation}")
        selection = self.stages.ledger("selection").child(f"gen{generation}")
        started = time.monotonic()
        result = select_task(
            self.task,
            candidates,
            self.config,
            self.files.generation_dir(generation),
            model=ModelView(self.model, selection),
            judge_model=ModelView(self.judge, judge) if self.judge is not None else None,
            pool=self.pool,
            env=self.env,
            tests=self.tests,
            cache_dir=self.run_dir,  # one cache for the run: a generation re-runs no earlier cell
        )
        self.outcome.judge_failures += (result[0].meta.get("judge_method") or {}).get("failed", 0)
        # the judge's and the selection trajectory's model time, the rest is running tests
        wall = time.monotonic() - started
        judge_seconds = min(wall, judge.total.seconds)
        selection_seconds = min(wall - judge_seconds, selection.total.seconds)
        self.stages.spent("judge", judge_seconds)
        self.stages.spent("selection", selection_seconds)
        self.stages.spent("verification", wall - judge_seconds - selection_seconds)
        return result

    # -- bookkeeping ---------------------------------------------------------------------------------------

    def resume(self) -> int:
        """Keep what an earlier run in this run directory finished (it crashed or was interrupted):
        trajectories that ended and the written tests (swescale.rundir.RERUN_ON_RESUME run again).
        Returns how many trajectories were kept."""
        for result in self.files.earlier_results(self.task):
            generation = result.trajectory_id.split("-")[0].removeprefix("g")  # g<N>-t<i>, or testgen-<i>
            self.keep(result, int(generation) if generation.isdigit() else 0)
        self.tests = self.files.earlier_tests()
        return len(self.finished)

    def conclude(self, metrics: MetricsSampler) -> None:
        """The outcome: the decision and its patch, why the run stopped, what it cost."""
        outcome, decision = self.outcome, self.decision
        outcome.usage, outcome.usage_by_server = self.usage(), self.usage_by_server()
        outcome.stages = self.stages.costs()
        outcome.server_metrics = metrics.summary()
        outcome.decision = decision
        outcome.trajectory_stops = {r.trajectory_id: _stop(r) for r in self.results}
        if outcome.interrupted:
            outcome.reason = "interrupted: finished trajectories are kept in the run directory"
        elif decision is None:
            outcome.reason = "no candidate patch: no trajectory produced a non-empty diff"
        else:
            outcome.abstained, outcome.reason = decision.abstained, decision.reason
            if not decision.abstained and decision.chosen:
                outcome.patch = self.candidates[decision.chosen].patch
        if not outcome.interrupted and not outcome.patch and (failure := model_failure(self.results)):
            outcome.abstained, outcome.error_class, outcome.error = False, "model-server", failure
            outcome.reason = failure
        outcome.run_dir, outcome.table, outcome.candidates = (
            str(self.run_dir),
            self.table,
            dict(self.candidates),
        )

    def _model_for(self, stage: str) -> ModelView:
        """The run's model, its calls recorded in the stage's ledger."""
        return ModelView(self.model, self.stages.ledger(stage))

    def _metrics(self) -> MetricsSampler:
        """Samples the model servers' /metrics (vLLM's) during the run, into metrics.jsonl."""
        clients = [c for c in (self.model, self.judge) if c is not None]
        urls = [u for c in clients for u in c.config.urls]
        return MetricsSampler(urls, self.config.serve.metrics_interval, self.run_dir / "metrics.jsonl")


def rerun_sandbox_errors(
    attempt: Callable[[], TrajectoryResult],
    solve: SolveConfig,
    cancel: threading.Event,
    set_aside: Callable[[TrajectoryResult, int], None],
) -> TrajectoryResult:
    """Run `attempt` again in a fresh sandbox while it ends `sandbox_error`, `solve.sandbox_reruns` more
    times at most with exponential backoff (tenacity), unless the run is cancelled; each failed attempt
    goes to `set_aside(result, attempt_number)` before the next. Returns the last attempt's result."""
    retrying = Retrying(
        retry=retry_if_result(lambda r: r.exit_status == ExitStatus.sandbox_error and not cancel.is_set()),
        stop=stop_after_attempt(solve.sandbox_reruns + 1),
        wait=wait_exponential(multiplier=solve.sandbox_backoff, max=60),
        before_sleep=lambda state: set_aside(state.outcome.result(), state.attempt_number),
        sleep=cancel.wait,
        retry_error_callback=lambda state: state.outcome.result(),
    )
    return retrying(attempt)


def _stop(result: TrajectoryResult) -> str:
    """A trajectory's exit status and, when it did not submit, why (the error's first line)."""
    why = (result.error or "").strip().splitlines()
    return f"{result.exit_status}: {why[0][:300]}" if why else str(result.exit_status)


def _solved(result: TrajectoryResult) -> bool:
    """Finished in the sense of first-finish: submitted with a non-empty patch."""
    return result.exit_status == ExitStatus.submitted and bool(result.patch.strip())
