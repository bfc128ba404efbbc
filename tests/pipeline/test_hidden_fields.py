"""Hidden fields never reach a model: `bench run` on a task whose gold patch, hidden tests and eval script
carry a unique marker; the marker is in no request the model server received, through every prompt path
(fix and test-writing trajectories with a careless user template, judge with the condensed trajectory,
refinement parents, the selection trajectory)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from pipeline_scripts import LOWER_MIDDLE, RIGHT_FIX, bash, solve_config, submit

from envs.datasets import load_tasks
from swescale.api import bench_run
from swescale.demo.replay import JudgeReplay, make_demo_repo
from swescale.demo.scripted_server import (
    ConversationPolicy,
    Router,
    ScriptedServer,
    prompt_contains,
    system_contains,
)

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]

MARKER = "HIDDEN-7f3a9c2e-MARKER"
ISSUE_TEXT = (
    "median([1, 2, 3, 4]) returns 3; the median of an even number of values is the mean of the middle two."
)
# A user's prompt folder that renders the whole task it is given (the templates get agent.templating.task_view).
CARELESS = {
    "instance.j2": "Task: {{ task }}\n<issue>\n{{ problem_statement }}\n</issue>\nFix it.\n{{ parents }}",
    "instance_test.j2": "Task: {{ task }}\n<issue>\n{{ problem_statement }}\n</issue>\n"
    "Your task is NOT to fix the issue, only to write {{ repro_script }}.",
}
TEST_SCRIPT = "import sys\nfrom minimath import median\nsys.exit(0 if median([1, 2, 3, 4]) == 2.5 else 1)\n"


def _dataset(tmp_path: Path) -> Path:
    repo = make_demo_repo(tmp_path / "minimath")
    base = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()
    row = {
        "instance_id": "local__minimath-hidden",
        "repo": "local/minimath",
        "repo_url": str(repo),
        "base_commit": base,
        "problem_statement": ISSUE_TEXT,
        "patch": f"diff --git a/minimath/stats.py b/minimath/stats.py\n+# gold {MARKER}\n",
        "test_patch": f"diff --git a/tests/test_stats.py b/tests/test_stats.py\n+def test_{MARKER}(): pass\n",
        "FAIL_TO_PASS": json.dumps([f"tests/test_stats.py::test_{MARKER}"]),
        "PASS_TO_PASS": json.dumps([f"tests/test_stats.py::test_mean_{MARKER}"]),
        "eval_script": f"echo {MARKER}",
        "version": "0.1",
    }
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps(row) + "\n")
    return path


def test_bench_run_sends_no_hidden_field_to_any_model(demo_env, tmp_path):
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    for name, text in CARELESS.items():
        (prompts / name).write_text(text)
    write_test = bash(f"cat > /testbed/reproduce_issue.py <<'EOF'\n{TEST_SCRIPT}EOF", "A test.")
    fixes = [
        RIGHT_FIX,
        LOWER_MIDDLE,
        [bash("ls", "Look first."), *RIGHT_FIX],
        [bash("ls -a", "Look."), *LOWER_MIDDLE],
    ]
    selection = ConversationPolicy(  # one selection trajectory per generation
        [
            [{"tool_calls": [{"name": "select_winner", "arguments": {"candidate_id": cid}}]}]
            for cid in ("g0-t0", "g1-t0")
        ]
    )
    policy = Router(
        [
            (
                system_contains("You are a patch verifier"),
                JudgeReplay([{"match": "", "reply": {"content": "YES"}}]),
            ),
            (system_contains("reviewing candidate fixes"), selection),
            (
                prompt_contains("Your task is NOT to fix the issue"),
                ConversationPolicy([[write_test, submit("Done.")]]),
            ),
        ],
        default=ConversationPolicy(fixes),
    )
    with ScriptedServer(policy) as server:
        config = solve_config(
            server.url,
            f"agent.prompts={prompts}",
            "solve.trajectories=2",
            "solve.generations=2",
            "solve.early_stop_judge=1.1",
            "verifier.test_trajectories=1",
            "verifier.judge_trajectory=true",
            "selection.selection_trajectory=true",
        )
        summary = bench_run(load_tasks(_dataset(tmp_path)), config, tmp_path / "runs")
        requests = list(server.requests)
    assert summary.done == 1 and not summary.errors, summary
    run = json.loads(next((tmp_path / "runs").rglob("run.json")).read_text())
    assert len(run["generations"]) == 2
    sent = json.dumps(requests)
    assert MARKER not in sent
    # every path was taken: the careless template rendered the task, the judge, parents and selection ran
    assert "local__minimath-hidden" in sent and '<attempt id=\\"g0-' in sent
    assert any("You are a patch verifier" in json.dumps(r["messages"][0]) for r in requests)
    assert any("agent_trajectory_summary" in json.dumps(r["messages"]) for r in requests)
    assert any("reviewing candidate fixes" in json.dumps(r["messages"][0]) for r in requests)
    assert any("NOT to fix" in json.dumps(r["messages"]) for r in requests)
