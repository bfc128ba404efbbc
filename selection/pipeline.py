"""Selection for one task end to end: environment, verifiers, ranking, optional selection trajectory.

Used by `swescale select`; writes `<run_dir>/<instance_id>/decision.json` (and the verifier table).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from agent.config import SwescaleConfig
from envs.task import Task
from selection.normalize import OriginalFiles, dedupe
from selection.select import Decision, select
from verifiers.table import Candidate, GeneratedTest, VerifierTable

log = logging.getLogger(__name__)


def original_files_for(task: Task, config: SwescaleConfig) -> OriginalFiles | None:
    """Reader of the task's files at its base commit (None when the repository cannot be opened)."""
    from envs.repos import RepoError, open_source, read_file_at

    try:
        repo, _ = open_source(task, config.env.repos_dir)
    except (RepoError, OSError) as exc:
        log.warning(
            "%s: no repository for AST normalization (%s); line normalization instead", task.instance_id, exc
        )
        return None
    commit = task.base_commit or "HEAD"
    cache: dict[str, str | None] = {}

    def read(path: str) -> str | None:
        if path not in cache:
            cache[path] = read_file_at(repo, commit, path)
        return cache[path]

    return read


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
) -> tuple[VerifierTable, Decision]:
    """Verify the candidates of one task, select one (or abstain) and write decision.json.

    `env` defaults to the task's prepared environment; `tests` to the scripts of test-writing
    trajectories run with `model` (none without a model). Candidates' own reproduction scripts are
    always added by the verifier.
    """
    from envs.environment import prepare_environment
    from sandbox import SandboxPool
    from verifiers.collect import run_test_trajectories
    from verifiers.run import verify

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
    table = verify(task, env, verified, tests, config, judge_model, pool, out_dir)
    table = expand_table(table, groups)
    table.save(out_dir / "selection_table.json")
    decision = select(table, config.selection, candidates, originals, groups=groups)
    if config.selection.selection_trajectory and model is not None and decision.best is not None:
        from selection.trajectory import run_selection_trajectory

        decision = run_selection_trajectory(task, env, decision, candidates, config, model, pool, out_dir)
    write_decision(out_dir / "decision.json", decision, candidates)
    return table, decision


def expand_table(table: VerifierTable, groups: list) -> VerifierTable:
    """Give every member of a normalized group the row of its verified representative."""
    rows = table.by_candidate
    out = []
    for group in groups:
        rep = rows.get(group.representative)
        if rep is None:
            continue
        for cid in group.members:
            out.append(rep if cid == group.representative else rep.model_copy(update={"candidate_id": cid}))
    return table.model_copy(update={"rows": out})


def write_decision(path: Path, decision: Decision, candidates: list[Candidate]) -> Path:
    data = decision.model_dump(mode="json")
    by_id = {c.candidate_id: c for c in candidates}
    chosen = by_id.get(decision.best or "")
    data["best_patch"] = chosen.patch if chosen else ""
    data["sources"] = {c.candidate_id: c.meta.get("file", c.source) for c in candidates}
    path.write_text(json.dumps(data, indent=2))
    return path
