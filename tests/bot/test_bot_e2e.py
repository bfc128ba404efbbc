"""The bot end to end with real Docker sandboxes, a scripted model server, real git (a bare `origin`) and the
GitHub REST stand-in: a labelled issue becomes a pushed branch and a draft PR with the evidence; an
unconvincing run becomes an abstention comment; `/swescale review` becomes one PR comment; the webhook
server runs a job queued before a restart."""

from __future__ import annotations

import json
import re
import signal

import pytest
from bot_payloads import REPO, issue_comment, labeled
from bot_serve import Serve
from bot_support import ISSUE_BODY, ISSUE_TITLE, TOKEN, files_holding, git, run_bot_github
from pipeline_scripts import LOWER_MIDDLE, OLD, RIGHT_FIX, SESSION, bash, hidden_check

from swescale.bot.redact import MASK
from swescale.demo.replay import JudgeReplay
from swescale.demo.scripted_server import (
    ConversationPolicy,
    Router,
    ScriptedServer,
    prompt_contains,
    system_contains,
)

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]
ENV_PROBE = bash("env | sort", "Which variables does the sandbox have?")
FIX_SETTINGS = (
    "model.tool_format=native",
    "model.retries=1",
    "verifier.test_trajectories=0",
    "sandbox.max_concurrent=4",
)


def policy(*scripts: list[dict], test_writers: list | None = None) -> Router:
    routes = [(system_contains("You are a patch verifier"), JudgeReplay(SESSION["judge"]))]
    if test_writers:
        routes.append(
            (prompt_contains("Your task is NOT to fix the issue"), ConversationPolicy(test_writers))
        )
    return Router(routes, default=ConversationPolicy(list(scripts)))


def bot_github(github, event: str, payload: dict, workspace, tmp_path, model_url: str, *args: str):
    return run_bot_github(
        github, event, payload, workspace, tmp_path, "--model", model_url, *FIX_SETTINGS, *args
    )


def test_labelled_issue_becomes_a_pushed_branch_and_a_draft_pr_with_evidence(
    demo_image, github, origin, workspace, tmp_path
):
    main = git(origin, "rev-parse", "main").strip()
    payload = labeled(str(origin), 1, ISSUE_TITLE, ISSUE_BODY, sender="maintainer")
    with ScriptedServer(policy([ENV_PROBE, *RIGHT_FIX], LOWER_MIDDLE)) as model:
        proc = bot_github(github, "issues", payload, workspace, tmp_path, model.url, "solve.trajectories=2")
    assert proc.returncode == 0, proc.stderr[-4000:]

    # the branch: one commit on top of main, by the bot, holding a real fix
    head = git(origin, "rev-parse", "refs/heads/swescale/issue-1").strip()
    assert git(origin, "rev-parse", f"{head}^").strip() == main
    assert git(origin, "log", "-1", "--format=%an|%s", head).strip() == "swescale[bot]|Fix #1: " + ISSUE_TITLE
    assert git(origin, "diff", "--name-only", main, head).split() == ["minimath/stats.py"]
    check = tmp_path / "check"
    git(tmp_path, "clone", "--quiet", "--branch", "main", str(origin), str(check))
    assert hidden_check(check, git(origin, "diff", main, head))

    # the draft PR and its evidence
    (pull,) = github.opened_pulls(REPO)
    assert pull["draft"] and pull["head"]["ref"] == "swescale/issue-1" and pull["base"]["ref"] == "main"
    assert pull["title"] == f"Fixes #1: {ISSUE_TITLE}"
    body = pull["body"]
    assert body.startswith("Fixes #1\n") and "actions-4242" in body
    tests = re.findall(
        r"^\| `(repro:[^`]+)`.*\| (❌ fail \(exit \d+\)|✅ pass) \| (❌ fail \(exit \d+\)|✅ pass) \|",
        body,
        re.M,
    )
    assert tests and any(
        original.startswith("❌") and patched.startswith("✅") for _, original, patched in tests
    )
    assert re.search(
        r"\*\*Regression tests:\*\* \d+ that pass on the original code.*: \d+ pass on this patch, 0 do not",
        body,
    )
    judge = float(re.search(r"\*\*Judge P\(YES\):\*\* ([0-9.]+)", body).group(1))
    confidence = float(re.search(r"\*\*confidence:\*\* ([0-9.]+)", body).group(1))
    assert judge > 0.9 and confidence >= 0.5
    assert "**Runner-ups:**" in body and re.search(r"\| `g0-t\d` \| 1 \|", body)  # the lower-middle patch
    assert int(re.search(r"\*\*Tokens:\*\* ([0-9,]+)", body).group(1).replace(",", "")) > 0
    assert "<details><summary>the diff</summary>" in body and "minimath/stats.py" in body

    # acknowledged first, then pointed at the PR; step outputs for the workflow
    ack, done = github.comments_on(REPO, 1)
    assert "actions-4242" in ack and "https://github.invalid/octo/minimath/actions/runs/4242" in ack
    assert pull["html_url"] in done
    assert [(r["kind"], r["content"]) for r in github.reactions] == [("issue", "eyes")]
    assert (tmp_path / "outputs").read_text() == f"state=pr\nurl={pull['html_url']}\n"

    # the token is nowhere: not in the sandbox, the run directory, the logs or the repositories
    assert TOKEN not in proc.stdout + proc.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert not files_holding(run_dir, TOKEN) and not files_holding(workspace / ".git", TOKEN)
    assert not files_holding(origin, TOKEN)
    probe = next(
        json.loads(p.read_text())
        for p in (run_dir / "trajectories").glob("g0-t*.json")
        if "env | sort" in p.read_text()
    )
    sandbox_env = next(
        m["content"]
        for m in probe["messages"]
        if m["role"] in ("tool", "user") and "PATH=" in str(m["content"])
    )
    assert "GITHUB" not in str(sandbox_env) and MASK not in str(
        sandbox_env
    )  # never there, so nothing was masked
    assert json.loads((run_dir / "run.json").read_text())["decision"]["chosen"]


def test_unconvincing_run_abstains_with_a_comment_and_no_pr(demo_image, github, origin, workspace, tmp_path):
    payload = issue_comment(
        str(origin), 1, ISSUE_TITLE, ISSUE_BODY, "/swescale solve", commenter="bob", association="MEMBER"
    )
    with ScriptedServer(policy(LOWER_MIDDLE, [bash("true", "Look first."), *LOWER_MIDDLE])) as model:
        proc = bot_github(
            github, "issue_comment", payload, workspace, tmp_path, model.url, "solve.trajectories=2"
        )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert github.opened_pulls(REPO) == [] and git(origin, "branch", "--list", "swescale/*") == ""
    assert [(r["kind"], r["content"]) for r in github.reactions] == [("issue_comment", "eyes")]
    ack, answer = github.comments_on(REPO, 1)
    assert "asked by @bob" in ack.lower()
    assert "abstained" in answer and "**Why:** abstain: confidence" in answer
    assert "<details><summary>the best candidate's diff" in answer and "(len(ordered) - 1) // 2" in answer
    assert float(re.search(r"\*\*Judge P\(YES\):\*\* ([0-9.]+)", answer).group(1)) < 0.1  # the judge said no
    assert (tmp_path / "outputs").read_text().startswith("state=abstained\n")


def test_review_command_posts_one_evidence_comment_and_never_approves(
    demo_image, github, origin, workspace, tmp_path
):
    # a contributor's branch with the right fix, and GitHub's pull ref for it
    contrib = tmp_path / "contrib"
    git(tmp_path, "clone", "--quiet", str(origin), str(contrib))
    stats = contrib / "minimath" / "stats.py"
    new = "    ordered = sorted(values)\n    middle = len(ordered) // 2\n    if len(ordered) % 2 == 0:\n        return (ordered[middle - 1] + ordered[middle]) / 2\n    return ordered[middle]"
    stats.write_text(stats.read_text().replace(OLD, new))
    git(
        contrib,
        "-c",
        "user.name=c",
        "-c",
        "user.email=c@example.invalid",
        "commit",
        "-qam",
        "Average the middle pair",
    )
    git(contrib, "push", "--quiet", "origin", "HEAD:refs/heads/fix", "HEAD:refs/pull/2/head")
    shas = (git(origin, "rev-parse", "fix").strip(), git(origin, "rev-parse", "main").strip())
    github.add_pull(REPO, 2, "Average the middle pair", "Fixes #1", head="fix", base="main", shas=shas)
    payload = issue_comment(
        str(origin),
        2,
        "Average the middle pair",
        "Fixes #1",
        "/swescale review",
        commenter="carol",
        association="COLLABORATOR",
        on_pull=True,
    )
    with ScriptedServer(policy(test_writers=SESSION["test_trajectories"])) as model:
        proc = bot_github(
            github, "issue_comment", payload, workspace, tmp_path, model.url, "verifier.test_trajectories=1"
        )
        writer_prompts = [
            json.dumps(r["messages"])
            for r in model.requests
            if "NOT to fix the issue" in json.dumps(r["messages"])
        ]
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert writer_prompts and all(
        "even-length" in p or "median" in p for p in writer_prompts
    )  # the linked issue's text
    ack, review = github.comments_on(REPO, 2)
    assert "reviewing #2" in ack
    assert review.startswith(
        "swescale review (run `actions-4242`) of #2 against its base: the evidence supports"
    )
    assert re.search(r"\| `testgen:[^`]+`.*\| ❌ fail \(exit 1\) \| ✅ pass \|", review)
    assert "**Judge P(YES):** 0.9" in review and "does not approve" in review
    assert not [r for r in github.requests if "/reviews" in r.path or r.path.endswith("/merge")]
    assert github.opened_pulls(REPO) == [] and github.comments_on(REPO, 1) == []


def test_webhook_job_queued_before_a_restart_opens_the_draft_pr(demo_image, github, origin, tmp_path):
    with ScriptedServer(policy(RIGHT_FIX)) as model:
        server = Serve(
            github,
            tmp_path / "state",
            tmp_path / "serve.log",
            "--model",
            model.url,
            *FIX_SETTINGS,
            "solve.trajectories=1",
        )
        try:
            server.start("bot.workers=0")
            assert (
                server.deliver(
                    "issues", labeled(str(origin), 1, ISSUE_TITLE, ISSUE_BODY, sender="m"), "d-1"
                ).status_code
                == 202
            )
            server.stop()
            server.start("bot.workers=1")
            server.wait_for(lambda: server.health()["jobs"] == {"done": 1}, timeout=600, what="the job")
        finally:
            server.stop(signal.SIGKILL)
    (pull,) = github.opened_pulls(REPO)
    assert pull["draft"] and "job-1" in pull["body"]
    assert git(origin, "rev-parse", "--verify", "refs/heads/swescale/issue-1")
    assert TOKEN not in server.log.read_text() and not files_holding(tmp_path / "state", TOKEN)
