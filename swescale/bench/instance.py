"""One attempt at one instance of a bench run: solve (resuming its folder), classify, grade.

The same job runs in a thread of the local executor and in a Ray task on a node. It never raises: every
failure becomes an `InstanceResult` with an error class, and a failure is never taken for an answer (a run
whose trajectories died on the model server or a sandbox is an error, not an empty prediction).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path
from typing import Any

from agent.model import ModelClient
from agent.usage import Ledger
from envs.environment import prepare_environment
from envs.image_budget import lease
from sandbox import SandboxPool
from swescale.bench.accounting import Activity, Guard, MeteredModel, MeteredPool
from swescale.bench.errors import classify, error_summary, last_results, outcome_json, trajectory_failures
from swescale.bench.grading import EVAL_DIR, grade_patch
from swescale.bench.state import GRADING_ERROR, InstanceResult
from swescale.config import SwescaleConfig, judge_config
from swescale.outcome import SolveOutcome, StageCost
from swescale.pipeline import solve_task

log = logging.getLogger(__name__)


class Shared:
    """What the instances of one process share: the sandbox pool and the model clients (global limits)."""

    def __init__(self, config: SwescaleConfig, stop: threading.Event | None = None) -> None:
        self.config = config
        self.stop = stop or threading.Event()
        """Set when the run stops (Ctrl-C): instances end at once and stay pending."""
        self.pool = SandboxPool(max_concurrent=config.sandbox.max_concurrent, config=config.sandbox)
        self.model = ModelClient(config.model)
        self.judge = ModelClient(judge_config(config)) if config.verifier.judge else None


def _watch(guard: Guard, done: threading.Event) -> None:
    while not done.wait(1.0):
        if guard.enforce():
            return


def _from_outcome(outcome: SolveOutcome, run_dir: Path, base: InstanceResult) -> InstanceResult:
    results = last_results(run_dir)
    fixes = [r for r in results if r.mode == "fix"]
    stages = getattr(outcome, "stages", None) or {}
    return base.model_copy(
        update={
            "status": "done",
            "patch": outcome.patch,
            "abstained": outcome.abstained,
            "reason": outcome.reason,
            "tokens": outcome.usage.total_tokens,
            "calls": outcome.usage.calls,
            "model_seconds": outcome.usage.seconds,
            "stages": {k: StageCost.model_validate(v, from_attributes=True) for k, v in stages.items()},
            "trajectories": len(fixes),
            "steps": sum(r.steps for r in fixes),
            "candidates": sum(1 for r in fixes if r.patch.strip()),
            "stop_reasons": outcome.stop_reasons,
        }
    )


def _earlier(run_dir: Path) -> SolveOutcome | None:
    """The outcome an earlier attempt left when it reached its end without failures (the driver died
    before recording it): taken as it is instead of solving again."""
    data = outcome_json(run_dir)
    if not data or data.get("interrupted") or trajectory_failures(last_results(run_dir)):
        return None
    try:
        return SolveOutcome.model_validate(data)
    except ValueError:
        return None


def _solve(
    task: Any, config: SwescaleConfig, run_dir: Path, shared: Shared, progress: Any, base: InstanceResult
) -> InstanceResult:
    earlier = _earlier(run_dir)
    if earlier is not None:
        return _from_outcome(earlier, run_dir, base).model_copy(update={"reason": earlier.reason})
    guard = Guard(shared.stop, config.bench.instance_timeout)
    activity = Activity()
    model = MeteredModel(shared.model, activity, guard)
    judge = MeteredModel(shared.judge, activity, guard) if shared.judge is not None else None
    ledger = Ledger()  # the instance's model usage, read for an error too
    done = threading.Event()
    watchdog = threading.Thread(target=_watch, args=(guard, done), daemon=True, name="bench-watchdog")
    watchdog.start()
    env_seconds = 0.0
    try:
        started = time.monotonic()
        if progress is not None:
            progress.stage("preparing the environment image")
        env = prepare_environment(task, config)
        env_seconds = time.monotonic() - started
        with lease(config.env, env.image):  # no prune removes the image while the instance runs
            outcome = solve_task(
                task,
                config,
                run_dir,
                env=env,
                progress=progress,
                model=model,
                judge=judge,
                pool=MeteredPool(shared.pool, activity, guard),
                ledger=ledger,
            )
    except Exception as exc:  # noqa: BLE001 - every failure becomes a recorded error
        outcome, failure = None, exc
    finally:
        done.set()
    usage = ledger.total  # an instance that errored spent it too
    base = base.model_copy(
        update={
            "busy_seconds": activity.busy,
            "tokens": usage.total_tokens,
            "calls": usage.calls,
            "model_seconds": usage.seconds,
        }
    )
    if guard.tripped and guard.reason == "stopped":
        return base.model_copy(update={"status": "pending", "error": guard.message()})
    if guard.tripped:
        return base.model_copy(update={"error_class": "timeout", "error": guard.message()})
    if outcome is None:
        return base.model_copy(update={"error_class": classify(failure), "error": error_summary(failure)})
    if outcome.interrupted:
        return base.model_copy(update={"status": "pending", "error": outcome.reason})
    failed = trajectory_failures(last_results(run_dir)) or (
        ("model-server", f"model calls failed: {model.failure or judge.failure}")
        if model.failure or (judge is not None and judge.failure)
        else None
    )
    if failed is not None:
        return base.model_copy(update={"error_class": failed[0], "error": failed[1]})
    result = _from_outcome(outcome, run_dir, base)
    result.stages = {"environment": StageCost(seconds=env_seconds), **result.stages}
    return result


def run_instance(
    task: Any,
    config: SwescaleConfig,
    run_dir: Path,
    shared: Shared,
    *,
    solve: bool = True,
    patch: str = "",
    evaluate: bool = False,
    progress: Any = None,
) -> InstanceResult:
    """Solve `task` in `run_dir` (resuming it) unless `solve` is False (then `patch` is the prediction);
    with `evaluate`, grade the prediction into `run_dir/eval`."""
    started = time.monotonic()
    base = InstanceResult(instance_id=task.instance_id, status="error", node=socket.gethostname())
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        if solve:
            result = _solve(task, config, run_dir, shared, progress, base)
        else:
            result = base.model_copy(update={"status": "done", "patch": patch})
    except Exception as exc:  # noqa: BLE001 - a bug of ours must not stop the run
        log.exception("instance %s", task.instance_id)
        result = base.model_copy(update={"error_class": classify(exc), "error": error_summary(exc)})
    if result.status == "done" and evaluate:
        graded = time.monotonic()
        try:
            result.verdict, result.verdict_detail = grade_patch(
                task, result.patch, run_dir / EVAL_DIR, config, config.bench.model_name, pool=shared.pool
            )
        except Exception as exc:  # noqa: BLE001 - the prediction stands; its grading failed
            result.verdict, result.verdict_detail = GRADING_ERROR, {"error": error_summary(exc)}
        result.stages["grading"] = StageCost(seconds=time.monotonic() - graded)
    result.seconds = time.monotonic() - started
    return result
