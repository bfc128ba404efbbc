"""`swescale solve --servers servers.yaml` on the demo task with a real model (SmolLM2-135M on llama.cpp):
it ends with a patch or a classified abstention or error, never a traceback or a hang, and run.json
records what the model was asked and answered."""

from __future__ import annotations

import json

import pytest
from realmodel_cli import SMALL_RUN, swescale

from agent.result import ExitStatus
from swescale.demo.replay import DATA, make_demo_repo

pytestmark = [pytest.mark.realmodel, pytest.mark.docker, pytest.mark.timeout(600)]


def test_solve_on_the_demo_task_ends_classified_with_usage_recorded(real_model, base_image, tmp_path):
    repo = make_demo_repo(tmp_path / "repo")
    run_dir = tmp_path / "run"
    args = ["solve", "--servers", str(real_model.servers), "--repo", str(repo)]
    args += ["--issue", str(DATA / "issue.md"), "--run-dir", str(run_dir), *SMALL_RUN]
    solved = swescale(*args, cwd=tmp_path, timeout=480)  # a hang fails here
    assert "Traceback" not in solved.stdout, solved.stdout
    assert solved.returncode in (0, 3), solved.stdout  # a patch, or an abstention with its reason
    assert ("abstained:" in solved.stdout) == (solved.returncode == 3), solved.stdout

    run = json.loads((run_dir / "run.json").read_text())
    assert run["abstained"] == (solved.returncode == 3)
    assert run["reason"]
    usage = run["usage"]
    assert usage["calls"] >= 2 and usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert set(run["usage_by_server"]) == {real_model.url}
    results = [json.loads(line) for line in (run_dir / "trajectories.jsonl").read_text().splitlines()]
    assert sorted(r["trajectory_id"] for r in results if r["mode"] == "fix") == ["g0-t0", "g0-t1"]
    for result in results:  # each ended for a reason swescale names, with what it cost
        assert result["exit_status"] in set(ExitStatus), result
        assert result["exit_status"] in ("submitted", "step_limit") or result["error"], result
        assert result["usage"]["calls"] >= 1, result
