"""Linked issues and merged pull requests: a commit's "Fixes #n" references, resolved from an issues dump
file or the GitHub REST API. Offline (or rate-limited) the API is turned off after its first failure and
mining goes on without it; the token (GITHUB_TOKEN) is sent to the API only, never logged or stored."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import requests

from envs.records import DatasetError, read_records

log = logging.getLogger(__name__)


def load_issue_dump(path: str | Path) -> dict[int, dict]:
    """number -> {title, body} from a .json (a list) or .jsonl dump of GitHub API issue objects (or any
    objects with `number`, `title`, `body`); errors (ValueError) name the file and the line or item."""
    out: dict[int, dict] = {}
    for where, row in read_records(path, key="number"):
        if not str(row["number"]).isdigit():
            raise DatasetError(f"{where}: the issue number {row['number']!r} is not a number")
        out[int(row["number"])] = {"title": row.get("title") or "", "body": row.get("body") or ""}
    return out


class IssueSource:
    """Issue texts by number: the dump first, then the API (cached; off after its first failure)."""

    def __init__(self, repo: str, api: str = "", dump: dict[int, dict] | None = None, timeout: float = 10.0):
        self.repo, self.api, self.dump, self.timeout = repo, api.rstrip("/"), dump or {}, timeout
        self._cache: dict[str, object] = {}
        self._lock = threading.Lock()
        self.api_off = not self.api or repo.startswith("local/")

    def _get(self, path: str, params: dict | None = None) -> object | None:
        """JSON of an API GET, None on 404 or when the API is off."""
        key = path + repr(sorted((params or {}).items()))
        with self._lock:
            if key in self._cache:
                return self._cache[key]
            if self.api_off:
                return None
        headers = {"Accept": "application/vnd.github+json"}
        token = os.environ.get("GITHUB_TOKEN", "")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            answer = requests.get(f"{self.api}{path}", headers=headers, params=params, timeout=self.timeout)
            data = (
                None
                if answer.status_code == 404
                else answer.json()
                if answer.ok
                else answer.raise_for_status()
            )
        except (requests.RequestException, ValueError) as exc:
            log.warning("GitHub API unavailable (%s): going on without it", type(exc).__name__)
            with self._lock:
                self.api_off = True
            return None
        with self._lock:
            self._cache[key] = data
        return data

    def issue(self, number: int) -> dict | None:
        """{title, body} of issue `number` (None when unknown, or a pull request)."""
        if number in self.dump:
            return self.dump[number]
        data = self._get(f"/repos/{self.repo}/issues/{number}")
        if not isinstance(data, dict) or "pull_request" in data:
            return None
        return {"title": data.get("title") or "", "body": data.get("body") or ""}

    def merged_pulls(self, max_pages: int = 5) -> dict[str, dict]:
        """merge commit sha -> {number, text} of recently merged pull requests (empty offline)."""
        out: dict[str, dict] = {}
        for page in range(1, max_pages + 1):
            params = {
                "state": "closed",
                "per_page": 100,
                "page": page,
                "sort": "updated",
                "direction": "desc",
            }
            data = self._get(f"/repos/{self.repo}/pulls", params)
            if not isinstance(data, list) or not data:
                break
            for pr in data:
                if isinstance(pr, dict) and pr.get("merged_at") and pr.get("merge_commit_sha"):
                    text = f"{pr.get('title') or ''}\n\n{pr.get('body') or ''}"
                    out[pr["merge_commit_sha"]] = {"number": int(pr["number"]), "text": text}
            if len(data) < 100:
                break
        return out
