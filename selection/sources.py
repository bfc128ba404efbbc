"""Candidate patches from files: SWE-bench prediction files of any system, or labelled pools.

Accepted per file: JSONL (one object a line), a JSON list, or a JSON object keyed by instance id
(the swebench harness accepts all three). A line holds `instance_id` and `model_patch` (SWE-bench
predictions; `model_name_or_path`, or `system` in labelled pools, names the system) or `patch`
(labelled pools, optionally with their own `candidate_id`). A `resolved` label is kept in `meta`.

Candidate ids are `<file stem>/<model_name_or_path>:<instance_id>`, with `#2`, `#3`... for further
patches of the same system and instance in one file, so every id names its source file and system.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from envs.records import read_records
from verifiers.table import Candidate


def load_candidates(paths: list[str | Path]) -> dict[str, list[Candidate]]:
    """Candidates by instance id, in file order. Raises ValueError on lines without a patch field."""
    by_instance: dict[str, list[Candidate]] = defaultdict(list)
    seen: dict[str, int] = defaultdict(int)
    for raw in paths:
        path = Path(raw)
        for _, record in read_records(path):
            instance = record["instance_id"]
            if "model_patch" not in record and "patch" not in record:
                raise ValueError(f"{path}: record of {instance} has neither model_patch nor patch")
            system = record.get("model_name_or_path") or record.get("system") or "candidate"
            if record.get("candidate_id") and "model_patch" not in record:
                cid = str(record["candidate_id"])
            else:
                cid = f"{path.stem}/{system}:{instance}"
                seen[cid] += 1
                if seen[cid] > 1:
                    cid += f"#{seen[cid]}"
            meta = {"file": str(path), "system": system}
            if "resolved" in record:
                meta["resolved"] = record["resolved"]
            by_instance[instance].append(
                Candidate(
                    candidate_id=cid,
                    patch=record.get("model_patch", record.get("patch")) or "",
                    source=f"file:{path.name}",
                    meta=meta,
                )
            )
    return dict(by_instance)


def write_predictions(path: str | Path, predictions: list[dict[str, str]]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(p) + "\n" for p in predictions))
    return path
