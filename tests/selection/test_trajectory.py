"""The selection trajectory in a real sandbox, driven by a ScriptedServer (fake only at the model boundary)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from agent.model import ModelClient
from envs.task import Task
from sandbox import SandboxPool
from selection.select import select
from selection.trajectory import run_selection_trajectory
from swescale.config import ModelConfig, SwescaleConfig
from swescale.demo.scripted_server import ConversationPolicy, ScriptedServer
from verifiers.table import Candidate, CandidateRow, Outcome, TestColumn, VerifierTable

pytestmark = pytest.mark.docker

PASS, FAIL = Outcome(exit_code=0, output_digest="ok"), Outcome(exit_code=1, output_digest="no")


def _setup():
    table = VerifierTable(
        instance_id="t",
        tests=[TestColumn(test_id="g", kind="generated", weight=1.0, reference=FAIL, distinguishing=True)],
        rows=[
            CandidateRow(candidate_id="a", patch_hash="a", outcomes={"g": PASS}, hybrid_score=0.8),
            CandidateRow(candidate_id="b", patch_hash="b", outcomes={"g": FAIL}, hybrid_score=0.4),
        ],
    )
    cands = [
        Candidate(candidate_id="a", patch="--- a/x\n+++ b/x\n@@ -1 +1 @@\n-1\n+2\n"),
        Candidate(candidate_id="b", patch="--- a/x\n+++ b/x\n@@ -1 +1 @@\n-1\n+3\n"),
    ]
    return table, cands


def _run(script, base_image, tmp_path):
    table, cands = _setup()
    decision = select(table, candidates=cands)
    assert decision.chosen == "a"
    config = SwescaleConfig()
    config.model = ModelConfig(tool_format="native", retries=0)
    task = Task(instance_id="t", problem_statement="x should be 3")
    env = SimpleNamespace(image=base_image, python="python3")
    with ScriptedServer(ConversationPolicy([script])) as server:
        config.model.urls = [server.url]
        out = run_selection_trajectory(
            task,
            env,
            decision,
            cands,
            config,
            ModelClient(config.model),
            SandboxPool(max_concurrent=1),
            tmp_path,
        )
        prompts = [m["content"] for m in server.requests[0]["messages"]]
    assert "x should be 3" in prompts[1] and "+3" in prompts[1]  # issue and diffs shown
    return out


def test_invalid_winner_keeps_ranking(base_image, tmp_path):
    out = _run(
        [
            {"tool_calls": [{"name": "bash", "arguments": {"command": "echo looked"}}]},
            {"tool_calls": [{"name": "select_winner", "arguments": {"candidate_id": "nonexistent"}}]},
        ],
        base_image,
        tmp_path,
    )
    assert out.chosen == "a" and out.best == "a"
    assert out.trajectory["named"] == "nonexistent" and "ranking stands" in out.trajectory["outcome"]
    assert out.trajectory["steps"] == 2
    assert (tmp_path / "selection_trajectory.json").is_file()
    assert (
        "looked" in (tmp_path / "selection_trajectory.json").read_text()
    )  # the bash tool ran in the sandbox


def test_valid_winner_overrides_ranking(base_image, tmp_path):
    out = _run(
        [{"tool_calls": [{"name": "select_winner", "arguments": {"candidate_id": "b"}}]}],
        base_image,
        tmp_path,
    )
    assert out.chosen == "b" and out.trajectory["outcome"] == "overrode a"
