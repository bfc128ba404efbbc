"""No leaks: containers disappear on normal exit, exceptions, SIGINT, SIGTERM, and SIGKILL + gc."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import sandbox
from sandbox import DockerSandbox
from sandbox.cleanup import owner_alive
from sandbox.owner import OWNER_LABEL
from tests.sandbox.conftest import TEST_LABEL, our_containers

pytestmark = pytest.mark.docker

CHILD = textwrap.dedent(
    f"""
    import sys, time
    from sandbox import DockerSandbox
    from sandbox.cleanup import install_signal_handlers
    install_signal_handlers()  # what an entry point (the CLI) does; library code never does
    image, tag, mode = sys.argv[1:4]
    sb = DockerSandbox(image, workdir="/", labels={{"{TEST_LABEL}": tag}})
    if mode == "raise":
        with sb:
            print(sb.id, flush=True)
            raise RuntimeError("boom")
    sb.start()
    print(sb.id, flush=True)
    if mode == "exit":
        sys.exit(0)  # never closed explicitly: atexit cleans up
    time.sleep(120)
    """
)


def _child(base_image: str, tag: str, mode: str, ignore_sigint: bool = False) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, base_image, tag, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if ignore_sigint else None,
    )
    cid = proc.stdout.readline().strip()
    assert cid, proc.stderr.read()
    return proc, cid


def test_normal_exit_and_exception_in_process(base_image, docker_client, run_tag):
    tag = f"{run_tag}-inproc"
    with DockerSandbox(base_image, workdir="/", labels={TEST_LABEL: tag}) as sb:
        labels = docker_client.containers.get(sb.id).labels
        assert labels["swescale"] == "1" and labels[OWNER_LABEL].endswith(f":{os.getpid()}")
    with pytest.raises(ValueError):
        with DockerSandbox(base_image, workdir="/", labels={TEST_LABEL: tag}):
            raise ValueError("boom")
    assert our_containers(docker_client, tag) == []


@pytest.mark.parametrize("mode", ["exit", "raise"])
def test_child_exit_paths(base_image, docker_client, run_tag, mode):
    tag = f"{run_tag}-{mode}"
    proc, _ = _child(base_image, tag, mode)
    assert proc.wait(timeout=60) == (0 if mode == "exit" else 1)
    assert our_containers(docker_client, tag) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_child_signals(base_image, docker_client, run_tag, sig):
    tag = f"{run_tag}-{sig.name}"
    proc, cid = _child(base_image, tag, "sleep")
    assert [c.id for c in our_containers(docker_client, tag)] == [cid]
    proc.send_signal(sig)
    code = proc.wait(timeout=60)
    assert (
        code == -sig
    )  # KeyboardInterrupt / SIGTERM re-raised after clean-up: the process dies of the signal
    assert our_containers(docker_client, tag) == []


def test_an_ignored_sigint_stays_ignored(base_image, docker_client, run_tag):
    """Started with SIGINT ignored (a shell's background job): a Ctrl-C leaves the run and its sandbox."""
    tag = f"{run_tag}-ignored"
    proc, cid = _child(base_image, tag, "sleep", ignore_sigint=True)
    proc.send_signal(signal.SIGINT)
    with pytest.raises(subprocess.TimeoutExpired):
        proc.wait(timeout=3)
    assert [c.id for c in our_containers(docker_client, tag)] == [cid]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == -signal.SIGTERM
    assert our_containers(docker_client, tag) == []


BUSY_CHILD = textwrap.dedent(
    f"""
    import sys, threading, time
    from sandbox import DockerSandbox
    from sandbox.cleanup import install_signal_handlers
    install_signal_handlers()
    image, tag = sys.argv[1:3]
    first = DockerSandbox(image, workdir="/", labels={{"{TEST_LABEL}": tag}}).start()

    def keep_starting():  # as verify's worker threads do: a new sandbox as soon as one is done
        while True:
            DockerSandbox(image, workdir="/", labels={{"{TEST_LABEL}": tag}}).start()

    for _ in range(2):
        threading.Thread(target=keep_starting, daemon=True).start()
    time.sleep(3)
    print(first.id, flush=True)
    time.sleep(120)
    """
)


def test_sigterm_while_other_threads_start_sandboxes(base_image, docker_client, run_tag):
    """Containers other threads create while the signal's clean-up runs are removed too."""
    tag = f"{run_tag}-busy"
    proc = subprocess.Popen(
        [sys.executable, "-c", BUSY_CHILD, base_image, tag],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    assert proc.stdout.readline().strip(), proc.stderr.read()
    assert len(our_containers(docker_client, tag)) >= 2
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == -signal.SIGTERM
    assert our_containers(docker_client, tag) == []


def test_sigkill_then_gc(base_image, docker_client, run_tag):
    tag = f"{run_tag}-kill"
    proc, cid = _child(base_image, tag, "sleep")
    proc.kill()
    proc.wait(timeout=30)
    assert [c.id for c in our_containers(docker_client, tag)] == [cid]  # SIGKILL cannot clean up...
    removed = sandbox.gc()  # ...but gc removes containers of dead owners (and only those)
    assert cid in removed or not our_containers(docker_client, tag)  # a concurrent gc may win the race
    assert our_containers(docker_client, tag) == []


NAMESPACED_CHILD = textwrap.dedent(
    f"""
    import os, sys, time
    from sandbox import DockerSandbox
    from sandbox import owner
    owner.RENEW_EVERY, owner.LEASE_SECONDS = 0.25, {{lease}}
    image, tag = sys.argv[1:3]
    sb = DockerSandbox(image, workdir="/", labels={{{{"{TEST_LABEL}": tag}}}}).start()
    print(os.getpid(), sb.id, flush=True)
    time.sleep(300)
    """
)
LEASE = 2.0


@pytest.mark.skipif(os.geteuid() != 0, reason="unshare --pid needs root")
def test_an_owner_in_another_pid_namespace_keeps_its_sandboxes_until_its_lease_expires(
    base_image, docker_client, run_tag
):
    """A live owner whose pid means nothing here (its own PID namespace, as in a container with host
    networking) keeps its sandboxes through gc; once killed, they go when its lease expires."""
    tag = f"{run_tag}-pidns"
    proc = subprocess.Popen(
        [
            "unshare",
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child",
            sys.executable,
            "-c",
            NAMESPACED_CHILD.format(lease=LEASE),
            base_image,
            tag,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    try:
        pid, cid = (proc.stdout.readline().strip().split() + ["", ""])[:2]
        assert cid, proc.stderr.read()
        assert pid == "1"  # its pid in its own namespace: here, that is init
        labels = docker_client.api.inspect_container(cid)["Config"]["Labels"]
        time.sleep(LEASE + 1)  # longer than a lease: only renewals keep it
        # gc's judgement on the labels, and gc's own answer (a process of an older swescale on this host
        # may remove the container meanwhile: the defect this test shows)
        assert owner_alive(labels)
        assert cid not in sandbox.gc()
    finally:
        proc.kill()  # --kill-child: the owner dies with unshare, its container stays
        proc.wait(timeout=30)
    assert owner_alive(labels)  # killed, but its lease has not expired yet: not provably gone
    assert cid not in sandbox.gc()
    time.sleep(LEASE + 1)
    assert not owner_alive(labels)
    removed = sandbox.gc()
    assert cid in removed or not our_containers(docker_client, tag)  # a concurrent gc may win the race
    assert our_containers(docker_client, tag) == []
