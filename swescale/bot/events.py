"""GitHub events to bot jobs: which events start work, for whom, and on what.

Triggers (payload shapes as GitHub documents them for webhooks and Actions):
- `issues` / `labeled` with the trigger label: solve the issue. When the labeller is the issue's author
  (an issue template can apply labels), the author's association must be allowed; anyone else who
  applies a label has triage access to the repository.
- `issue_comment` / `created` whose first line is `/swescale solve` (an issue) or `/swescale review` (a PR).
- `pull_request_review_comment` / `created` whose first line is `/swescale review`.
Comments are judged by `comment.author_association`; bots are never obeyed (no loops between bots).
The check happens here, before any API call, clone or sandbox.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel

from swescale.bot.config import BotConfig

SUPPORTED_EVENTS = ("issues", "issue_comment", "pull_request_review_comment")


class Trigger(BaseModel):
    """A job the bot accepted: solve an issue or review a pull request."""

    kind: Literal["solve", "review"]
    repo: str
    """owner/name."""
    number: int
    """Issue number (solve) or pull request number (review)."""
    actor: str
    """Who asked (the labeller or the comment's author)."""
    association: str = ""
    """The asker's author association, when the event gives it."""
    event: str
    title: str = ""
    body: str = ""
    comment_id: int | None = None
    """The comment that asked, when a comment asked (it gets the eyes reaction)."""
    comment_kind: Literal["issue", "review"] | None = None
    """Where that comment lives: an issue/PR conversation comment, or a review comment on a PR's diff."""
    clone_url: str = ""
    default_branch: str = ""
    installation_id: int | None = None
    """GitHub App installation that sent the event, if any."""


class Ignored(BaseModel):
    """An event the bot does nothing for, and why."""

    reason: str


def _command(body: str | None, prefix: str) -> str | None:
    """`/swescale solve ...` -> "solve"; None when the first non-empty line is not a command."""
    for line in (body or "").splitlines():
        line = line.strip()
        if not line:
            continue
        match = re.match(rf"{re.escape(prefix)}\s+(\w+)\b", line, re.IGNORECASE)
        return match.group(1).lower() if match else None
    return None


def _base(name: str, payload: dict[str, Any]) -> dict[str, Any]:
    repo = payload.get("repository") or {}
    installation = payload.get("installation") or {}
    return {
        "event": name,
        "repo": repo.get("full_name", ""),
        "clone_url": repo.get("clone_url", ""),
        "default_branch": repo.get("default_branch", ""),
        "installation_id": installation.get("id"),
        "actor": (payload.get("sender") or {}).get("login", ""),
    }


def _allowed(association: str, config: BotConfig) -> bool:
    return association.upper() in {a.upper() for a in config.allowed_associations}


def _labeled(payload: dict[str, Any], config: BotConfig, base: dict[str, Any]) -> Trigger | Ignored:
    label = (payload.get("label") or {}).get("name", "")
    if label != config.trigger_label:
        return Ignored(reason=f"label {label!r} is not the trigger label {config.trigger_label!r}")
    issue = payload.get("issue") or {}
    if issue.get("pull_request"):
        return Ignored(reason="the trigger label applies to issues, not pull requests")
    author = (issue.get("user") or {}).get("login", "")
    association = ""
    if base["actor"] == author:
        association = issue.get("author_association", "")
        if not _allowed(association, config):
            return Ignored(
                reason=f"{author} labelled their own issue with association {association or 'NONE'}, "
                f"not one of {', '.join(config.allowed_associations)}"
            )
    return Trigger(
        kind="solve",
        number=int(issue["number"]),
        association=association,
        title=issue.get("title") or "",
        body=issue.get("body") or "",
        **base,
    )


def _comment(
    name: str, payload: dict[str, Any], config: BotConfig, base: dict[str, Any]
) -> Trigger | Ignored:
    comment = payload.get("comment") or {}
    command = _command(comment.get("body"), config.command)
    if command is None:
        return Ignored(reason=f"the comment is not a {config.command} command")
    if command not in ("solve", "review"):
        return Ignored(reason=f"unknown command {config.command} {command} (solve, review)")
    association = comment.get("author_association", "")
    if not _allowed(association, config):
        return Ignored(
            reason=f"{base['actor']} has association {association or 'NONE'}, "
            f"not one of {', '.join(config.allowed_associations)}"
        )
    if name == "pull_request_review_comment":
        pull = payload.get("pull_request") or {}
        item, on_pr, kind = pull, True, "review"
    else:
        item = payload.get("issue") or {}
        on_pr, kind = bool(item.get("pull_request")), "issue"
    if command == "solve" and on_pr:
        return Ignored(reason="`solve` applies to issues; on a pull request use `review`")
    if command == "review" and not on_pr:
        return Ignored(reason="`review` applies to pull requests; on an issue use `solve`")
    return Trigger(
        kind=command,
        number=int(item["number"]),
        association=association,
        title=item.get("title") or "",
        body=item.get("body") or "",
        comment_id=comment.get("id"),
        comment_kind=kind,
        **base,
    )


def parse_event(name: str, payload: dict[str, Any], config: BotConfig) -> Trigger | Ignored:
    """The job an event asks for, or why it asks for none. Raises nothing on odd payloads."""
    if name not in SUPPORTED_EVENTS:
        return Ignored(reason=f"event {name!r} is not handled ({', '.join(SUPPORTED_EVENTS)})")
    action = payload.get("action")
    base = _base(name, payload)
    if not base["repo"]:
        return Ignored(reason="the payload names no repository")
    if (payload.get("sender") or {}).get("type") == "Bot":
        return Ignored(reason=f"sent by the bot account {base['actor']}")
    try:
        if name == "issues":
            if action != "labeled":
                return Ignored(reason=f"issues/{action} is not handled (labeled)")
            return _labeled(payload, config, base)
        if action != "created":
            return Ignored(reason=f"{name}/{action} is not handled (created)")
        return _comment(name, payload, config, base)
    except (KeyError, TypeError, ValueError) as exc:
        return Ignored(reason=f"malformed {name} payload: {exc!r}")
