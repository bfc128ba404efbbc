"""Fixtures: the history repository, and one mining run of it, killed with SIGKILL after its first
validated candidate and then resumed (the tests read both halves)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from mine_history import ISSUE, MODEL_ISSUE, OVERRIDES, make_history

from swescale.demo.scripted_server import ScriptedServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def history(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    repo = tmp_path_factory.mktemp("history") / "calc"
    return repo, make_history(repo)


@dataclass
class Mined:
    repo: Path
    shas: dict[str, str]
    run_dir: Path
    output: Path
    killed_pid: int
    finished_before_kill: dict[str, float]
    """sha -> `updated` of the candidates finished before the kill."""
    resumed_output: str
    model_requests: list[dict]
    args: list[str]


def _finished(db: Path) -> dict[str, float]:
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as con:
            rows = con.execute(
                "SELECT sha, updated FROM commits WHERE done=1 AND stage!='scanned'"
            ).fetchall()
    except sqlite3.OperationalError:  # the schema is not there yet
        return {}
    return dict(rows)


def mine_args(repo: Path, run_dir: Path, output: Path, issues: Path, model_url: str) -> list[str]:
    return [
        "env",
        "mine",
        "--repo",
        str(repo),
        "--output",
        str(output),
        "--run-dir",
        str(run_dir),
        "--workers",
        "1",
        "--issues",
        str(issues),
        "--model",
        model_url,
        *OVERRIDES,
    ]


@pytest.fixture(scope="session")
def mined(docker_client, base_image, history, tmp_path_factory) -> Mined:
    """`swescale env mine` in a subprocess, SIGKILLed once a candidate is finished, then run again here."""

    repo, shas = history
    work = tmp_path_factory.mktemp("mine")
    run_dir, output, issues = work / "run", work / "tasks.jsonl", work / "issues.jsonl"
    issues.write_text(json.dumps(ISSUE) + "\n")
    with ScriptedServer(lambda request: MODEL_ISSUE) as server:
        args = mine_args(repo, run_dir, output, issues, server.url)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "250"}  # rich wraps at 80 off a terminal
        proc = subprocess.Popen(
            [sys.executable, "-m", "swescale.cli.main", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 900
        while not _finished(run_dir / "mine.sqlite") and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        before = _finished(run_dir / "mine.sqlite")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert before, "the first run finished no candidate before it was killed"
        # the rerun is a new process, as a user's is: its first sandbox removes the killed run's containers
        rerun = subprocess.run(
            [sys.executable, "-m", "swescale.cli.main", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        requests = list(server.requests)
    return Mined(repo, shas, run_dir, output, proc.pid, before, rerun.stdout + rerun.stderr, requests, args)
