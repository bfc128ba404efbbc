"""Selection for one task end to end: environment, verifiers, ranking, optional selection trajectory.

Used by `swescale select` and the solve pipeline; writes `<run_dir>/<instance_id>/decision.json` and the
verifier table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from envs.environment import prepare_environment
from envs.task import Task
from sandbox import SandboxPool
from selection.candidate_tests import candidate_tests
from selection.groups import expand_table, original_files_for, write_decision
from selection.normalize import dedupe
from selection.select import Decision, select
from selection.trajectory import run_selection_trajectory
from swescale.config import SwescaleConfig
from verifiers.collect import run_test_trajectories
from verifiers.run import verify
from verifiers.table import Candidate, GeneratedTest, VerifierTable


def select_task(
    task: Task,
    candidates: list[Candidate],
    config: SwescaleConfig,
    run_dir: Path,
    model: Any = None,
    judge_model: Any = None,
    pool: Any = None,
    env: Any = None,
    tests: list[GeneratedTest] | None = None,
    cache_dir: Path | None = None,
) -> tuple[VerifierTable, Decision]:
    """Verify the candidates of one task, select one (or abstain) and write decision.json.

    `env` defaults to the task's prepared environment; `tests` to the scripts of test-writing
    trajectories run with `model` (none without a model). Candidates' own reproduction scripts are
    always added by the verifier, and with `selection.candidate_tests` the scripts and test functions
    their patches bring (selection.candidate_tests). `cache_dir`: the run's outcome cache (default `run_dir`).
    """

    out_dir = run_dir / task.instance_id
    out_dir.mkdir(parents=True, exist_ok=True)
    pool = pool or SandboxPool(max_concurrent=max(1, config.verifier.max_parallel), config=config.sandbox)
    env = env or prepare_environment(task, config)
    originals = original_files_for(task, config)
    groups = dedupe(candidates, originals)
    # One representative per normalized group is verified; the others inherit its row.
    reps = {g.representative for g in groups}
    if tests is None:
        tests = (
            run_test_trajectories(task, env, model, pool, config, out_dir / "trajectories") if model else []
        )
    verified = [c for c in candidates if c.candidate_id in reps]
    if config.selection.candidate_tests:
        tests = [*tests, *candidate_tests(candidates, originals)]
    table = verify(
        task, env, verified, tests, config, judge_model, pool, out_dir, cache_dir=cache_dir or run_dir
    )
    table = expand_table(table, groups)
    table.save(out_dir / "selection_table.json")
    decision = select(
        table, config.selection, candidates, originals, groups=groups, issue=task.problem_statement
    )
    if config.selection.selection_trajectory and model is not None and decision.best is not None:
        decision = run_selection_trajectory(task, env, decision, candidates, config, model, pool, out_dir)
    write_decision(out_dir / "decision.json", decision, candidates)
    return table, decision
