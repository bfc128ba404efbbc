"""Every lost piece of work of a solve run directory, one line each, for the solve report and the bench
report: trajectory attempts that ended on infrastructure (their sandbox or the model server died),
whether they ran again, and verifications that failed (retried, or left as an error state)."""

from __future__ import annotations

import json
from pathlib import Path

from agent.result import ExitStatus, TrajectoryResult

LOST = (ExitStatus.sandbox_error, ExitStatus.model_error)
"""Trajectory endings that lose the trajectory's work: it did not try and fail, it was cut off."""


def _first_line(text: str, limit: int = 300) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0][:limit] if lines else "no detail"


def _trajectories(run_dir: Path) -> list[TrajectoryResult]:
    path = run_dir / "trajectories.jsonl"
    out = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            out.append(TrajectoryResult.model_validate_json(line))
        except ValueError:
            continue  # a line cut short by a kill
    return out


def trajectory_lines(results: list[TrajectoryResult]) -> list[str]:
    """A line per trajectory attempt that ended in `LOST`, saying what came after it."""
    lines = []
    for index, result in enumerate(results):
        if result.exit_status not in LOST:
            continue
        later = [r for r in results[index + 1 :] if r.trajectory_id == result.trajectory_id]
        after = f"ran again: {later[-1].exit_status}" if later else "not run again"
        kept = f"its diff kept ({result.patch.count(chr(10))} lines)" if result.patch.strip() else "no diff"
        lines.append(
            f"trajectory {result.trajectory_id} ({result.mode}): {result.exit_status} after {result.steps} "
            f"steps, {result.usage.total_tokens:,} tokens, {kept}; {after} ({_first_line(result.error)})"
        )
    return lines


def verification_lines(run_dir: Path) -> list[str]:
    """A line per verification that failed: retried once, or left as an error (selection abstained)."""
    lines = []
    for path in sorted(run_dir.glob("gen*/**/verifier_table.json")):
        meta = json.loads(path.read_text()).get("meta", {})
        where = path.parent.relative_to(run_dir)
        for patch_hash, error in meta.get("verification_retries", {}).items():
            lines.append(
                f"{where}: verification of patch {patch_hash[:12]} failed and ran again ({_first_line(error)})"
            )
        for patch_hash, error in meta.get("verification_errors", {}).items():
            lines.append(
                f"{where}: verification of patch {patch_hash[:12]} failed twice: an error, not a verdict "
                f"({_first_line(error)})"
            )
    return lines


def lost_work(run_dir: str | Path) -> list[str]:
    """Every lost piece of work of the solve run directory `run_dir`, one line each."""
    run_dir = Path(run_dir)
    return trajectory_lines(_trajectories(run_dir)) + verification_lines(run_dir)
