"""The library API under the CLI: each call returns an outcome object or raises a typed error; none prints,
exits or installs signal handlers, so the CLI, the bot and the webhook server share them.

Errors: `swescale.preflight.PreflightError` (Docker or a model server missing), `envs.datasets.DatasetError`
(a bad dataset, issue or repository), `envs.environment.EnvBuildError`, `swescale.outcome.RunDirError`.
The API sits above the pipeline and bench (`solve_task` is `swescale.pipeline`'s); neither imports it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from agent.model import ModelClient
from envs.datasets import local_task
from envs.task import Task
from selection.select import Decision
from swescale.config import SwescaleConfig, judge_config
from swescale.outcome import Progress, SolveOutcome
from swescale.pipeline import solve_task
from swescale.preflight import check_services
from swescale.select import select_task
from verifiers.table import Candidate

if TYPE_CHECKING:
    from swescale.bench.runner import BenchSummary

__all__ = ["SelectOutcome", "SelectResult", "bench_run", "default_run_dir", "select", "solve", "solve_task"]
log = logging.getLogger(__name__)


def default_run_dir(instance_id: str, root: Path = Path("runs")) -> Path:
    return root / f"{instance_id}-{time.strftime('%Y%m%d-%H%M%S')}"


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


def bench_run(
    tasks: list[Task],
    config: SwescaleConfig,
    run_dir: Path,
    *,
    output: Path | None = None,
    retry_errors: bool = False,
    redo: list[str] | None = None,
    console: Any = None,
    validate: bool = False,
) -> BenchSummary:
    """Solve every task under the run's global limits (`config.bench`: workers, executor); the state is
    `run_dir/state.sqlite`, predictions `run_dir/predictions.jsonl` (and `output`). Finished instances of
    an earlier run are kept, unfinished ones resume; `retry_errors` reruns errors, `redo` the given ids.
    `console`: a rich Console for live progress (None: progress goes to logging). `validate`: first run
    `bench validate` (run_dir/validation/) and leave out tasks that are not valid (gold does not resolve,
    or the empty patch does), so no model time goes to tasks no patch can be scored on."""
    from swescale.bench.runner import run_bench
    from swescale.preflight import check_docker, check_model_servers

    if config.bench.executor == "local":
        check_docker()  # with Ray, the nodes need Docker, not the driver
    check_model_servers(config.model.urls, "model", config.model.api_key)
    if validate:
        from envs.validate import validate_tasks

        invalid = validate_tasks(tasks, config, run_dir=Path(run_dir) / "validation").invalid
        for iid, bad in invalid.items():
            log.warning("%s left out: not a valid task (%s: %s)", iid, bad.status, bad.reason)
        tasks = [t for t in tasks if t.instance_id not in invalid]
    return run_bench(
        tasks, config, run_dir, output=output, retry_errors=retry_errors, redo=redo, console=console
    )
