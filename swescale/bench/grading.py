"""Grading inside a bench run: a prediction (`--evaluate`) or every candidate (`--grade-candidates`),
with `bench eval`'s grading (envs.evaluate.evaluate_instance: the harness's apply chain and swebench's
log parsers). Results are cached in the instance's folder, so grading again costs nothing."""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envs.evaluate import evaluate_instance
from envs.task import Task
from swescale.bench.state import GRADING_ERROR

if TYPE_CHECKING:
    from envs.config import EnvSettings

EVAL_DIR = "eval"
CANDIDATES_EVAL_DIR = "eval-candidates"
_DETAIL_KEYS = (
    "patch_successfully_applied",
    "resolved",
    "patch_apply_failed",
    "test_infrastructure_reverted",
)


def patch_hash(patch: str) -> str:
    return hashlib.sha256(patch.encode()).hexdigest()[:16]


def verdict_of(report: dict[str, Any] | None, instance_id: str) -> tuple[str, dict[str, Any]]:
    """(verdict, detail) of an evaluation report (None: the evaluation itself failed)."""
    if report is None:
        return GRADING_ERROR, {}
    entry = report.get(instance_id, {})
    detail = {k: entry[k] for k in _DETAIL_KEYS if k in entry}
    for kind, tests in (entry.get("tests_status") or {}).items():
        detail[kind] = {"success": len(tests.get("success", [])), "failure": len(tests.get("failure", []))}
    if entry.get("patch_apply_failed"):
        return "apply-failed", detail
    return ("resolved" if entry.get("resolved") else "unresolved"), detail


def grade_patch(
    task: Task, patch: str, out_dir: Path, config: EnvSettings, name: str, pool: Any = None
) -> tuple[str, dict[str, Any]]:
    """Grade one patch of `task` into `out_dir/<name>/<instance_id>/` (the harness layout); an empty patch
    is `empty` without running anything. `pool`: a SandboxPool whose slot the grading sandbox takes."""
    if not patch.strip():
        return "empty", {}
    prediction = {"instance_id": task.instance_id, "model_name_or_path": name, "model_patch": patch}
    slot = pool.slot() if pool is not None and hasattr(pool, "slot") else contextlib.nullcontext()
    with slot:
        report = evaluate_instance(task, prediction, Path(out_dir), config).report  # None: an error
    verdict, detail = verdict_of(report, task.instance_id)
    if verdict == GRADING_ERROR:
        log = Path(out_dir) / name / task.instance_id / "run_instance.log"
        detail["log_tail"] = log.read_text()[-1500:] if log.exists() else ""
    return verdict, detail


def read_candidates(run_dir: Path) -> list[dict[str, Any]]:
    """The candidates of one solve run directory (`candidates.jsonl`), the last line per candidate id."""
    path = Path(run_dir) / "candidates.jsonl"
    out: dict[str, dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                row = json.loads(line)
                out[row["candidate_id"]] = row
    return list(out.values())
