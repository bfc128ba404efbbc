"""Ctrl-C during an image build: `swescale env build` ends within a stated time, its build sandbox removed
and the queued build never started (a real slow build: a setup.py that sleeps, a real SIGINT)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandbox.cleanup import CLOSE_WAIT, STOP_WAIT

pytestmark = pytest.mark.docker

SLOW_SETUP = (
    'import time\ntime.sleep(900)\nfrom setuptools import setup\nsetup(name="slowpkg", version="0.1")\n'
)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def _slow_tasks(folder: Path) -> Path:
    """Two tasks on two commits of a repository whose install step sleeps for 15 minutes."""
    repo = folder / "slowpkg"
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    commits = []
    for version in ("1", "2"):
        (repo / "setup.py").write_text(SLOW_SETUP)
        (repo / "slowmod.py").write_text(f"X = {version}\n")
        _git(repo, "add", "-A")
        _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", version)
        commits.append(_git(repo, "rev-parse", "HEAD"))
    rows = [
        {"instance_id": f"slow-{n}", "repo": "local/slowpkg", "repo_url": str(repo), "base_commit": sha}
        | {"problem_statement": "slow", "version": "0.1"}
        for n, sha in enumerate(commits)
    ]
    path = folder / "tasks.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _containers_of(docker_client, pid: int) -> list:
    """The sandbox containers owned by process `pid` (of this PID namespace)."""
    return [
        c
        for c in docker_client.containers.list(all=True, filters={"label": "swescale=1"})
        if c.labels.get("swescale.owner", "").endswith(f":{pid}")
    ]


def test_ctrl_c_during_a_slow_build_ends_in_a_bounded_time(docker_client, base_image, tmp_path):
    dataset = _slow_tasks(tmp_path)
    log = tmp_path / "build.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "swescale.cli.main",
                "env",
                "build",
                "--dataset",
                str(dataset),
                "--workers",
                "1",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as from a terminal
        )
    try:
        deadline = time.monotonic() + 400
        while "install: python -m pip install" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(1)
        time.sleep(3)  # setup.py is sleeping now
        assert len(_containers_of(docker_client, proc.pid)) == 1
        interrupted = time.monotonic()
        proc.send_signal(signal.SIGINT)
        bound = CLOSE_WAIT + STOP_WAIT + 20  # removal of the sandboxes, the threads' end, exit
        try:
            code = proc.wait(timeout=bound)
        except subprocess.TimeoutExpired:
            pytest.fail(f"swescale env build still running {bound:.0f} s after Ctrl-C")
        assert code != 0 and time.monotonic() - interrupted < bound
        assert _containers_of(docker_client, proc.pid) == []
        text = log.read_text()
        assert "slow-1" not in text, text[-3000:]  # the queued build never started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for container in _containers_of(docker_client, proc.pid):
            container.remove(force=True)
