"""A local stand-in for the GitHub REST API (a boundary we do not own), on loopback under uvicorn.

It plays the endpoints the bot calls through PyGithub, with GitHub's shapes: repositories, issues, issue
comments, reactions, pull requests (draft), and a GitHub App's installation tokens (the JWT is checked
against the App's public key). Every request is recorded, with the credential it carried.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse


@dataclass
class Recorded:
    method: str
    path: str
    auth: str
    body: Any


@dataclass
class StandIn:
    """State of the fake GitHub: what the bot did is read back from here."""

    token: str
    app_id: int = 0
    app_public_key: str = ""
    repos: dict[str, dict] = field(default_factory=dict)
    issues: dict[tuple[str, int], dict] = field(default_factory=dict)
    pulls: dict[tuple[str, int], dict] = field(default_factory=dict)
    comments: list[dict] = field(default_factory=list)
    reactions: list[dict] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    installation_tokens: list[str] = field(default_factory=list)
    comment_delay: float = 0.0
    """Seconds each new comment waits before it is stored (to hold a job in a known step)."""
    url: str = ""
    _ids: Any = field(default_factory=lambda: itertools.count(1000))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_repo(self, full_name: str, default_branch: str = "main", clone_url: str = "") -> dict:
        owner, name = full_name.split("/")
        repo = {
            "id": next(self._ids),
            "name": name,
            "full_name": full_name,
            "owner": {"login": owner, "type": "User"},
            "private": False,
            "default_branch": default_branch,
            "clone_url": clone_url,
            "url": f"{self.url}/repos/{full_name}",
            "html_url": f"https://github.invalid/{full_name}",
        }
        self.repos[full_name] = repo
        return repo

    def add_issue(self, repo: str, number: int, title: str, body: str, author: str = "alice") -> dict:
        issue = {
            "id": next(self._ids),
            "number": number,
            "title": title,
            "body": body,
            "state": "open",
            "user": {"login": author, "type": "User"},
            "author_association": "OWNER",
            "labels": [],
            "url": f"{self.url}/repos/{repo}/issues/{number}",
            "html_url": f"https://github.invalid/{repo}/issues/{number}",
        }
        self.issues[(repo, number)] = issue
        return issue

    def add_pull(
        self, repo: str, number: int, title: str, body: str, head: str, base: str, shas: tuple
    ) -> dict:
        pull = self._pull_json(repo, number, title, body, head, base, draft=False)
        pull["head"]["sha"], pull["base"]["sha"] = shas
        pull["user"] = {"login": "contributor", "type": "User"}
        self.pulls[(repo, number)] = pull
        self.issues[(repo, number)] = {**self.add_issue(repo, number, title, body), "pull_request": {}}
        return pull

    def _pull_json(self, repo, number, title, body, head, base, draft) -> dict:
        return {
            "id": next(self._ids),
            "number": number,
            "title": title,
            "body": body,
            "state": "open",
            "draft": draft,
            "head": {"ref": head, "sha": "", "label": f"{repo.split('/')[0]}:{head}"},
            "base": {"ref": base, "sha": "", "label": f"{repo.split('/')[0]}:{base}"},
            "url": f"{self.url}/repos/{repo}/pulls/{number}",
            "html_url": f"https://github.invalid/{repo}/pull/{number}",
            "user": {"login": "swescale[bot]", "type": "Bot"},
        }

    def comments_on(self, repo: str, number: int) -> list[str]:
        return [c["body"] for c in self.comments if c["repo"] == repo and c["number"] == number]

    def opened_pulls(self, repo: str) -> list[dict]:
        return [p for (r, _), p in self.pulls.items() if r == repo and p["user"]["login"] == "swescale[bot]"]

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method != "GET"]


def _app(state: StandIn) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def record_and_authenticate(request: Request, call_next):
        body = await request.body()
        auth = request.headers.get("authorization", "")
        try:
            import json

            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body.decode(errors="replace")
        state.requests.append(Recorded(request.method, request.url.path, auth, parsed))
        if request.url.path.startswith("/app/") or request.url.path.endswith("/installation"):
            return await call_next(request)  # App endpoints check the JWT themselves
        tokens = {state.token, *state.installation_tokens} - {""}
        if not any(auth == f"token {t}" or auth == f"Bearer {t}" for t in tokens):
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        return await call_next(request)

    def repo_or_404(owner: str, name: str) -> dict:
        repo = state.repos.get(f"{owner}/{name}")
        if repo is None:
            raise HTTPException(404, "Not Found")
        return repo

    @app.get("/repos/{owner}/{name}")
    def get_repo(owner: str, name: str):
        return repo_or_404(owner, name)

    @app.get("/repos/{owner}/{name}/issues/{number}")
    def get_issue(owner: str, name: str, number: int):
        issue = state.issues.get((f"{owner}/{name}", number))
        if issue is None:
            raise HTTPException(404, "Not Found")
        return issue

    @app.post("/repos/{owner}/{name}/issues/{number}/comments", status_code=201)
    async def create_comment(owner: str, name: str, number: int, request: Request):
        repo = f"{owner}/{name}"
        if (repo, number) not in state.issues:
            raise HTTPException(404, "Not Found")
        data = await request.json()
        if state.comment_delay:
            time.sleep(state.comment_delay)
        with state._lock:
            cid = next(state._ids)
            comment = {
                "id": cid,
                "repo": repo,
                "number": number,
                "body": data["body"],
                "url": f"{state.url}/repos/{repo}/issues/comments/{cid}",
                "html_url": f"https://github.invalid/{repo}/issues/{number}#issuecomment-{cid}",
                "user": {"login": "swescale[bot]", "type": "Bot"},
            }
            state.comments.append(comment)
        return comment

    def react(kind: str, target: str, content: str) -> dict:
        with state._lock:
            reaction = {"id": next(state._ids), "content": content, "kind": kind, "target": target}
            state.reactions.append(reaction)
        return reaction

    @app.post("/repos/{owner}/{name}/issues/{number}/reactions", status_code=201)
    async def issue_reaction(owner: str, name: str, number: int, request: Request):
        return react("issue", f"{owner}/{name}#{number}", (await request.json())["content"])

    @app.post("/repos/{owner}/{name}/issues/comments/{cid}/reactions", status_code=201)
    async def comment_reaction(owner: str, name: str, cid: int, request: Request):
        return react("issue_comment", str(cid), (await request.json())["content"])

    @app.post("/repos/{owner}/{name}/pulls/comments/{cid}/reactions", status_code=201)
    async def review_comment_reaction(owner: str, name: str, cid: int, request: Request):
        return react("review_comment", str(cid), (await request.json())["content"])

    @app.post("/repos/{owner}/{name}/pulls", status_code=201)
    async def create_pull(owner: str, name: str, request: Request):
        repo = f"{owner}/{name}"
        repo_or_404(owner, name)
        data = await request.json()
        for pull in state.opened_pulls(repo):
            if pull["head"]["ref"] == data["head"] and pull["state"] == "open":
                return JSONResponse(
                    {
                        "message": "Validation Failed",
                        "errors": [{"message": "A pull request already exists"}],
                    },
                    422,
                )
        with state._lock:
            number = max([n for (r, n) in state.issues if r == repo] + [0]) + 1
            pull = state._pull_json(
                repo,
                number,
                data["title"],
                data.get("body", ""),
                data["head"],
                data["base"],
                bool(data.get("draft")),
            )
            state.pulls[(repo, number)] = pull
            state.issues[(repo, number)] = {**pull, "pull_request": {}}
        return pull

    @app.get("/repos/{owner}/{name}/pulls")
    def list_pulls(owner: str, name: str, head: str = "", state_: str = "open"):
        repo = f"{owner}/{name}"
        return [p for p in state.opened_pulls(repo) if not head or p["head"]["label"] == head]

    @app.get("/repos/{owner}/{name}/pulls/{number}")
    def get_pull(owner: str, name: str, number: int):
        pull = state.pulls.get((f"{owner}/{name}", number))
        if pull is None:
            raise HTTPException(404, "Not Found")
        return pull

    @app.patch("/repos/{owner}/{name}/pulls/{number}")
    async def edit_pull(owner: str, name: str, number: int, request: Request):
        pull = state.pulls.get((f"{owner}/{name}", number))
        if pull is None:
            raise HTTPException(404, "Not Found")
        pull.update({k: v for k, v in (await request.json()).items() if k in ("title", "body", "state")})
        return pull

    def check_jwt(request: Request) -> None:
        auth = request.headers.get("authorization", "")
        try:
            claims = jwt.decode(auth.removeprefix("Bearer "), state.app_public_key, algorithms=["RS256"])
        except jwt.PyJWTError as exc:
            raise HTTPException(401, f"bad JWT: {exc}") from exc
        if str(claims.get("iss")) != str(state.app_id):
            raise HTTPException(401, "JWT of another App")

    @app.get("/repos/{owner}/{name}/installation")
    def repo_installation(owner: str, name: str, request: Request):
        check_jwt(request)
        repo_or_404(owner, name)
        return {"id": 77, "app_id": state.app_id, "account": {"login": owner}}

    @app.post("/app/installations/{installation}/access_tokens", status_code=201)
    def access_token(installation: int, request: Request):
        check_jwt(request)
        token = f"ghs_installation{installation}_{len(state.installation_tokens)}_abcdefghijklmnop"
        state.installation_tokens.append(token)
        return {"token": token, "expires_at": "2099-01-01T00:00:00Z", "permissions": {}}

    return app


class GitHubStandIn:
    """`with GitHubStandIn(token) as gh:` serves on 127.0.0.1; `gh.url` is the API base URL."""

    def __init__(self, token: str, **kwargs: Any):
        self.state = StandIn(token=token, **kwargs)
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.state.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        config = uvicorn.Config(_app(self.state), log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return self.state.url

    def __enter__(self) -> StandIn:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.state

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()
