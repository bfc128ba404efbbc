"""Selection's bookkeeping around a verifier table: files at the base commit for AST normalization,
rows shared by a normalized group, and the decision file."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from envs.task import Task
from selection.config import SelectionSettings
from selection.normalize import OriginalFiles
from selection.select import Decision
from verifiers.table import Candidate, VerifierTable

log = logging.getLogger(__name__)


def original_files_for(task: Task, config: SelectionSettings) -> OriginalFiles | None:
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
