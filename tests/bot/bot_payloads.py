"""Webhook / Actions event payloads shaped as GitHub documents them (trimmed to the fields that matter,
same nesting and names as docs.github.com's `issues`, `issue_comment` and `pull_request_review_comment`)."""

from __future__ import annotations

import json
from pathlib import Path

REPO = "octo/minimath"


def user(login: str, kind: str = "User") -> dict:
    return {"login": login, "id": abs(hash(login)) % 10**6, "type": kind, "site_admin": False}


def repository(clone_url: str, default_branch: str = "main") -> dict:
    owner, name = REPO.split("/")
    return {
        "id": 186853002,
        "name": name,
        "full_name": REPO,
        "private": False,
        "owner": user(owner),
        "html_url": f"https://github.com/{REPO}",
        "url": f"https://api.github.com/repos/{REPO}",
        "clone_url": clone_url,
        "default_branch": default_branch,
    }


def issue(number: int, title: str, body: str, author: str = "alice", association: str = "NONE") -> dict:
    return {
        "url": f"https://api.github.com/repos/{REPO}/issues/{number}",
        "html_url": f"https://github.com/{REPO}/issues/{number}",
        "id": 444500000 + number,
        "number": number,
        "title": title,
        "user": user(author),
        "labels": [],
        "state": "open",
        "locked": False,
        "comments": 0,
        "author_association": association,
        "body": body,
    }


def labeled(
    clone_url: str,
    number: int,
    title: str,
    body: str,
    *,
    label: str = "swescale",
    sender: str = "maintainer",
    author: str = "alice",
    author_association: str = "NONE",
) -> dict:
    item = issue(number, title, body, author, author_association)
    item["labels"] = [{"id": 1362934389, "name": label, "color": "d73a4a", "default": False}]
    return {
        "action": "labeled",
        "issue": item,
        "label": item["labels"][0],
        "repository": repository(clone_url),
        "sender": user(sender),
    }


def issue_comment(
    clone_url: str,
    number: int,
    title: str,
    body: str,
    comment: str,
    *,
    commenter: str,
    association: str,
    on_pull: bool = False,
    comment_id: int = 492700400,
) -> dict:
    item = issue(number, title, body)
    if on_pull:
        item["pull_request"] = {
            "url": f"https://api.github.com/repos/{REPO}/pulls/{number}",
            "html_url": f"https://github.com/{REPO}/pull/{number}",
            "diff_url": f"https://github.com/{REPO}/pull/{number}.diff",
            "patch_url": f"https://github.com/{REPO}/pull/{number}.patch",
        }
    return {
        "action": "created",
        "issue": item,
        "comment": {
            "url": f"https://api.github.com/repos/{REPO}/issues/comments/{comment_id}",
            "html_url": f"https://github.com/{REPO}/issues/{number}#issuecomment-{comment_id}",
            "id": comment_id,
            "user": user(commenter),
            "author_association": association,
            "body": comment,
        },
        "repository": repository(clone_url),
        "sender": user(commenter),
    }


def review_comment(
    clone_url: str,
    number: int,
    title: str,
    body: str,
    comment: str,
    *,
    commenter: str,
    association: str,
    comment_id: int = 284312630,
) -> dict:
    return {
        "action": "created",
        "comment": {
            "url": f"https://api.github.com/repos/{REPO}/pulls/comments/{comment_id}",
            "id": comment_id,
            "path": "minimath/stats.py",
            "user": user(commenter),
            "body": comment,
            "author_association": association,
            "pull_request_url": f"https://api.github.com/repos/{REPO}/pulls/{number}",
        },
        "pull_request": {
            "url": f"https://api.github.com/repos/{REPO}/pulls/{number}",
            "number": number,
            "state": "open",
            "title": title,
            "body": body,
            "user": user(commenter),
            "head": {"label": "octo:fix", "ref": "fix", "sha": "0" * 40},
            "base": {"label": "octo:main", "ref": "main", "sha": "1" * 40},
        },
        "repository": repository(clone_url),
        "sender": user(commenter),
    }


def write(payload: dict, path: Path) -> Path:
    path.write_text(json.dumps(payload))
    return path
