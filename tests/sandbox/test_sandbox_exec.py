"""Exec server behaviour against the real Docker engine: exit codes, timeouts, caps, files, threads, pool."""

from __future__ import annotations

import threading
import time

import pytest

from sandbox import DockerSandbox, SandboxConfig, SandboxPool
from tests.sandbox.conftest import TEST_LABEL, our_containers

pytestmark = pytest.mark.docker

COUNT_SLEEPS = "grep -lx sleep /proc/[0-9]*/comm 2>/dev/null | wc -l"  # no procps in the minimal image


@pytest.fixture(scope="module")
def sb(base_image, run_tag):
    config = SandboxConfig(output_limit=2000)
    with DockerSandbox(base_image, workdir="/testbed", config=config, labels={TEST_LABEL: run_tag}) as box:
        yield box


def test_exec_and_exit_codes(sb):
    r = sb.exec("echo out; echo err >&2; pwd")
    assert r.exit_code == 0 and r.ok and not r.timed_out and not r.truncated
    assert r.output.split() == ["out", "err", "/testbed"]
    assert r.duration > 0
    assert sb.exec("exit 3").exit_code == 3
    assert sb.exec("false").exit_code == 1
    assert sb.exec("definitely-not-a-command").exit_code == 127
    assert sb.exec("kill -9 $$").exit_code == 137


def test_fresh_process_cwd_env(sb):
    sb.exec("export FOO=1; cd /tmp")
    assert sb.exec("echo ${FOO:-unset}; pwd").output.split() == ["unset", "/testbed"]
    assert sb.exec("pwd", cwd="/tmp").output.strip() == "/tmp"
    assert sb.exec("echo $BAR", env={"BAR": "baz"}).output.strip() == "baz"
    assert sb.exec("echo $PAGER").output.strip() == "cat"
    assert sb.exec("pwd", cwd="/does/not/exist").exit_code != 0
    # Own process group and session, stdin closed, commands are the OOM killer's first choice.
    stat = sb.exec("cat /proc/$$/stat").output.rsplit(")", 1)[1].split()
    assert stat[2] == stat[3] != "1"  # process group == session == the command's own shell
    assert sb.exec("cat /proc/self/oom_score_adj").output.strip() == "1000"
    assert sb.exec("cat", timeout=5).output == "" and not sb.exec("cat", timeout=5).timed_out


def test_timeout_then_reuse(sb):
    start = time.monotonic()
    r = sb.exec("echo started; sleep 30 & sleep 30; echo never", timeout=1)
    assert r.timed_out and r.exit_code != 0 and "started" in r.output and "never" not in r.output
    assert time.monotonic() - start < 5
    assert sb.exec(COUNT_SLEEPS).output.strip() == "0"  # the whole group was killed
    assert sb.exec("echo alive").output == "alive\n"


def test_background_process_with_redirected_output_survives(sb):
    r = sb.exec("nohup sleep 20 >/dev/null 2>&1 & echo started", timeout=5)
    assert r.output.strip() == "started" and r.duration < 2
    time.sleep(0.5)  # let the background shell exec `sleep`
    assert sb.exec(COUNT_SLEEPS).output.strip() == "1"
    sb.exec("kill $(grep -lx sleep /proc/[0-9]*/comm | cut -d/ -f3)")


def test_output_cap(sb):
    r = sb.exec("seq 1 100000")
    assert r.exit_code == 0 and r.truncated
    assert r.output.startswith("1\n2\n3\n") and r.output.endswith("99999\n100000\n")
    assert "bytes of output truncated" in r.output
    assert len(r.output) < 2200


def test_write_read_copy(sb, tmp_path):
    sb.write_file("/testbed/pkg/x.py", "print('hi')\n")
    assert sb.read_file("/testbed/pkg/x.py") == "print('hi')\n"
    assert sb.exec("python3 pkg/x.py").output == "hi\n"
    blob = bytes(range(256)) * 100
    sb.write_file("rel/blob.bin", blob)  # relative to the workdir
    assert sb.read_bytes("/testbed/rel/blob.bin") == blob
    sb.write_file("/tmp/run.sh", "#!/bin/sh\necho ran\n", mode=0o755)
    assert sb.exec("/tmp/run.sh").output == "ran\n"
    with pytest.raises(FileNotFoundError):
        sb.read_file("/nope/missing.txt")
    (tmp_path / "folder" / "sub").mkdir(parents=True)
    (tmp_path / "folder" / "sub" / "f.txt").write_text("copied")
    sb.copy_to(tmp_path / "folder", "/opt/in")
    assert sb.read_file("/opt/in/folder/sub/f.txt") == "copied"


def test_concurrent_exec_from_threads(sb):
    results: dict[int, str] = {}

    def work(i: int) -> None:
        results[i] = sb.exec(f"sleep 0.5; echo {i}").output.strip()

    start = time.monotonic()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: str(i) for i in range(6)}
    assert time.monotonic() - start < 2.5  # ran concurrently, not 6 x 0.5 s in a row


def test_isolation_settings(sb, docker_client):
    attrs = docker_client.api.inspect_container(sb.id)["HostConfig"]
    assert attrs["NetworkMode"] == "none" and attrs["Privileged"] is False and attrs["Init"] is True
    assert attrs["CapDrop"] == ["ALL"] and "no-new-privileges" in attrs["SecurityOpt"]
    assert attrs["PidsLimit"] > 0 and attrs["Memory"] > 0 and attrs["MemorySwap"] == attrs["Memory"]
    assert sb.exec("grep NoNewPrivs /proc/self/status").output.split()[-1] == "1"
    # Normal work still succeeds without the dropped capabilities.
    r = sb.exec(
        "cd /tmp && rm -rf g && git init -q g && cd g && touch f && chown nobody f && git add f && pip --version"
    )
    assert r.exit_code == 0, r.output


def test_pool_bounds_concurrency(base_image, run_tag, docker_client):
    pool = SandboxPool(max_concurrent=2)
    peak = []

    def work() -> None:
        with pool.sandbox(base_image, workdir="/", labels={TEST_LABEL: run_tag}) as box:
            peak.append(pool.active)
            assert box.exec("echo ok").output == "ok\n"
            time.sleep(0.3)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(peak) == 4 and max(peak) <= 2


@pytest.fixture(scope="module")
def image_without_python(docker_client, base_image, run_tag):
    container = docker_client.containers.run(
        base_image, ["sh", "-c", "rm -f /usr/bin/python3*"], detach=True, labels={TEST_LABEL: run_tag}
    )
    container.wait(timeout=60)
    name = f"swescale-test/nopython:{run_tag}"
    image = container.commit(repository=name.split(":")[0], tag=run_tag)
    container.remove(force=True)
    yield name
    docker_client.images.remove(image.id, force=True)


def test_fallback_without_python(image_without_python, run_tag):
    with DockerSandbox(image_without_python, workdir="/work", labels={TEST_LABEL: run_tag}) as box:
        assert box._fallback
        assert box.exec("echo hi; pwd").output == "hi\n/work\n"
        assert box.exec("exit 4").exit_code == 4
        r = box.exec("sleep 10", timeout=1)
        assert r.timed_out
        box.write_file("/work/a.txt", "data")
        assert box.read_file("/work/a.txt") == "data"


def test_no_container_left(docker_client, run_tag, sb):
    # Only the module's long-lived sandbox may still exist.
    assert [c.id for c in our_containers(docker_client, run_tag)] == [sb.id]
