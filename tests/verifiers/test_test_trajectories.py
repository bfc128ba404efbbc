"""Dedicated test-writing trajectories (agent mode="test") feed generated tests into verification."""

from __future__ import annotations

import pytest

from agent.model import ModelClient
from swescale.config import ModelConfig, SwescaleConfig
from swescale.demo.scripted_server import ConversationPolicy, ScriptedServer
from verifiers.collect import run_test_trajectories
from verifiers.run import verify

pytestmark = pytest.mark.docker

SCRIPTS = [
    "from calc.ops import mean\nassert mean([]) == 0.0, 'empty mean'\n",
    "import sys\nfrom calc.ops import mean\ntry:\n    ok = mean([]) == 0.0\nexcept ZeroDivisionError:\n"
    "    ok = False\nsys.exit(0 if ok else 1)\n",
]


def _write(script: str) -> dict:
    command = f"cat > /testbed/reproduce_issue.py <<'EOF'\n{script}EOF"
    return {"tool_calls": [{"name": "bash", "arguments": {"command": command}}]}


def test_test_trajectories_write_distinguishing_tests(task, env, candidates, tmp_path, make_pool):
    config = SwescaleConfig()
    config.agent.context_tokens = 0
    config.verifier.test_trajectories = 2
    policy = ConversationPolicy([[_write(s)] for s in SCRIPTS])
    pool = make_pool()
    with ScriptedServer(policy) as server:
        model = ModelClient(ModelConfig(urls=[server.url], name="scripted", tool_format="native", retries=0))
        tests = run_test_trajectories(task, env, model, pool, config, tmp_path / "trajectories")
    assert sorted(t.script for t in tests) == sorted(SCRIPTS)
    assert {t.test_id for t in tests} == {"testgen:testgen-0", "testgen:testgen-1"}
    assert pool.started == 2
    table = verify(task, env, candidates, tests, config, pool=make_pool(), out_dir=tmp_path, judge=False)
    assert all(table.test(t.test_id).distinguishing for t in tests)
    assert table.ranking()[0] == "A"
