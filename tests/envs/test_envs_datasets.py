"""Loading tasks: classic and 5.x formats, errors naming file and line, local repositories."""

from __future__ import annotations

import json
import time

import pytest

from envs.datasets import DatasetError, load_tasks, local_task

CLASSIC = {
    "instance_id": "o__r-1",
    "repo": "o/r",
    "base_commit": "abc",
    "patch": "p",
    "test_patch": "t",
    "problem_statement": "bug",
    "hints_text": "",
    "created_at": "2020",
    "version": "1.0",
    "FAIL_TO_PASS": json.dumps(["tests/test_a.py::test_x"]),
    "PASS_TO_PASS": "[]",
    "environment_setup_commit": "abc",
}
V5 = {
    "instance_id": "o__r-2",
    "repo": "o/r",
    "base_commit": "def",
    "patch": "p",
    "test_patch": "t",
    "problem_statement": "bug",
    "version": 2.1,
    "FAIL_TO_PASS": ["a", "b"],
    "PASS_TO_PASS": ["c"],
    "image": "swebench/sweb.eval.x86_64.o_1776_r-2:latest",
    "eval_script": "#!/bin/bash\necho hi\n",
    "log_parser": "parse_log_pytest",
    "eval_type": "pass_and_fail",
    "image_assets": None,
}


def test_classic_jsonl_and_5x_json(tmp_path):
    classic = tmp_path / "c.jsonl"
    classic.write_text(json.dumps(CLASSIC) + "\n\n")
    [task] = load_tasks(classic)
    assert task.FAIL_TO_PASS == ["tests/test_a.py::test_x"] and task.PASS_TO_PASS == []
    v5 = tmp_path / "v5.json"
    v5.write_text(json.dumps([V5]))
    [task] = load_tasks(v5)
    assert task.FAIL_TO_PASS == ["a", "b"] and task.version == "2.1" and task.log_parser == "parse_log_pytest"
    assert task.eval_script.startswith("#!/bin/bash") and "image_assets" in task.model_dump()  # nothing lost
    keyed = tmp_path / "keyed.json"
    keyed.write_text(json.dumps({"o__r-1": {k: v for k, v in CLASSIC.items() if k != "instance_id"}}))
    assert load_tasks(keyed)[0].instance_id == "o__r-1"


def test_parquet_and_instance_filter(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist([CLASSIC, {**CLASSIC, "instance_id": "o__r-3"}]), path)
    assert [t.instance_id for t in load_tasks(path, ["o__r-3"])] == ["o__r-3"]
    with pytest.raises(DatasetError, match="no instance"):
        load_tasks(path, ["missing"])


def test_malformed_rows_name_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(CLASSIC) + "\n{not json\n")
    with pytest.raises(DatasetError, match=r"bad\.jsonl:2: invalid JSON"):
        load_tasks(path)
    path.write_text(json.dumps(CLASSIC) + "\n" + json.dumps({**CLASSIC, "FAIL_TO_PASS": "[oops"}) + "\n")
    with pytest.raises(DatasetError, match=r"bad\.jsonl:2 \(instance o__r-1\)"):
        load_tasks(path)
    path.write_text(json.dumps({"repo": "x"}) + "\n")
    with pytest.raises(DatasetError, match=r"(?s)bad\.jsonl:1.*instance_id"):
        load_tasks(path)
    path.write_text(json.dumps(CLASSIC) + "\n" + json.dumps(CLASSIC) + "\n")
    with pytest.raises(DatasetError, match="duplicate"):
        load_tasks(path)


def test_hub_name_fails_fast_when_offline(monkeypatch):
    start = time.monotonic()
    with pytest.raises(DatasetError, match="SWE-bench/SWE-bench_Lite"):
        load_tasks("SWE-bench/SWE-bench_Lite")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DatasetError, match="HF_HUB_OFFLINE"):
        load_tasks("SWE-bench/SWE-bench_Verified")
    assert time.monotonic() - start < 30


def test_local_task(calc_repo, tmp_path):
    repo, base, head = calc_repo
    issue = tmp_path / "issue.md"
    issue.write_text("add() is wrong\n")
    task = local_task(repo, issue)
    assert (
        task.base_commit == head
        and task.repo_url == str(repo)
        and task.problem_statement == "add() is wrong\n"
    )
    assert task.instance_id == f"calc-{head[:8]}"
    assert local_task(repo, "inline text", base_commit=base).base_commit == base
    with pytest.raises(DatasetError, match="not a git repository"):
        local_task(tmp_path, "x")
