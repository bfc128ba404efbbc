"""Task validation: the gold and the empty patch of every task through `bench eval`'s evaluation.

A task is valid when its gold patch resolves it and the empty patch does not. The other classes say what
to fix: `gold fails` (the environment or the task's test lists differ from the harness's), `empty passes`
(the tests do not detect the issue), `env error` (the evaluation could not measure, with the fault).
Runs live under run_dir/gold/<id>/ and run_dir/empty/<id>/ (resumable, as `bench eval`).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from envs.evaluate import InstanceResult, evaluate_instance
from envs.task import Task
from sandbox.cleanup import ensure_atexit

if TYPE_CHECKING:
    from envs.config import EnvSettings

VALID, GOLD_FAILS, EMPTY_PASSES, ENV_ERROR = "valid", "gold fails", "empty passes", "env error"
CLASSES = (VALID, GOLD_FAILS, EMPTY_PASSES, ENV_ERROR)
GOLD, EMPTY = "gold", "empty"


class TaskValidation(BaseModel):
    """The validation of one task."""

    instance_id: str
    repo: str = ""
    version: str = ""
    status: str
    """One of CLASSES."""
    gold: str
    """State of the gold run: resolved, unresolved, apply-failed or error."""
    empty: str
    """State of the empty-patch run (`not run` when the gold run was an env error)."""
    reason: str = ""
    """Why the task is not valid (a fault, or the tests that went the wrong way)."""
    seconds: float = 0.0
    """Wall time of both runs (about 0 when both were done in an earlier run)."""


class ValidationReport(BaseModel):
    """Every task's validation; `validation.json` is its JSON."""

    tasks: list[TaskValidation] = []

    @property
    def valid_ids(self) -> list[str]:
        return [t.instance_id for t in self.tasks if t.status == VALID]

    @property
    def invalid(self) -> dict[str, TaskValidation]:
        return {t.instance_id: t for t in self.tasks if t.status != VALID}

    def counts(self) -> dict[tuple[str, str], Counter]:
        """(repo, version) -> Counter of classes."""
        out: dict[tuple[str, str], Counter] = {}
        for t in self.tasks:
            out.setdefault((t.repo, t.version), Counter())[t.status] += 1
        return dict(sorted(out.items()))

    def table(self) -> str:
        """A plain-text table per repository and version, with a total line."""
        rows = [("repo", "version", *CLASSES)]
        total: Counter = Counter()
        for (repo, version), counter in self.counts().items():
            rows.append((repo, version, *(str(counter[c]) for c in CLASSES)))
            total += counter
        rows.append(("total", "", *(str(total[c]) for c in CLASSES)))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in rows)


def _failing_tests(result: InstanceResult, which: str) -> list[str]:
    entry = (result.report or {}).get(result.instance_id, {})
    status = entry.get("tests_status", {})
    return [t for key in ("FAIL_TO_PASS", "PASS_TO_PASS") for t in status.get(key, {}).get(which, [])]


def classify_pair(gold: InstanceResult, empty: InstanceResult) -> tuple[str, str]:
    """(class, reason) of a task from its gold and empty runs."""
    for name, run in ((GOLD, gold), (EMPTY, empty)):
        if run.state == "error":
            return ENV_ERROR, f"{name} run: {run.fault}"
    if gold.state == "apply-failed":
        return GOLD_FAILS, "the gold patch does not apply"
    if gold.state != "resolved":
        failing = _failing_tests(gold, "failure")
        return GOLD_FAILS, f"{len(failing)} listed tests fail with the gold patch: {', '.join(failing[:5])}"
    if empty.state == "resolved":
        return EMPTY_PASSES, "every fail-to-pass test passes without the gold patch"
    return VALID, ""


def _run(task: Task, kind: str, run_dir: Path, config: EnvSettings, rebuild: bool) -> InstanceResult:
    patch = task.patch if kind == GOLD else ""
    pred = {"instance_id": task.instance_id, "model_name_or_path": kind, "model_patch": patch}
    return evaluate_instance(task, pred, run_dir, config, rebuild=rebuild)


def validate_task(task: Task, run_dir: Path, config: EnvSettings, rebuild: bool = False) -> TaskValidation:
    start = time.monotonic()
    gold = _run(task, GOLD, run_dir, config, rebuild)
    if gold.state == "error":  # an env error whatever the empty run does: do not spend it
        empty = InstanceResult(task.instance_id, "not run")
    else:
        empty = _run(task, EMPTY, run_dir, config, False)  # the image is fresh after the gold run
    status, reason = classify_pair(gold, empty)
    return TaskValidation(
        instance_id=task.instance_id,
        repo=task.repo,
        version=task.version,
        status=status,
        gold=gold.state,
        empty=empty.state,
        reason=reason,
        seconds=round(time.monotonic() - start, 1),
    )


def validate_tasks(
    tasks: list[Task],
    config: EnvSettings,
    workers: int = 2,
    run_dir: str | Path = "validation",
    *,
    rebuild: bool = False,
    on_task: Callable[[TaskValidation], None] | None = None,
) -> ValidationReport:
    """Validate every task (gold and empty runs, `workers` tasks at a time); writes
    run_dir/validation.json and returns the report, in the tasks' order. Finished runs are reused."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ensure_atexit()
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(validate_task, t, run_dir, config, rebuild) for t in tasks]
        results = []
        for future in futures:
            results.append(future.result())
            if on_task:
                on_task(results[-1])
    report = ValidationReport(tasks=results)
    (run_dir / "validation.json").write_text(json.dumps(report.model_dump(), indent=2))
    return report
