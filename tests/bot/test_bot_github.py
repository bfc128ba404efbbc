"""`swescale bot github` without Docker work: events that ask for nothing, and failures that must be told."""

from __future__ import annotations

import subprocess

import pytest
from bot_payloads import REPO, issue_comment, labeled
from bot_support import (
    ISSUE_BODY,
    ISSUE_TITLE,
    TOKEN,
    bot_env,
    files_holding,
    git,
    run_bot_github,
    swescale_cmd,
)

from swescale.demo.scripted_server import Reply, ScriptedServer


def test_an_outsiders_solve_command_is_ignored_and_nothing_runs(github, origin, workspace, tmp_path):
    payload = issue_comment(
        str(origin), 1, ISSUE_TITLE, ISSUE_BODY, "/swescale solve", commenter="stranger", association="NONE"
    )
    with ScriptedServer(lambda request: Reply(content="never asked")) as model:
        proc = run_bot_github(github, "issue_comment", payload, workspace, tmp_path, "--model", model.url)
        assert model.requests == []  # no model call
    assert proc.returncode == 0, proc.stderr
    assert "nothing to do" in proc.stderr and "association NONE" in proc.stderr
    assert github.requests == []  # no reaction, no comment, not even a read
    assert not (tmp_path / "runs").exists()
    assert git(origin, "branch", "--list", "swescale/*") == ""


@pytest.mark.docker  # the job's preflight pings the engine before the model server
def test_a_failure_is_told_on_the_issue_and_exits_1(github, origin, workspace, tmp_path):
    payload = labeled(str(origin), 1, ISSUE_TITLE, ISSUE_BODY, sender="maintainer")
    proc = run_bot_github(github, "issues", payload, workspace, tmp_path, "--model", "http://127.0.0.1:9/v1")
    assert proc.returncode == 1, proc.stderr
    ack, failure = github.comments_on(REPO, 1)
    assert "actions-4242" in ack and "👀" in ack and [r["content"] for r in github.reactions] == ["eyes"]
    assert "actions-4242" in failure and "failed" in failure and "does not answer GET /models" in failure
    assert "/swescale solve" in failure and github.opened_pulls(REPO) == []
    assert TOKEN not in proc.stdout + proc.stderr and not files_holding(tmp_path / "runs", TOKEN)


def test_a_missing_or_broken_event_cannot_start(github, workspace, tmp_path):
    env = bot_env(github, GITHUB_WORKSPACE=str(workspace))
    proc = subprocess.run(swescale_cmd("bot", "github"), env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "GITHUB_EVENT_PATH" in proc.stderr
    (tmp_path / "bad.json").write_text("{not json")
    env.update(GITHUB_EVENT_PATH=str(tmp_path / "bad.json"), GITHUB_EVENT_NAME="issues")
    proc = subprocess.run(swescale_cmd("bot", "github"), env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "cannot read the event file" in proc.stderr
    assert github.requests == []
