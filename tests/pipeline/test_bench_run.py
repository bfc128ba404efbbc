"""`swescale bench run` then `swescale bench eval`: the researcher's loop, end to end, resumable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pipeline_scripts import RIGHT_FIX, SESSION

from swescale.demo.replay import JudgeReplay, make_demo_repo
from swescale.demo.scripted_server import ConversationPolicy, Router, ScriptedServer, system_contains

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]


ISSUE_TEXT = (
    "median([1, 2, 3, 4]) returns 3; the median of an even number of values is the mean of the middle two."
)


def _dataset(tmp_path: Path) -> Path:
    """A SWE-bench-style task on the demo repository, with a hidden test the agent never sees."""
    repo = make_demo_repo(tmp_path / "minimath")
    base = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()
    tests = repo / "tests" / "test_stats.py"
    original = tests.read_text()
    tests.write_text(original + "\n\ndef test_median_even():\n    assert median([1, 2, 3, 4]) == 2.5\n")
    test_patch = subprocess.run(["git", "diff"], cwd=repo, capture_output=True, text=True).stdout
    tests.write_text(original)
    row = {
        "instance_id": "local__minimath-1",
        "repo": "local/minimath",
        "repo_url": str(repo),
        "base_commit": base,
        "problem_statement": ISSUE_TEXT,
        "test_patch": test_patch,
        "FAIL_TO_PASS": json.dumps(["tests/test_stats.py::test_median_even"]),
        "PASS_TO_PASS": json.dumps(
            ["tests/test_stats.py::test_mean", "tests/test_stats.py::test_median_odd"]
        ),
        "version": "0.1",
    }
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps(row) + "\n")
    return path


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "swescale.cli.main", *args], capture_output=True, text=True, timeout=600
    )


def test_bench_run_predictions_resolve_under_bench_eval_and_resume(demo_env, tmp_path):
    dataset = _dataset(tmp_path)
    preds = tmp_path / "preds.jsonl"
    policy = Router(
        [(system_contains("You are a patch verifier"), JudgeReplay(SESSION["judge"]))],
        default=ConversationPolicy([RIGHT_FIX]),
    )
    common = [
        "--dataset",
        str(dataset),
        "--run-dir",
        str(tmp_path / "runs"),
        "--output",
        str(preds),
        "solve.trajectories=1",
        "verifier.test_trajectories=0",
        "model.tool_format=native",
    ]
    with ScriptedServer(policy) as server:
        first = _cli("bench", "run", "--model", server.url, *common)
        assert first.returncode == 0, first.stderr[-3000:]
        calls = len(server.requests)
        again = _cli("bench", "run", "--model", server.url, *common)
        assert again.returncode == 0 and "done in an earlier run" in again.stderr
        assert len(server.requests) == calls  # the finished instance was not solved again
    [prediction] = [json.loads(line) for line in preds.read_text().splitlines()]
    assert prediction["model_name_or_path"] == "swescale" and "minimath/stats.py" in prediction["model_patch"]
    assert "reproduce_issue.py" not in prediction["model_patch"]
    graded = _cli(
        "bench",
        "eval",
        "--dataset",
        str(dataset),
        "--predictions",
        str(preds),
        "--run-dir",
        str(tmp_path / "eval"),
    )
    assert graded.returncode == 0, graded.stderr[-3000:]
    report = json.loads((tmp_path / "eval" / "swescale.report.json").read_text())
    assert report["resolved_ids"] == ["local__minimath-1"]
