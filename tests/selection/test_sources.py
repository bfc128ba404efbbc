"""Candidate files: SWE-bench predictions of several systems and labelled pools."""

from __future__ import annotations

import json

from selection.sources import load_candidates


def test_prediction_files_and_pools(tmp_path):
    a = tmp_path / "run_a.jsonl"
    a.write_text(
        "".join(
            json.dumps(r) + "\n"
            for r in [
                {"instance_id": "i1", "model_name_or_path": "org/model", "model_patch": "p1"},
                {"instance_id": "i1", "model_name_or_path": "org/model", "model_patch": "p2"},
                {"instance_id": "i2", "model_name_or_path": "org/model", "model_patch": None},
            ]
        )
    )
    b = tmp_path / "run_b.json"
    b.write_text(json.dumps({"i1": {"model_name_or_path": "org/model", "model_patch": "p3"}}))
    pool = tmp_path / "pool.jsonl"
    pool.write_text(
        json.dumps({"instance_id": "i2", "candidate_id": "c9", "patch": "p4", "resolved": True}) + "\n"
    )
    got = load_candidates([a, b, pool])
    assert [c.candidate_id for c in got["i1"]] == [
        "run_a/org/model:i1",
        "run_a/org/model:i1#2",
        "run_b/org/model:i1",
    ]
    assert [c.patch for c in got["i2"]] == ["", "p4"]
    assert got["i2"][1].candidate_id == "c9" and got["i2"][1].meta["resolved"] is True
    assert got["i1"][2].meta["file"].endswith("run_b.json")
