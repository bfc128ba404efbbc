"""The Docker engine itself killed (SIGKILL) and started again with the same arguments: a sandbox's exec
session is cut at once and its container is removed once the engine is back; during `swescale bench run
--workers 2 --evaluate`, then the same command again: every instance exactly once, with a prediction,
nothing lost, no container left. The engine is a private daemon of the test's own (tests/faults/dockerd.py),
never the host's, which other tests and runs use."""

from __future__ import annotations

import signal
import threading
import time

import pytest
from scenario import DOCKERD_CASES, DOCKERD_FAULTS, run_scenario

from sandbox import DockerSandbox
from sandbox.result import SandboxError

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]


def test_dockerd_restarted_mid_run_is_survived_with_nothing_lost(private_dockerd, bench_repo, tmp_path):
    outcome = run_scenario(tmp_path, bench_repo, dockerd=private_dockerd)
    logs = "\n".join(p.read_text()[-3000:] for p in sorted(tmp_path.glob("run-*.log")))
    assert sorted(outcome.fired) == sorted(DOCKERD_FAULTS) and outcome.docker_restarts == 1, logs
    assert sorted(p["instance_id"] for p in outcome.predictions) == sorted(DOCKERD_CASES), logs  # each once
    assert all(p["model_patch"].strip() for p in outcome.predictions), logs  # none silently emptied
    rows = outcome.rows
    assert {i: r["status"] for i, r in rows.items()} == dict.fromkeys(DOCKERD_CASES, "done"), logs
    assert {i: r["verdict"] for i, r in rows.items()} == dict.fromkeys(DOCKERD_CASES, "resolved"), logs
    assert outcome.trajectories["f-dockerd"]["sandbox_error"] >= 1, outcome.trajectories
    # nothing left on the engine: not the sandboxes the restart stopped, nor any made meanwhile
    leftover = private_dockerd.client().containers.list(all=True)
    assert outcome.containers_left == [] and leftover == [], [c.name for c in leftover]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_sandbox_closed_while_the_engine_is_down_is_removed_once_it_is_back(
    private_dockerd, base_image, sig
):
    client = private_dockerd.client(timeout=120)
    sandbox = DockerSandbox(base_image, workdir="/", client=client).start()
    container = sandbox.container.id
    assert sandbox.exec("echo up").output.strip() == "up"
    private_dockerd.kill(sig)  # SIGTERM: the engine stops its containers first
    started = time.monotonic()
    with pytest.raises(SandboxError, match="exec server is gone"):  # the session was cut, no hang
        sandbox.exec("echo again", timeout=60)
    assert time.monotonic() - started < 10
    restart = threading.Timer(3.0, private_dockerd.start)  # the same arguments, 3 s later
    restart.start()
    try:
        sandbox.close()  # the engine does not answer yet: removal is tried again until it does
    finally:
        restart.join()
    assert [c.id for c in client.containers.list(all=True)] == [], f"{container[:12]} left behind"
