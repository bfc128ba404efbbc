"""The GitHub client against the REST stand-in (token and GitHub App auth), and host-side git with the
token only in the credential environment of one command (pushed over HTTP to a server demanding it)."""

from __future__ import annotations

import subprocess

import pytest
from bot_git_http import GitHttpServer
from bot_payloads import REPO
from bot_standin import GitHubStandIn
from bot_support import ISSUE_TITLE, TOKEN, git
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from swescale.bot import gitops
from swescale.bot.client import BotAuthError, GitHubClient, app_token
from swescale.bot.config import BotConfig
from swescale.bot.events import Trigger


def trigger(**kw) -> Trigger:
    return Trigger(kind="solve", repo=REPO, number=1, actor="maintainer", event="issues", **kw)


def test_token_client_acknowledges_comments_and_opens_a_draft_pr(github):
    client = GitHubClient(TOKEN, BotConfig(write_interval=0, api_url=github.url))
    client.acknowledge(trigger(), "on it")
    client.acknowledge(trigger(comment_id=55, comment_kind="issue"), "again")
    assert [(r["kind"], r["content"]) for r in github.reactions] == [
        ("issue", "eyes"),
        ("issue_comment", "eyes"),
    ]
    assert github.comments_on(REPO, 1) == ["on it", "again"]
    assert client.default_branch(REPO) == "main"
    assert client.issue_text(REPO, 1)[0] == ISSUE_TITLE
    url = client.open_draft_pr(REPO, head="swescale/issue-1", base="main", title="Fixes #1", body="first")
    again = client.open_draft_pr(REPO, head="swescale/issue-1", base="main", title="Fixes #1", body="second")
    (pull,) = github.opened_pulls(REPO)
    assert url == again == pull["html_url"] and pull["draft"] and pull["body"] == "second"
    assert all(r.auth == f"token {TOKEN}" for r in github.requests)


def test_wrong_token_is_refused_by_the_api(github):
    client = GitHubClient("ghs_wrong_token_000000", BotConfig(write_interval=0, api_url=github.url))
    with pytest.raises(Exception, match="401"):
        client.comment(REPO, 1, "hello")
    with pytest.raises(BotAuthError):
        GitHubClient("", BotConfig(write_interval=0, api_url=github.url))


def test_long_comments_are_cut_to_githubs_limit(github):
    client = GitHubClient(TOKEN, BotConfig(write_interval=0, api_url=github.url, comment_limit=1000))
    client.comment(REPO, 1, "x" * 5000)
    (body,) = github.comments_on(REPO, 1)
    assert len(body) <= 1000 and body.rstrip().endswith("(cut to fit GitHub's limit)")


def test_github_app_auth_turns_app_id_and_key_into_an_installation_token(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "app.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with GitHubStandIn("", app_id=4242, app_public_key=public.decode()) as github:
        github.add_repo(REPO)
        github.add_issue(REPO, 1, "t", "b")
        config = BotConfig(write_interval=0, api_url=github.url, app_id=4242, app_private_key_file=str(pem))
        client = GitHubClient.for_trigger(trigger(), config, token=None)  # no installation id: looked up
        client.comment(REPO, 1, "as the App")
        with_id = GitHubClient.for_trigger(trigger(installation_id=9), config, token=None)
        assert github.installation_tokens == [client.token, with_id.token]
        assert github.comments_on(REPO, 1) == ["as the App"]
        assert [r.path for r in github.requests[:2]] == [
            f"/repos/{REPO}/installation",
            "/app/installations/77/access_tokens",
        ]
        wrong = BotConfig(write_interval=0, api_url=github.url, app_id=1, app_private_key_file=str(pem))
        with pytest.raises(BotAuthError, match="has no token"):
            app_token(wrong, REPO)


def test_push_over_http_uses_the_token_only_through_the_credential_helper(origin, tmp_path):
    with GitHttpServer(origin.parent, TOKEN) as server:
        url = f"{server.url}/{origin.name}"
        workspace = gitops.ensure_clone(url, tmp_path / "ws", TOKEN)
        base = gitops.default_branch_commit(workspace, "main", TOKEN)
        patch = "diff --git a/NOTES b/NOTES\nnew file mode 100644\n--- /dev/null\n+++ b/NOTES\n@@ -0,0 +1 @@\n+hello\n"
        with gitops.clean_checkout(workspace, base) as checkout:
            commit = gitops.commit_patch(checkout, patch, "Fix #1", "swescale[bot]", "bot@example.invalid")
        gitops.push(workspace, commit, "swescale/issue-1", TOKEN)
        with pytest.raises(gitops.GitError) as refused:
            gitops.push(workspace, commit, "swescale/issue-2", "ghs_not_the_token_000")
    assert git(origin, "rev-parse", "refs/heads/swescale/issue-1").strip() == commit
    assert git(origin, "show", f"{commit}:NOTES") == "hello\n"
    assert git(origin, "rev-parse", f"{commit}^").strip() == base  # made on a clean checkout of main
    assert TOKEN not in str(refused.value)
    assert any(a.startswith("Basic ") for a in server.authorizations)
    for path in workspace.joinpath(".git").rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    assert not list(workspace.parent.glob("swescale-commit-*"))
    assert (
        subprocess.run(
            ["git", "worktree", "list"], cwd=workspace, capture_output=True, text=True
        ).stdout.count("\n")
        == 1
    )
