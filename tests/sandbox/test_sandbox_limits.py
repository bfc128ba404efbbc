"""Hostile commands are contained and reported; the network is off unless asked for."""

from __future__ import annotations

import time
import urllib.request  # noqa: F401 - documents what the in-container snippets use

import pytest

from sandbox import DockerSandbox, SandboxConfig
from sandbox.cleanup import owner_labels
from tests.sandbox.conftest import TEST_LABEL

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def tight(base_image, run_tag):
    config = SandboxConfig(memory="256m", pids_limit=64, output_limit=10_000, cpus=1.0)
    with DockerSandbox(base_image, workdir="/", config=config, labels={TEST_LABEL: run_tag}) as sb:
        yield sb


def _alive(sb, docker_client) -> None:
    assert sb.exec("echo alive").output == "alive\n"
    assert docker_client.containers.get(sb.id).status == "running"


def test_fork_bomb(tight, docker_client):
    r = tight.exec(":(){ :|:& };:", timeout=5)
    assert r.timed_out or "background processes still writing to the output were killed" in r.output
    time.sleep(0.2)
    assert tight.exec("ls /proc | grep -c '^[0-9]'").output.strip() in {str(n) for n in range(1, 10)}
    _alive(tight, docker_client)


def test_memory_hog(tight, docker_client):
    hog = "python3 -c \"x = []\nwhile True: x.append(b'x' * 10**7)\""
    r = tight.exec(hog, timeout=60)
    assert r.exit_code != 0 and not r.timed_out  # OOM-killed (137) or MemoryError, never the server
    _alive(tight, docker_client)


def test_endless_printer(tight, docker_client):
    r = tight.exec("yes 'spam spam spam'", timeout=2)
    assert r.timed_out and r.truncated and len(r.output) < 11_000
    assert r.output.startswith("spam spam spam\n") and "bytes of output truncated" in r.output
    r = tight.exec("head -c 200000000 /dev/zero | tr '\\0' x; echo; echo done", timeout=60)
    assert r.exit_code == 0 and r.truncated and r.output.endswith("done\n")
    _alive(tight, docker_client)


@pytest.fixture(scope="module")
def web(docker_client, base_image, run_tag):
    """A user-defined network with an HTTP server container on it (only addresses this test creates)."""
    labels = {**owner_labels(), TEST_LABEL: run_tag}  # gc removes them if this process dies
    net = docker_client.networks.create(f"swescale-test-{run_tag}", driver="bridge", labels=labels)
    server = docker_client.containers.run(
        base_image,
        ["python3", "-m", "http.server", "8000", "--directory", "/etc"],
        name=f"swescale-test-web-{run_tag}",
        network=net.name,
        labels=labels,
        detach=True,
    )
    try:
        server.reload()
        ip = server.attrs["NetworkSettings"]["Networks"][net.name]["IPAddress"]
        yield net.name, server.name, ip
    finally:
        server.remove(force=True)
        net.remove()


FETCH = (
    'python3 -c "import sys, urllib.request; '
    'print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode()[:20])" {url}'
)


def test_network_off_by_default(web, base_image, run_tag):
    _, _, ip = web
    with DockerSandbox(base_image, workdir="/", labels={TEST_LABEL: run_tag}) as sb:
        assert sb.exec("ls /sys/class/net").output.split() == ["lo"]
        r = sb.exec(FETCH.format(url=f"http://{ip}:8000/hostname"), timeout=20)
        assert r.exit_code != 0 and ("unreachable" in r.output.lower() or "error" in r.output.lower())


def test_network_when_asked(web, base_image, run_tag):
    net, server, _ = web
    with DockerSandbox(base_image, workdir="/", network=net, labels={TEST_LABEL: run_tag}) as sb:
        for _ in range(30):  # the server needs a moment to listen
            r = sb.exec(FETCH.format(url=f"http://{server}:8000/hostname"), timeout=20)
            if r.exit_code == 0:
                break
            time.sleep(0.3)
        assert r.exit_code == 0, r.output


def test_a_runaway_writer_is_stopped_at_the_disk_limit(base_image, run_tag, docker_client):
    """Without a driver quota (overlay2 on ext4 here) the watchdog stops the command near the limit."""
    config = SandboxConfig(disk_limit="200m")
    with DockerSandbox(base_image, workdir="/", config=config, labels={TEST_LABEL: run_tag}) as sb:
        writer = (
            "for i in $(seq 150); do head -c 20000000 /dev/zero > /tmp/f$i; sleep 0.1; done; echo wrote all"
        )
        started = time.monotonic()
        r = sb.exec(writer, timeout=120)
        assert "the sandbox's disk limit of 200 MB was reached" in r.output, r.output[-500:]
        assert "wrote all" not in r.output and r.exit_code != 0 and not r.timed_out
        assert time.monotonic() - started < 60
        written = int(sb.exec("du -sm /tmp | cut -f1").output.strip())
        assert 200 < written < 1000  # stopped within a few checks of the limit, far from the 3 GB asked
        assert sb.exec("rm -f /tmp/f*; echo freed").output == "freed\n"
        _alive(sb, docker_client)
