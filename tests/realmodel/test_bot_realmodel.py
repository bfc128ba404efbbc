"""`swescale bot github --servers servers.yaml` on a labelled issue, against the GitHub REST stand-in, with a
real model (SmolLM2-135M on llama.cpp): the job ends with a draft PR or an abstention comment, never a
crash, and records what it spent; the histories it sent would be valid for vLLM."""

from __future__ import annotations

import json
import re

import pytest
from bot_payloads import REPO, labeled
from bot_standin import GitHubStandIn
from bot_support import ISSUE_BODY, ISSUE_TITLE, TOKEN, git, run_bot_github
from realmodel_cli import SMALL_RUN
from recording_proxy import vllm_history_problems

from swescale.demo.replay import make_demo_repo

pytestmark = [pytest.mark.realmodel, pytest.mark.docker, pytest.mark.timeout(600)]
SMALL_BOT = [o for o in SMALL_RUN if not o.startswith(("solve.trajectories", "verifier.test_trajectories"))]
SMALL_BOT += ["solve.trajectories=1", "verifier.test_trajectories=0"]
"""One fix trajectory, no test writer (`solve` covers those): about four model calls."""


def test_labelled_issue_ends_with_a_draft_pr_or_an_abstention_comment(real_model, base_image, tmp_path):
    source = make_demo_repo(tmp_path / "source")
    origin, workspace = tmp_path / "origin.git", tmp_path / "workspace"
    git(tmp_path, "clone", "--quiet", "--bare", str(source), str(origin))
    git(tmp_path, "clone", "--quiet", str(origin), str(workspace))
    payload = labeled(str(origin), 1, ISSUE_TITLE, ISSUE_BODY, sender="maintainer")
    with GitHubStandIn(TOKEN) as github:
        github.add_repo(REPO)
        github.add_issue(REPO, 1, ISSUE_TITLE, ISSUE_BODY)
        proc = run_bot_github(
            github, "issues", payload, workspace, tmp_path, "--servers", str(real_model.servers), *SMALL_BOT
        )
        output = proc.stdout + proc.stderr
        assert "Traceback" not in output, output[-6000:]
        assert proc.returncode == 0, output[-6000:]
        pulls, comments = github.opened_pulls(REPO), github.comments_on(REPO, 1)
    state = dict(line.split("=", 1) for line in (tmp_path / "outputs").read_text().splitlines())
    assert state["state"] in ("pr", "abstained"), state
    if state["state"] == "pr":  # a 135M model rarely gets here, but a patch that passed selection is a PR
        (pull,) = pulls
        assert pull["draft"] and pull["html_url"] in comments[-1]
        told = pull["body"]
    else:
        assert pulls == [] and git(origin, "branch", "--list", "swescale/*") == ""
        told = comments[-1]
        assert "abstained" in told, told
    assert int(re.search(r"\*\*Tokens:\*\* ([0-9,]+)", told).group(1).replace(",", "")) > 0, told
    assert TOKEN not in output

    (run_dir,) = (tmp_path / "runs").iterdir()
    run = json.loads((run_dir / "run.json").read_text())
    assert run["usage"]["calls"] >= 1 and run["usage"]["prompt_tokens"] > 0, run["usage"]
    assert set(run["usage_by_server"]) == {real_model.url}
    sent = [json.loads(p.read_text()) for p in (run_dir / "trajectories").glob("*.json")]
    assert sent, "no trajectory was saved"
    problems = [p for trajectory in sent for p in vllm_history_problems(trajectory)]
    assert not problems, "\n".join(problems)
