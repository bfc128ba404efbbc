"""`swescale solve` stops at once, saying what to start, when Docker or the model server is missing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from swescale.demo.replay import make_demo_repo


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _solve(repo: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "swescale.cli.main", "solve", "--repo", str(repo), "--issue", "bug", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.docker
def test_no_model_server_configured(tmp_path: Path, docker_client):
    out = _solve(make_demo_repo(tmp_path / "repo"))
    assert out.returncode == 2
    assert "no model server configured" in out.stderr and "vllm serve" in out.stderr


@pytest.mark.docker
def test_model_server_not_answering(tmp_path: Path, docker_client):
    url = f"http://127.0.0.1:{_free_port()}/v1"
    out = _solve(make_demo_repo(tmp_path / "repo"), "--model", url)
    assert out.returncode == 2
    assert url in out.stderr and "vllm serve" in out.stderr


def test_docker_engine_unreachable(tmp_path: Path):
    out = _solve(
        make_demo_repo(tmp_path / "repo"),
        "--model",
        "http://127.0.0.1:9/v1",
        env={"DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"},
    )
    assert out.returncode == 2
    assert "Docker engine is not reachable" in out.stderr and "dockerd" in out.stderr
