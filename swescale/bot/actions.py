"""`swescale bot github`: one event of a GitHub Actions run, from the runner's environment.

Reads GITHUB_EVENT_PATH, GITHUB_EVENT_NAME, GITHUB_REPOSITORY, GITHUB_WORKSPACE, GITHUB_TOKEN and
GITHUB_API_URL. The token is taken out of the process environment at once, so no child process (an
environment build, a sandbox, a test) inherits it; it reaches only the GitHub client and `git push`.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from pydantic import BaseModel

from swescale.bot.client import GitHubClient
from swescale.bot.events import Ignored, Trigger, parse_event
from swescale.bot.flow import run_trigger
from swescale.bot.job import JobContext, JobResult
from swescale.bot.redact import redactor
from swescale.config import SwescaleConfig

TOKEN_VARIABLES = ("GITHUB_TOKEN", "GH_TOKEN", "INPUT_GITHUB_TOKEN")


class ActionsError(ValueError):
    """The Actions environment is incomplete or the event file cannot be read."""


class ActionsEnv(BaseModel):
    event_name: str
    event_path: Path
    repository: str = ""
    workspace: Path
    run_id: str = ""
    run_url: str = ""
    runner_temp: str = ""


def take_token() -> str | None:
    """The token from the environment, removed from it (and registered for redaction)."""
    token = None
    for name in TOKEN_VARIABLES:
        value = os.environ.pop(name, None)
        token = token or value
    redactor.add(token)
    return token


def read_env(event_path: Path | None = None, event_name: str | None = None) -> ActionsEnv:
    env = os.environ
    path = event_path or (Path(env["GITHUB_EVENT_PATH"]) if env.get("GITHUB_EVENT_PATH") else None)
    name = event_name or env.get("GITHUB_EVENT_NAME")
    if path is None or not name:
        raise ActionsError(
            "GITHUB_EVENT_PATH and GITHUB_EVENT_NAME are not set (or give --event-path/--event-name)"
        )
    run_id, server, repo = (
        env.get("GITHUB_RUN_ID", ""),
        env.get("GITHUB_SERVER_URL", ""),
        env.get("GITHUB_REPOSITORY", ""),
    )
    return ActionsEnv(
        event_name=name,
        event_path=path,
        repository=repo,
        workspace=Path(env.get("GITHUB_WORKSPACE") or os.getcwd()),
        run_id=run_id,
        run_url=f"{server}/{repo}/actions/runs/{run_id}" if run_id and server and repo else "",
        runner_temp=env.get("RUNNER_TEMP", ""),
    )


def load_event(env: ActionsEnv) -> dict:
    try:
        payload = json.loads(env.event_path.read_text())
    except (OSError, ValueError) as exc:
        raise ActionsError(f"cannot read the event file {env.event_path}: {exc}") from exc
    if not isinstance(payload, dict):
        raise ActionsError(f"the event file {env.event_path} does not hold a JSON object")
    return payload


def job_context(trigger: Trigger, env: ActionsEnv, config: SwescaleConfig, token: str | None) -> JobContext:
    stamp = env.run_id or time.strftime("%Y%m%d-%H%M%S")
    name = f"{trigger.repo.replace('/', '-')}-{trigger.number}-{stamp}"
    root = config.bot.run_root or (str(Path(env.runner_temp) / "swescale") if env.runner_temp else "runs/bot")
    return JobContext(
        config=config,
        client=GitHubClient.for_trigger(trigger, config.bot, token),
        workspace=env.workspace,
        run_dir=Path(root) / name,
        run_name=f"actions-{env.run_id}" if env.run_id else name,
        run_url=env.run_url,
    )


def run_event(env: ActionsEnv, config: SwescaleConfig, token: str | None) -> Ignored | JobResult:
    """Handle the run's event: ignored (and why), or the job's result."""
    found = parse_event(env.event_name, load_event(env), config.bot)
    if isinstance(found, Ignored):
        return found
    if env.repository and found.repo != env.repository:
        return Ignored(reason=f"the event is for {found.repo}, this workflow runs for {env.repository}")
    return run_trigger(found, job_context(found, env, config, token))


def write_outputs(result: Ignored | JobResult) -> None:
    """`state` and `url` as step outputs (GITHUB_OUTPUT), for workflows that act on them."""
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    state = "ignored" if isinstance(result, Ignored) else result.state
    url = "" if isinstance(result, Ignored) else result.url
    with open(path, "a") as fh:
        fh.write(f"state={state}\nurl={url}\n")
