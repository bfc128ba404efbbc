"""Constants and helpers of the bot tests (fixtures are in conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bot_payloads import REPO, write

from swescale.demo.replay import DATA

TOKEN = "ghs_StandInToken0123456789abcdefSECRET"
ISSUE_TITLE = "median() is wrong for even-length lists"
ISSUE_BODY = (DATA / "issue.md").read_text()
PIPELINE_TESTS = Path(__file__).resolve().parent.parent / "pipeline"
if str(PIPELINE_TESTS) not in sys.path:
    sys.path.append(str(PIPELINE_TESTS))  # the scripted trajectories of the solve tests (pipeline_scripts)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def swescale_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "swescale.cli.main", *args]


def bot_env(github, **extra: str) -> dict[str, str]:
    """A child process environment with the token and the stand-in's API URL (nothing else of GitHub's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_"))}
    env.update(GITHUB_TOKEN=TOKEN, GITHUB_API_URL=github.url, GITHUB_REPOSITORY=REPO, **extra)
    return env


def files_holding(root: Path, secret: str) -> list[Path]:
    """Every file under `root` whose bytes contain `secret`."""
    return [p for p in Path(root).rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def run_bot_github(github, event: str, payload: dict, workspace: Path, tmp_path: Path, *args: str):
    """`swescale bot github` as an Actions step would run it: the event in a file, run 4242, outputs file."""
    path = write(payload, tmp_path / "event.json")
    env = bot_env(
        github,
        GITHUB_EVENT_PATH=str(path),
        GITHUB_EVENT_NAME=event,
        GITHUB_WORKSPACE=str(workspace),
        GITHUB_RUN_ID="4242",
        GITHUB_SERVER_URL="https://github.invalid",
        GITHUB_OUTPUT=str(tmp_path / "outputs"),
    )
    cmd = swescale_cmd("bot", "github", f"bot.run_root={tmp_path / 'runs'}", "bot.write_interval=0", *args)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=800)
