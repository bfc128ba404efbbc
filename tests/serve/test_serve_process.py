"""Replicas as real processes, played by the `vllm` stand-in: readiness, failures with their log tail,
restart after kill -9, and a stop that leaves no process."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import yaml

from swescale.serve.config import ServeConfig
from swescale.serve.families import load_families
from swescale.serve.plan import plan_replicas
from swescale.serve.ready import serves
from swescale.serve.state import read_state
from swescale.serve.supervisor import ServeError, Supervisor

pytestmark = pytest.mark.timeout(120)


def supervisor(
    tmp: Path,
    port_base: int,
    models=("Qwen/Qwen2.5-Coder-32B-Instruct",),
    gpus=(0, 1),
    replicas=2,
    judge=None,
    **config,
) -> Supervisor:
    cfg = ServeConfig(port_base=port_base, state_dir=str(tmp / "state"), restart_backoff=0.2, **config)
    specs = plan_replicas(list(models), judge, list(gpus) if gpus else None, replicas, cfg, load_families())
    return Supervisor(specs, cfg, tmp / "servers.yaml")


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_two_replicas_with_hermes_each_on_its_gpu_endpoints_written_once_ready(
    fake_vllm, tmp_path, port_base, monkeypatch
):
    monkeypatch.setenv("FAKE_VLLM_LOAD_SECONDS", "1.5")
    sup = supervisor(tmp_path, port_base)
    started = time.monotonic()
    thread = threading.Thread(target=sup.start)
    thread.start()
    try:
        endpoints = wait_for(lambda: (tmp_path / "servers.yaml").exists(), what="servers.yaml")
        assert endpoints and all(serves(r.spec) for r in sup.replicas)  # written only once all serve
        assert time.monotonic() - started >= 1.5
        thread.join(timeout=30)
        starts = sorted(fake_vllm.starts(), key=lambda s: s["cuda"])
        assert [s["cuda"] for s in starts] == ["0", "1"]
        for start in starts:
            argv = " ".join(start["argv"])
            assert argv.startswith("vllm serve Qwen/Qwen2.5-Coder-32B-Instruct ")
            assert "--enable-auto-tool-choice --tool-call-parser hermes" in argv
            assert "--enable-prefix-caching" in argv
        written = yaml.safe_load((tmp_path / "servers.yaml").read_text())
        assert written["agent"] == {
            "urls": [f"http://127.0.0.1:{port_base}/v1", f"http://127.0.0.1:{port_base + 1}/v1"],
            "name": "Qwen/Qwen2.5-Coder-32B-Instruct",
            "tool_format": "native",
            "models": ["Qwen/Qwen2.5-Coder-32B-Instruct"],
        }
        state = read_state(tmp_path / "state")
        assert state["status"] == "ready" and [r["status"] for r in state["replicas"]] == ["up", "up"]
    finally:
        sup.stop()
    assert not fake_vllm.processes()
    assert read_state(tmp_path / "state") is None


def test_replica_that_exits_early_is_reported_with_its_log_tail(fake_vllm, tmp_path, port_base, monkeypatch):
    monkeypatch.setenv("FAKE_VLLM_FAIL", "torch.OutOfMemoryError: CUDA out of memory (fake)")
    sup = supervisor(tmp_path, port_base)
    try:
        with pytest.raises(ServeError) as info:
            sup.start()
    finally:
        sup.stop()
    message = str(info.value)
    assert "exited with code 1 before it was ready" in message
    assert "CUDA out of memory (fake)" in message and "loading Qwen/Qwen2.5-Coder-32B-Instruct" in message
    assert not (tmp_path / "servers.yaml").exists()
    assert not fake_vllm.processes()


def test_replica_not_ready_in_time_is_stopped_with_its_log_tail(fake_vllm, tmp_path, port_base, monkeypatch):
    monkeypatch.setenv("FAKE_VLLM_LOAD_SECONDS", "60")
    sup = supervisor(tmp_path, port_base, replicas=1, gpus=(0,), ready_timeout=1.0)
    try:
        with pytest.raises(ServeError, match=r"not ready after 1 s(.|\n)*loading"):
            sup.start()
    finally:
        sup.stop()
    assert not fake_vllm.processes()


def test_a_server_that_cannot_call_tools_fails_the_smoke_request(fake_vllm, tmp_path, port_base, monkeypatch):
    monkeypatch.setenv("FAKE_VLLM_NO_TOOLS", "1")
    sup = supervisor(tmp_path, port_base, replicas=1, gpus=(0,))
    try:
        with pytest.raises(ServeError, match="no native call to `swescale_probe`"):
            sup.start()
    finally:
        sup.stop()


def test_text_format_family_is_checked_in_the_text_format(fake_vllm, tmp_path, port_base):
    sup = supervisor(tmp_path, port_base, models=("R2E-Gym/R2EGym-32B-Agent",), replicas=1, gpus=None)
    try:
        sup.start()
    finally:
        sup.stop()
    written = yaml.safe_load((tmp_path / "servers.yaml").read_text())
    assert written["agent"]["tool_format"] == "text"
    assert "--tool-call-parser" not in fake_vllm.starts()[0]["argv"]
    assert fake_vllm.starts()[0]["cuda"] == os.environ.get("CUDA_VISIBLE_DEVICES")  # not pinned


def test_killed_replica_is_marked_down_and_restarted_and_stop_leaves_no_process(
    fake_vllm, tmp_path, port_base
):
    sup = supervisor(tmp_path, port_base)
    watcher = threading.Thread(target=sup.watch)
    try:
        sup.start()
        watcher.start()
        victim = sup.replicas[0]
        old_pid = victim.pid
        assert len(fake_vllm.processes()) == 4  # two replicas, each with its "engine" child
        os.kill(old_pid, signal.SIGKILL)
        replica_state = lambda: read_state(tmp_path / "state")["replicas"][0]  # noqa: E731
        wait_for(lambda: replica_state()["status"] == "down", what="marked down in the state file")
        wait_for(lambda: replica_state()["status"] == "up", what="back up")
        state = replica_state()
        assert state["restarts"] == 1 and state["pid"] != old_pid and state["status"] == "up"
        assert serves(victim.spec)
        assert len(fake_vllm.processes()) == 4  # the killed replica's engine child did not survive
        assert len(fake_vllm.starts()) == 3
    finally:
        sup.stop()
        watcher.join(timeout=30)
    assert not fake_vllm.processes()


def test_a_second_serve_on_the_same_state_or_ports_is_refused(fake_vllm, tmp_path, port_base):
    first = supervisor(tmp_path, port_base, replicas=1, gpus=(0,))
    try:
        first.start()
        with pytest.raises(ServeError, match="already running"):
            supervisor(tmp_path, port_base + 2, replicas=1, gpus=(0,)).start()
        other = tmp_path / "other"
        other.mkdir()
        with pytest.raises(ServeError, match=rf"port\(s\) \[{port_base}\] already in use"):
            supervisor(other, port_base, replicas=1, gpus=(0,)).start()
        assert read_state(tmp_path / "state")["status"] == "ready"  # the refused ones left it alone
    finally:
        first.stop()
