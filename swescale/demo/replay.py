"""`swescale demo`: the whole pipeline on a bundled repository, with a scripted model session replayed.

The model's answers are scripted by hand (`data/session.json`, written for this demo, not recorded from a
model) and served by a local OpenAI-compatible server (`swescale.demo.scripted_server`), so the demo runs
on a machine without a GPU. The judge's log-probabilities are hand-set too, chosen by a substring of the
candidate under judgement. Everything else is real: the environment image, Docker sandboxes, the agent's
tools, the generated and regression tests, selection and the report. It says so in its banner.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from swescale.demo.scripted_server import (
    ConversationPolicy,
    Reply,
    Router,
    ScriptedServer,
    prompt_contains,
    system_contains,
)

DATA = Path(__file__).parent / "data"
BANNER = (
    "SCRIPTED REPLAY: no model is involved. The agent's answers and the judge's log-probabilities are\n"
    "scripted by hand (swescale/demo/data/session.json) and served by a local OpenAI-compatible server.\n"
    "Sandboxes, tests and selection run for real.\n"
    "A real run: swescale solve --repo PATH --issue FILE --model http://HOST:8000/v1"
)
# Fixed identity and dates: the demo repository's commit (and so its cached image) is the same every run.
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "swescale demo",
    "GIT_AUTHOR_EMAIL": "demo@swescale.invalid",
    "GIT_COMMITTER_NAME": "swescale demo",
    "GIT_COMMITTER_EMAIL": "demo@swescale.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
}


def make_demo_repo(dest: Path) -> Path:
    """Copy the bundled repository to `dest` and commit it (deterministic commit id)."""
    shutil.copytree(DATA / "repo", dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env = {**os.environ, **_GIT_ENV}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "minimath 0.1.0"]):
        subprocess.run(["git", *args], cwd=dest, env=env, check=True)
    return dest


class JudgeReplay:
    """Replays hand-scripted verdicts: the first entry whose `match` text occurs in the judge prompt."""

    def __init__(self, entries: list[dict]):
        self.entries = entries

    def __call__(self, request: dict) -> Reply:
        prompt = "\n".join(str(m.get("content") or "") for m in request.get("messages", []))
        for entry in self.entries:
            if entry["match"] in prompt:
                return Reply.of(entry["reply"])
        return Reply(content="NO")


def replay_policy(session: dict) -> Router:
    return Router(
        [
            (system_contains("You are a patch verifier"), JudgeReplay(session["judge"])),
            (
                prompt_contains("Your task is NOT to fix the issue"),
                ConversationPolicy(session["test_trajectories"]),
            ),
        ],
        default=ConversationPolicy(session["fix_trajectories"]),
    )


@contextmanager
def demo_session(run_dir: Path | None) -> Iterator[DemoSession]:
    """The demo's repository (committed in the run directory) and its replay server, running while the
    context is open."""
    session = json.loads((DATA / "session.json").read_text())
    run_dir = run_dir or Path("runs") / f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir.mkdir(parents=True, exist_ok=True)
    repo = make_demo_repo(run_dir / "minimath")
    with ScriptedServer(replay_policy(session), model="swescale-demo-replay") as server:
        yield DemoSession(
            run_dir=run_dir,
            repo=repo,
            issue=str(DATA / "issue.md"),
            overrides=[
                f"model.urls=[{server.url}]",
                "model.tool_format=native",
                "solve.trajectories=2",
                "solve.generations=3",
                "solve.parents=2",
                f"verifier.test_trajectories={len(session['test_trajectories'])}",
            ],
        )


@dataclass
class DemoSession:
    run_dir: Path
    repo: Path
    issue: str
    overrides: list[str]
    """Config overrides pointing the agent at the replay server (user overrides go after them)."""
