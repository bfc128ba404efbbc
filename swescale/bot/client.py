"""The bot's GitHub REST client: PyGithub with a configurable API URL (GitHub Enterprise, or the tests'
local stand-in), authenticated by a token or as a GitHub App installation."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from github import Auth, Github, GithubException, GithubIntegration

from swescale.bot.config import BotConfig
from swescale.bot.events import Trigger
from swescale.bot.redact import redactor

log = logging.getLogger(__name__)
PUBLIC_API = "https://api.github.com"


class BotError(RuntimeError):
    """A bot step failed in a way worth telling the issue about."""


class BotAuthError(BotError):
    """No usable credentials (no token, no App key) or the App installation cannot be found."""


def api_url(config: BotConfig) -> str:
    return (config.api_url or os.environ.get("GITHUB_API_URL") or PUBLIC_API).rstrip("/")


@dataclass
class PullInfo:
    number: int
    title: str
    body: str
    base_ref: str
    base_sha: str
    head_sha: str


def app_token(config: BotConfig, repo: str, installation_id: int | None = None) -> str:
    """An installation access token of the configured GitHub App for `repo` (owner/name)."""
    if not (config.app_id and config.app_private_key_file):
        raise BotAuthError("no GitHub App configured (bot.app_id, bot.app_private_key_file)")
    try:
        key = Path(config.app_private_key_file).read_text()
    except OSError as exc:
        raise BotAuthError(f"cannot read the App's private key: {exc}") from exc
    integration = GithubIntegration(auth=Auth.AppAuth(config.app_id, key), base_url=api_url(config))
    try:
        if installation_id is None:
            owner, name = repo.split("/", 1)
            installation_id = integration.get_repo_installation(owner, name).id
        token = integration.get_access_token(installation_id).token
    except GithubException as exc:
        raise BotAuthError(f"GitHub App {config.app_id} has no token for {repo}: {exc.status}") from exc
    finally:
        integration.close()
    redactor.add(token)
    return token


class GitHubClient:
    """The calls the bot makes. Objects are lazy: a write is one request, no fetch before it."""

    def __init__(self, token: str, config: BotConfig):
        if not token:
            raise BotAuthError("no GitHub token: set GITHUB_TOKEN or configure a GitHub App")
        redactor.add(token)
        self.token = token
        self.config = config
        self.gh = Github(
            auth=Auth.Token(token),
            base_url=api_url(config),
            lazy=True,
            timeout=30,
            seconds_between_writes=config.write_interval or None,
        )

    @classmethod
    def for_trigger(cls, trigger: Trigger, config: BotConfig, token: str | None) -> GitHubClient:
        """Token auth when a token is given, else the App's installation token for the trigger's repo."""
        if not token:
            token = app_token(config, trigger.repo, trigger.installation_id)
        return cls(token, config)

    def _limit(self, body: str) -> str:
        body = redactor.scrub(body)
        limit = self.config.comment_limit
        return body if len(body) <= limit else body[: limit - 40] + "\n\n… (cut to fit GitHub's limit)\n"

    def comment(self, repo: str, number: int, body: str) -> str:
        """Post a comment on an issue or pull request; returns its URL."""
        made = self.gh.get_repo(repo).get_issue(number).create_comment(self._limit(body))
        return made.html_url or ""

    def react(self, trigger: Trigger, content: str = "eyes") -> None:
        repo = self.gh.get_repo(trigger.repo)
        if trigger.comment_id is None:
            repo.get_issue(trigger.number).create_reaction(content)
        elif trigger.comment_kind == "review":
            repo.get_pull(trigger.number).get_review_comment(trigger.comment_id).create_reaction(content)
        else:
            repo.get_issue(trigger.number).get_comment(trigger.comment_id).create_reaction(content)

    def acknowledge(self, trigger: Trigger, text: str) -> None:
        """The eyes reaction (on the asking comment, or on the issue for a label) and a comment."""
        try:
            self.react(trigger)
        except GithubException as exc:  # a missing reaction must not stop the job
            log.warning("eyes reaction on %s#%s failed: %s", trigger.repo, trigger.number, exc.status)
        self.comment(trigger.repo, trigger.number, text)

    def default_branch(self, repo: str) -> str:
        return self.gh.get_repo(repo).default_branch

    def issue_text(self, repo: str, number: int) -> tuple[str, str]:
        issue = self.gh.get_repo(repo).get_issue(number)
        return issue.title or "", issue.body or ""

    def pull(self, repo: str, number: int) -> PullInfo:
        pr = self.gh.get_repo(repo).get_pull(number)
        return PullInfo(
            number=number,
            title=pr.title or "",
            body=pr.body or "",
            base_ref=pr.base.ref,
            base_sha=pr.base.sha,
            head_sha=pr.head.sha,
        )

    def open_draft_pr(self, repo: str, head: str, base: str, title: str, body: str) -> str:
        """Open a draft PR from branch `head` into `base`; when one is open already, update its body.
        Returns the PR's URL."""
        handle = self.gh.get_repo(repo)
        try:
            pr = handle.create_pull(base=base, head=head, title=title, body=self._limit(body), draft=True)
            return pr.html_url
        except GithubException as exc:
            if exc.status != 422:
                raise
        owner = repo.split("/", 1)[0]
        for pr in handle.get_pulls(state="open", head=f"{owner}:{head}"):
            pr.edit(body=self._limit(body))
            return pr.html_url
        raise BotError(f"cannot open a pull request from {head} into {base} in {repo}")
