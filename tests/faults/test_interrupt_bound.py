"""Ctrl-C of `bench run` while an instance's image build hangs (an install step that sleeps for 15 minutes):
`LocalExecutor.close` returns within its bound, the build's sandbox is removed, the queued instance never
starts, and the process can start sandboxes again afterwards (the library API goes on after an interrupt).
Real Docker, a real build; the executor is called as the driver calls it after Ctrl-C."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from envs.task import Task
from sandbox import DockerSandbox
from sandbox.cleanup import CLOSE_WAIT, STOP_WAIT
from swescale.bench.jobs import Job
from swescale.bench.runner import LocalExecutor
from swescale.config import load_config

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]

HANGING_SETUP = (
    'import time\ntime.sleep(900)\nfrom setuptools import setup\nsetup(name="hangpkg", version="0.1")\n'
)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def _hanging_tasks(folder: Path) -> list[Task]:
    """Two tasks on two commits of a repository whose install step hangs."""
    repo = folder / "hangpkg"
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    tasks = []
    for n in range(2):
        (repo / "setup.py").write_text(HANGING_SETUP)
        (repo / "hangmod.py").write_text(f"X = {n}\n")
        _git(repo, "add", "-A")
        _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", str(n))
        row = {"instance_id": f"hang-{n}", "repo": "local/hangpkg", "repo_url": str(repo)}
        row |= {
            "base_commit": _git(repo, "rev-parse", "HEAD"),
            "problem_statement": "hangs",
            "version": "0.1",
        }
        tasks.append(Task.model_validate(json.loads(json.dumps(row))))
    return tasks


def _mine(docker_client) -> list:
    """The sandbox containers of this process."""
    return [
        c
        for c in docker_client.containers.list(all=True, filters={"label": "swescale=1"})
        if c.labels.get("swescale.owner", "").endswith(f":{os.getpid()}")
    ]


def _installing(docker_client) -> bool:
    for container in _mine(docker_client):
        try:
            if any("setup.py" in " ".join(p) for p in container.top()["Processes"] or []):
                return True
        except Exception:  # noqa: BLE001 - not running (yet, or any more)
            continue
    return False


def test_close_after_ctrl_c_is_bounded_while_an_image_build_hangs(docker_client, base_image, tmp_path):
    tasks = _hanging_tasks(tmp_path)
    config = load_config([], ["bench.workers=1", "model.urls=[http://127.0.0.1:9/v1]", "model.name=none"])
    executor = LocalExecutor(config, tmp_path / "run")
    building, queued = (executor.submit(Job(task=task)) for task in tasks)
    deadline = time.monotonic() + 400
    while not _installing(docker_client):
        assert not building.done() and time.monotonic() < deadline, building.result()
        time.sleep(1)
    # Ctrl-C: the driver stops the executor, then closes it
    bound = CLOSE_WAIT + STOP_WAIT + 15
    executor.stop()
    closing = threading.Thread(target=executor.close, daemon=True)
    started = time.monotonic()
    closing.start()
    closing.join(bound)
    took = time.monotonic() - started
    try:
        assert not closing.is_alive(), f"executor.close still waiting {bound:.0f} s after Ctrl-C"
        assert _mine(docker_client) == []  # the build's sandbox removed
        assert building.done() and queued.cancelled()  # the build ended, the queued instance never started
        assert building.result().status in ("pending", "error")  # never a prediction
    finally:
        if closing.is_alive():  # free the old code's thread: remove the hanging build's sandbox
            from sandbox.cleanup import close_all

            close_all()
            closing.join(60)
    # the process goes on: a sandbox starts again (the library API after a KeyboardInterrupt)
    with DockerSandbox(base_image, workdir="/") as sandbox:
        assert sandbox.exec("echo again").output.strip() == "again"
    print(f"executor.close returned {took:.1f} s after Ctrl-C (bound {bound:.0f} s)")
