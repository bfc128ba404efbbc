"""The funnel of a mining run: how many commits reached each stage, and why each dropped one stopped."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from swescale.mine.store import Row
from swescale.mine.validate import STAGE_LABELS, STAGES


def funnel(repo: str, rows: list[Row]) -> dict:
    """{repo, stages: {stage: count}, pending, seconds, dropped: [{commit, subject, stage, reason}]}.
    A commit counts in every stage up to the one it reached; unfinished candidates are `pending`."""
    reached = Counter(STAGES.index(r.stage) for r in rows if r.done)
    counts = {stage: sum(n for i, n in reached.items() if i >= k) for k, stage in enumerate(STAGES)}
    pending = [r for r in rows if not r.done]
    counts["scanned"] += len(pending)
    counts["touching"] += len(pending)
    dropped = [
        {
            "commit": r.candidate.sha,
            "subject": r.candidate.subject,
            "stage": r.stage,
            "dropped_at": STAGES[STAGES.index(r.stage) + 1],
            "reason": r.reason,
        }
        for r in rows
        if r.done and r.stage != "validated"
    ]
    validated = [r for r in rows if r.done and r.stage != "scanned"]
    images = Counter(r.detail.get("env_source") for r in validated if r.detail.get("env_source"))
    return {
        "repo": repo,
        "stages": counts,
        "pending": len(pending),
        "validation_seconds": round(sum(r.seconds for r in validated), 1),
        "images": dict(images),
        "dropped": dropped,
    }


def write_funnel(run_dir: Path, data: dict) -> Path:
    """`<run_dir>/funnel.json`, replaced whole (never half written)."""
    path = run_dir / "funnel.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)
    return path


def render(data: dict) -> str:
    """The funnel as text: one line per stage, then the drop reasons per stage (most frequent first)."""
    lines = [f"funnel of {data['repo']}:"]
    for stage in STAGES:
        lines.append(f"  {data['stages'][stage]:>6}  {STAGE_LABELS[stage]}")
    if data["images"]:
        lines.append(
            "  images: " + ", ".join(f"{n} {source}" for source, n in sorted(data["images"].items()))
        )
    if data["pending"]:
        lines.append(f"  {data['pending']:>6}  still pending (interrupted: run again to resume)")
    by_stage: dict[str, Counter] = {}
    for drop in data["dropped"]:
        reason = drop["reason"].split(":")[0] if drop["stage"] != "scanned" else drop["reason"]
        by_stage.setdefault(drop["dropped_at"], Counter())[reason] += 1
    for stage in STAGES[1:]:
        for reason, count in by_stage.get(stage, Counter()).most_common():
            lines.append(f"  dropped before '{STAGE_LABELS[stage]}': {count} x {reason}")
    return "\n".join(lines)
