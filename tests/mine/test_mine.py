"""`swescale env mine` end to end on a repository with one commit of every kind: exact funnel, tasks that
`bench eval` grades gold-resolved and empty-unresolved, flaky tests dropped, kill -9 then resume."""

from __future__ import annotations

import json

import docker
import pytest
from mine_history import ISSUE, MODEL_ISSUE, OVERRIDES
from typer.testing import CliRunner

from envs.datasets import load_tasks
from swescale.cli.main import app

pytestmark = pytest.mark.docker


def _tasks(mined) -> dict[str, dict]:
    rows = [json.loads(line) for line in mined.output.read_text().splitlines()]
    return {row["fix_commit"]: row for row in rows}


def _funnel(mined) -> dict:
    return json.loads((mined.run_dir / "funnel.json").read_text())


def test_funnel_counts_are_exact(mined):
    data = _funnel(mined)
    assert data["stages"] == {
        "scanned": 8,
        "touching": 6,
        "env_built": 5,
        "fail_to_pass": 4,
        "stable": 3,
        "validated": 2,
    }
    assert data["pending"] == 0
    reasons = {d["commit"]: (d["dropped_at"], d["reason"]) for d in data["dropped"]}
    s = mined.shas
    assert reasons[s["root"]] == ("touching", "root commit (no parent)")
    assert reasons[s["docs"]] == ("touching", "changes neither source nor test files")
    assert reasons[s["already_passing"]] == ("fail_to_pass", "the new tests already pass at the parent")
    assert reasons[s["flaky_only"]][0] == "stable"
    assert reasons[s["flaky_only"]][1].startswith(
        "every FAIL_TO_PASS test is flaky: tests/test_flaky.py::test_flaky"
    )
    assert reasons[s["hangs"]] == ("env_built", "the tests timed out (parent, run 1, mine.test_timeout)")
    assert reasons[s["breaks_other"]] == (
        "validated",
        "breaks tests that pass at the parent: tests/test_calc.py::test_double",
    )
    assert "validated (bench eval: gold resolves, empty does not)" in mined.resumed_output


def test_clean_fix_task(mined):
    row = _tasks(mined)[mined.shas["clean"]]
    assert json.loads(row["FAIL_TO_PASS"]) == ["tests/test_calc.py::test_add"]
    assert json.loads(row["PASS_TO_PASS"]) == [
        "tests/test_calc.py::test_double",
        "tests/test_calc.py::test_neg",
        "tests/test_calc.py::test_sub",
    ]
    assert row["base_commit"] == mined.shas["docs"] and row["repo_url"] == str(mined.repo)
    assert "calc/__init__.py" in row["patch"] and "tests/" not in row["patch"]
    assert "tests/test_calc.py" in row["test_patch"] and "calc/__init__" not in row["test_patch"]
    assert row["statement_source"] == "issue" and row["issue_numbers"] == [3]
    assert row["problem_statement"] == f"{ISSUE['title']}\n{ISSUE['body']}"
    assert row["instance_id"] == f"local__calc-{mined.shas['clean'][:10]}"


def test_flaky_test_dropped_and_statement_back_translated(mined):
    row = _tasks(mined)[mined.shas["flaky_and_fix"]]
    assert json.loads(row["FAIL_TO_PASS"]) == ["tests/test_more.py::test_mul"]
    assert json.loads(row["PASS_TO_PASS"]) == []
    assert row["flaky_tests"] == ["tests/test_more.py::test_flaky"]
    assert row["statement_source"] == "model" and row["problem_statement"] == MODEL_ISSUE
    prompts = [r["messages"][-1]["content"] for r in mined.model_requests]
    asked = [p for p in prompts if "tests/test_more.py::test_mul" in p]
    assert len(asked) == 1 and "assert 5 == 6" in asked[0]  # the failing output reached the model


def test_resume_after_kill_skips_finished_commits(mined):
    import sqlite3

    with sqlite3.connect(mined.run_dir / "mine.sqlite") as con:
        updated = dict(con.execute("SELECT sha, updated FROM commits"))
    for sha, stamp in mined.finished_before_kill.items():
        assert updated[sha] == stamp  # not validated again
    assert f"{6 - len(mined.finished_before_kill)} candidates to validate" in mined.resumed_output
    owner = f"swescale.owner={__import__('socket').gethostname()}:{mined.killed_pid}"
    assert docker.from_env().containers.list(all=True, filters={"label": owner}) == []


def test_second_run_skips_everything(mined):
    at = mined.args.index("--model")
    result = CliRunner().invoke(app, mined.args[:at] + mined.args[at + 2 :])  # the model is not needed
    assert result.exit_code == 0, result.output
    assert "0 candidates to validate" in result.output
    assert _funnel(mined)["stages"]["validated"] == 2


def test_bench_eval_grades_mined_tasks(mined, tmp_path):
    tasks = load_tasks(mined.output)  # what bench run and select read
    assert len(tasks) == 2 and all(t.FAIL_TO_PASS for t in tasks)
    for name, patch_of in (("gold", lambda t: t.patch), ("empty", lambda t: "")):
        preds = tmp_path / f"{name}.jsonl"
        preds.write_text(
            "".join(
                json.dumps(
                    {"instance_id": t.instance_id, "model_name_or_path": name, "model_patch": patch_of(t)}
                )
                + "\n"
                for t in tasks
            )
        )
        args = ["bench", "eval", "--dataset", str(mined.output), "--predictions", str(preds)]
        result = CliRunner().invoke(
            app, [*args, "--run-dir", str(tmp_path / "eval"), *mined.args[-len(OVERRIDES) :]]
        )
        assert result.exit_code == 0, result.output
        summary = json.loads(result.stdout[result.stdout.index("{") :])
        expected = sorted(t.instance_id for t in tasks) if name == "gold" else []
        assert summary["resolved_ids"] == expected
    # the gate ran the empty patch itself: every FAIL_TO_PASS test failed
    for task in tasks:
        report = json.loads(
            (mined.run_dir / "check" / "empty" / task.instance_id / "report.json").read_text()
        )
        status = report[task.instance_id]["tests_status"]["FAIL_TO_PASS"]
        assert status["success"] == [] and status["failure"] == task.FAIL_TO_PASS


def test_bad_input_is_a_clear_error(tmp_path, history):
    not_repo = tmp_path / "nothing"
    not_repo.mkdir()
    result = CliRunner().invoke(
        app, ["env", "mine", "--repo", str(not_repo), "--output", str(tmp_path / "t.jsonl")]
    )
    assert result.exit_code == 2 and "cannot mine" in result.output
    repo, _ = history
    bad = tmp_path / "issues.jsonl"
    bad.write_text('{"title": "no number"}\n')
    args = ["env", "mine", "--repo", str(repo), "--output", str(tmp_path / "t.jsonl"), "--issues", str(bad)]
    result = CliRunner().invoke(app, [*args, "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 2 and f"{bad}:1: no number" in result.output
    assert not (tmp_path / "t.jsonl").exists()
