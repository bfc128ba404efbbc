"""The library API under the CLI: each call returns an outcome object or raises a typed error; none prints,
exits or installs signal handlers, so the CLI, the bot and the webhook server share them.

Errors: `swescale.preflight.PreflightError` (Docker or a model server missing), `envs.datasets.DatasetError`
(a bad dataset, issue or repository), `envs.environment.EnvBuildError`, `swescale.pipeline.RunDirError`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, Field

from agent.model import ModelClient
from envs.datasets import local_task
from envs.environment import EnvSpec, prepare_environment
from envs.task import Task
from sandbox import SandboxPool
from selection.select import Decision
from swescale.config import SwescaleConfig, judge_config
from swescale.outcome import Progress, SolveOutcome
from swescale.pipeline import SolveRun
from swescale.preflight import check_services
from swescale.report import write_report
from swescale.select import select_task
from verifiers.table import Candidate

log = logging.getLogger(__name__)


def default_run_dir(instance_id: str, root: Path = Path("runs")) -> Path:
    return root / f"{instance_id}-{time.strftime('%Y%m%d-%H%M%S')}"


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
) -> SolveOutcome:
    """Environment, pipeline and report for one task. Shared `model`/`judge` clients and `pool` let many
    tasks share global limits (requests in flight per server, sandboxes alive)."""
    env = env or prepare_environment(task, config)
    model = model or ModelClient(config.model)
    if judge is None and config.verifier.judge:
        judge = ModelClient(judge_config(config))
    solver = SolveRun(task, env, config, Path(run_dir), model, judge, progress=progress, pool=pool)
    outcome = solver.run()
    write_report(
        Path(run_dir), outcome, solver.table, solver.candidates, solver.results, task.problem_statement
    )
    return outcome


def solve(
    repo: Path,
    issue: str,
    config: SwescaleConfig,
    *,
    base_commit: str | None = None,
    run_dir: Path | None = None,
    progress: Progress | None = None,
) -> SolveOutcome:
    """Solve an issue (text, or a file holding it) in a local git repository."""
    check_services(config)
    task = local_task(repo, issue, base_commit)
    return solve_task(task, config, run_dir or default_run_dir(task.instance_id), progress=progress)


class SelectResult(BaseModel):
    instance_id: str
    decision: Decision | None = None
    patch: str = ""
    """The patch to submit for this instance under `selection.abstain_output`; empty when abstaining."""
    error: str = ""


class SelectOutcome(BaseModel):
    results: list[SelectResult] = Field(default_factory=list)
    missing_tasks: list[str] = Field(default_factory=list)
    """Instances with candidates but no task in the dataset (skipped)."""

    @property
    def chosen(self) -> int:
        return sum(1 for r in self.results if r.decision is not None and not r.decision.abstained)

    @property
    def abstained(self) -> int:
        return sum(1 for r in self.results if r.decision is not None and r.decision.abstained)

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if r.error)


def select(
    tasks: dict[str, Task],
    pools: dict[str, list[Candidate]],
    config: SwescaleConfig,
    run_dir: Path,
    *,
    on_result: Callable[[SelectResult], None] | None = None,
) -> SelectOutcome:
    """Choose one patch per task among candidates from any source, or abstain. With `config.model.urls`
    set, test-writing trajectories, the judge and the selection trajectory take part."""
    model = ModelClient(config.model) if config.model.urls else None
    judge = ModelClient(judge_config(config)) if model is not None and config.verifier.judge else None
    outcome = SelectOutcome(missing_tasks=[i for i in pools if i not in tasks])
    for instance_id, candidates in pools.items():
        if instance_id not in tasks:
            continue
        result = SelectResult(instance_id=instance_id)
        try:
            _, result.decision = select_task(tasks[instance_id], candidates, config, run_dir, model, judge)
            result.patch = _submitted_patch(result.decision, candidates, config)
        except Exception as exc:  # noqa: BLE001 - one broken task must not stop the others
            log.exception("%s: selection failed", instance_id)
            result.error = f"{type(exc).__name__}: {exc}"
        outcome.results.append(result)
        if on_result is not None:
            on_result(result)
    return outcome


def _submitted_patch(decision: Decision, candidates: list[Candidate], config: SwescaleConfig) -> str:
    pick = decision.chosen
    if decision.abstained:
        pick = decision.best if config.selection.abstain_output == "best" else None
    by_id = {c.candidate_id: c for c in candidates}
    return by_id[pick].patch if pick else ""


class BenchInstance(BaseModel):
    instance_id: str
    patch: str = ""
    """The prediction: the chosen patch, empty when abstaining or when the instance failed."""
    resumed: bool = False
    """Done in an earlier run in the same run directory (not run again)."""
    error: str = ""
    invalid: str = ""
    """With `validate`: why the task is not valid (`bench validate`'s class and reason); it was not solved."""
    outcome: SolveOutcome | None = None


def bench_run(
    tasks: list[Task],
    config: SwescaleConfig,
    run_dir: Path,
    *,
    on_instance: Callable[[int, BenchInstance], None] | None = None,
    validate: bool = False,
) -> list[BenchInstance]:
    """Solve every task (one run directory each below `run_dir`); instances whose run finished earlier
    are kept. An interrupt (KeyboardInterrupt) propagates after the current instance stopped.
    `validate`: first run `bench validate` (run_dir/validation/) and skip tasks that are not valid (their
    prediction is empty and `invalid` says why), so no model time goes to tasks no patch can resolve."""
    check_services(config)
    invalid = {}
    if validate:
        from envs.validate import validate_tasks

        invalid = validate_tasks(tasks, config, run_dir=Path(run_dir) / "validation").invalid
    results = []
    for index, task in enumerate(tasks, 1):
        task_dir = Path(run_dir) / task.instance_id
        earlier = _finished_outcome(task_dir)
        if task.instance_id in invalid:
            bad = invalid[task.instance_id]
            item = BenchInstance(instance_id=task.instance_id, invalid=f"{bad.status}: {bad.reason}")
        elif earlier is not None:
            item = BenchInstance(instance_id=task.instance_id, patch=earlier.patch, resumed=True)
        else:
            item = BenchInstance(instance_id=task.instance_id)
            try:
                item.outcome = solve_task(task, config, task_dir)
                item.patch = item.outcome.patch
            except (OSError, ValueError, RuntimeError) as exc:
                item.error = f"{type(exc).__name__}: {exc}"
            if item.outcome is not None and item.outcome.interrupted:
                raise KeyboardInterrupt
        results.append(item)
        if on_instance is not None:
            on_instance(index, item)
    return results


def _finished_outcome(task_dir: Path) -> SolveOutcome | None:
    """The outcome of an instance's earlier run, if it ran to its end."""
    path = task_dir / "run.json"
    if not path.exists():
        return None
    outcome = SolveOutcome.model_validate_json(path.read_text())
    return None if outcome.interrupted else outcome
