"""The composite action and the example workflow: the action's script turns its inputs into a
`swescale bot github` call that honours them (run here with bash against the REST stand-in)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from bot_payloads import REPO, labeled, write
from bot_serve import free_port
from bot_support import ISSUE_BODY, ISSUE_TITLE, bot_env

ROOT = Path(__file__).resolve().parents[2]


def test_action_inputs_and_steps_are_declared():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    for name in (
        "model",
        "config",
        "trajectories",
        "generations",
        "trigger-label",
        "allowed-associations",
        "cost-cap",
    ):
        assert action["inputs"][name]["description"], name
    assert action["inputs"]["trigger-label"]["default"] == "swescale"
    assert action["inputs"]["allowed-associations"]["default"] == "OWNER,MEMBER,COLLABORATOR"
    bot = next(s for s in action["runs"]["steps"] if s.get("id") == "bot")
    assert "${{" not in bot["run"]  # inputs reach the script only through its environment


def test_example_workflow_listens_to_the_three_events_with_write_permissions():
    workflow = yaml.safe_load((ROOT / "examples" / "github" / "swescale.yml").read_text())
    events = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert set(events) == {"issues", "issue_comment", "pull_request_review_comment"}
    assert events["issues"]["types"] == ["labeled"]
    assert workflow["permissions"] == {"contents": "write", "issues": "write", "pull-requests": "write"}
    job = workflow["jobs"]["swescale"]
    assert "self-hosted" in job["runs-on"] and "docker" in job["runs-on"]
    checkout = job["steps"][0]
    assert (
        checkout["uses"].startswith("actions/checkout") and checkout["with"]["persist-credentials"] is False
    )


@pytest.mark.docker  # the job's preflight pings the engine before the model server
def test_action_script_passes_label_associations_budgets_and_servers(github, origin, workspace, tmp_path):
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    script = next(s for s in action["runs"]["steps"] if s.get("id") == "bot")["run"]
    event = write(
        labeled(str(origin), 1, ISSUE_TITLE, ISSUE_BODY, label="fix-me", sender="m"), tmp_path / "e.json"
    )
    closed = f"http://127.0.0.1:{free_port()}/v1"
    env = bot_env(
        github,
        GITHUB_EVENT_PATH=str(event),
        GITHUB_EVENT_NAME="issues",
        GITHUB_WORKSPACE=str(workspace),
        GITHUB_RUN_ID="7",
        GITHUB_OUTPUT=str(tmp_path / "out"),
        SWESCALE_CMD=f"{sys.executable} -m swescale.cli.main",
        INPUT_MODEL=f"{closed},{closed}",
        INPUT_CONFIG="",
        INPUT_TRAJECTORIES="3",
        INPUT_GENERATIONS="2",
        INPUT_TRIGGER_LABEL="fix-me",
        INPUT_ALLOWED_ASSOCIATIONS="OWNER,MEMBER",
        INPUT_COST_CAP="5000",
    )
    proc = subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert proc.returncode == 1, proc.stderr[
        -3000:
    ]  # the label was honoured; the closed servers fail the job
    ack, failure = github.comments_on(REPO, 1)
    assert "3 trajectories x 2 generation(s) within 5,000 tokens" in ack
    assert "does not answer GET /models" in failure and closed in failure
    assert (tmp_path / "out").read_text().startswith("state=failed\n")
    outsider = labeled(str(origin), 1, ISSUE_TITLE, ISSUE_BODY, label="swescale", sender="m")
    write(outsider, event)  # the default label is not the configured one any more
    proc = subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert proc.returncode == 0 and "is not the trigger label 'fix-me'" in proc.stderr
