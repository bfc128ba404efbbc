"""Exports read as mini-swe-agent's and SWE-agent's readers read them.

What each reader accesses (quoted by path, their code is not copied):
- mini-swe-agent 2.x, minisweagent/run/utilities/inspector.py: a `*.traj.json` dict with `messages`; a step
  starts at each assistant message (or one whose `extra.actions` is set); each message's text through
  minisweagent/models/utils/content_string.py `get_content_string` (`content` a string, `tool_calls[].function
  .arguments`). minisweagent/agents/default.py `serialize`: `info.model_stats.{instance_cost, api_calls}`,
  `info.exit_status`, `info.submission`, `trajectory_format: mini-swe-agent-1.1`, a last `exit` message.
- SWE-agent, sweagent/types.py `AgentRunResult` (`info: AgentInfo`, `trajectory: list[TrajectoryStep]`, a
  TypedDict of action, observation, response, state, thought, execution_time, query, extra_info) and
  sweagent/inspector/server.py `load_content`: `history[].role/content`, assistant items' `action`,
  `info.exit_status` (`submitted...` needs `info.submission`), `info.model_stats.{tokens_sent, tokens_received,
  api_calls, instance_cost}`.

mini-swe-agent installs here: its own inspector loads the export too, run by the python of the venv
scripts/bootstrap makes for it (`.venv-mini`, mini-swe-agent 2.4.6) or the one MINI_SWE_AGENT_PYTHON names;
without either the test is skipped on a developer machine and fails when CI=true. `sweagent` does not install from the package index
(a dependency is missing), so SWE-agent's model is rebuilt below from sweagent/types.py.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter
from synthetic import bench_run, solve_run
from typing_extensions import TypedDict

from swescale.inspect.export import export


class TrajectoryStep(TypedDict):  # sweagent/types.py
    action: str
    observation: str
    response: str
    state: dict[str, str]
    thought: str
    execution_time: float
    query: list[dict[str, Any]]
    extra_info: dict[str, Any]


class AgentInfo(TypedDict, total=False):  # sweagent/types.py
    model_stats: dict[str, float]
    exit_status: str | None
    submission: str | dict[str, Any] | None


class AgentRunResult(BaseModel):  # sweagent/types.py
    info: AgentInfo
    trajectory: list[TrajectoryStep]


def _mini_steps(messages: list[dict]) -> list[list[dict]]:
    """The inspector's grouping of messages into pages (minisweagent/run/utilities/inspector.py)."""
    steps, current = [], []
    for message in messages:
        if message.get("extra", {}).get("actions") or message.get("role") == "assistant":
            steps.append(current)
            current = [message]
        else:
            current.append(message)
    return [*steps, current] if current else steps


def test_mini_export_has_what_mini_swe_agent_reads(tmp_path):
    run = solve_run(tmp_path / "run", trajectories=2, steps=5)
    files = export(run, "mini", tmp_path / "out")
    assert sorted(f.name for f in files) == ["g0-t0.traj.json", "g1-t1.traj.json"]
    data = json.loads(files[0].read_text())
    assert data["trajectory_format"] == "mini-swe-agent-1.1"
    info = data["info"]
    assert info["exit_status"] == "Submitted" and info["submission"].startswith("diff --git")
    assert (
        set(info["model_stats"]) == {"instance_cost", "api_calls"} and info["model_stats"]["api_calls"] == 5
    )
    messages = data["messages"]
    assert messages[-1] == {
        "role": "exit",
        "content": "Submitted",
        "extra": {"exit_status": "Submitted", "submission": info["submission"]},
    }
    assert len(_mini_steps(messages)) == 1 + 5  # the prompts, then one page per step
    first_call = next(m for m in messages if m.get("tool_calls"))
    assert first_call["extra"]["actions"][0]["command"].startswith("grep -rn f pkg")
    assert all(isinstance(m["content"], str) for m in messages)
    assert json.loads(files[1].read_text())["info"]["exit_status"] == "LimitsExceeded"  # step_limit


def test_sweagent_export_validates_as_agent_run_result_and_reads_as_its_inspector(tmp_path):
    run = solve_run(tmp_path / "run", trajectories=2, steps=5)
    files = export(run, "sweagent", tmp_path / "out")
    assert [f.suffix for f in files] == [".traj", ".traj"]
    data = json.loads(files[0].read_text())
    result = AgentRunResult.model_validate(data)
    TypeAdapter(list[TrajectoryStep]).validate_python(data["trajectory"], strict=True)
    assert len(result.trajectory) == 5 and result.info["exit_status"] == "submitted"
    assert result.info["submission"].startswith("diff --git")
    assert {"tokens_sent", "tokens_received", "api_calls", "instance_cost"} <= set(result.info["model_stats"])
    history = data["history"]
    assert next(h for h in history if h["role"] == "user")["content"].startswith("<issue>")
    assistant = [h for h in history if h["role"] == "assistant"]
    assert len(assistant) == 5 and all("action" in h for h in assistant)
    assert all(h["message_type"] in ("system_prompt", "observation", "action") for h in history)


def test_a_bench_run_exports_one_folder_per_instance(tmp_path):
    run = bench_run(tmp_path / "bench", instances=3, trajectories=2, steps=3)
    files = export(run, "sweagent", tmp_path / "out")
    assert {f.parent.name for f in files} == {"astropy__0", "django__1", "sympy__2"} and len(files) == 6


MINI_VENV_PYTHON = Path(__file__).parents[2] / ".venv-mini" / "bin" / "python"
"""mini-swe-agent's venv as scripts/bootstrap makes it."""


@pytest.fixture
def mini_swe_agent_python() -> str:
    """The python that imports mini-swe-agent: MINI_SWE_AGENT_PYTHON, else bootstrap's `.venv-mini`."""
    python = os.environ.get("MINI_SWE_AGENT_PYTHON") or str(MINI_VENV_PYTHON)
    if not Path(python).is_file():
        message = f"no mini-swe-agent python at {python} (scripts/bootstrap makes .venv-mini)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {message}")
        pytest.skip(message)
    return python


def test_mini_swe_agents_own_inspector_loads_the_export(tmp_path, mini_swe_agent_python):
    run = solve_run(tmp_path / "run", trajectories=2, steps=5)
    export(run, "mini", tmp_path / "out")
    script = (
        "import sys; from pathlib import Path\n"
        "from minisweagent.run.utilities.inspector import TrajectoryInspector\n"
        "from minisweagent.models.utils.content_string import get_content_string\n"
        "files = sorted(Path(sys.argv[1]).rglob('*.traj.json'))\n"
        "app = TrajectoryInspector(files)\n"
        "for i in range(len(files)):\n"
        "    app._i_trajectory = i; app._load_current_trajectory()\n"
        "    assert app.n_steps == 6, app.n_steps\n"
        "    [get_content_string(m) for step in app.steps for m in step]\n"
        "print('loaded', len(files))\n"
    )
    done = subprocess.run(
        [mini_swe_agent_python, "-c", script, str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "loaded 2" in done.stdout
