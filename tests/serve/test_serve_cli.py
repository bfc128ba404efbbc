"""`swescale serve` as a user runs it (a subprocess), with the `vllm` stand-in on PATH."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from swescale.serve.state import read_state

pytestmark = pytest.mark.timeout(180)
MODEL = "Qwen/Qwen2.5-Coder-32B-Instruct"


def swescale(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The CLI in a subprocess; its stderr with rich's line wrapping undone (in `.stderr`)."""
    proc = subprocess.run(
        [sys.executable, "-m", "swescale.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    proc.stderr = " ".join(proc.stderr.split())
    return proc


def start_serve(cwd: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "swescale.cli.main", "serve", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_file(path: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"serve exited early:\n{proc.stdout.read()}")
        assert time.monotonic() < deadline, "servers.yaml never appeared"
        time.sleep(0.1)


def test_serve_two_replicas_writes_servers_yaml_and_ctrl_c_leaves_no_process(fake_vllm, tmp_path, port_base):
    proc = start_serve(
        tmp_path, "--model", MODEL, "--gpus", "0,1", "--replicas", "2", "--port-base", str(port_base)
    )
    try:
        wait_file(tmp_path / "servers.yaml", proc)  # the default: servers.yaml in the current folder
        servers = yaml.safe_load((tmp_path / "servers.yaml").read_text())
        assert servers["agent"]["urls"] == [f"http://127.0.0.1:{port_base + i}/v1" for i in (0, 1)]
        starts = fake_vllm.starts()
        assert len(starts) == 2 and {s["cuda"] for s in starts} == {"0", "1"}
        assert all("--tool-call-parser hermes" in " ".join(s["argv"]) for s in starts)
        assert len(fake_vllm.processes()) == 5  # serve itself, two replicas, two "engine" children
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "every replica stopped" in out
    assert not fake_vllm.processes()
    assert read_state(tmp_path / ".swescale" / "serve") is None


def test_detach_then_status_and_stop(fake_vllm, tmp_path, port_base):
    started = swescale(
        "serve", "--model", MODEL, "--replicas", "2", "--port-base", str(port_base), "--detach", cwd=tmp_path
    )
    try:
        assert started.returncode == 0, started.stderr
        assert "ready" in started.stderr and (tmp_path / "servers.yaml").exists()
        status = swescale("serve", "status", cwd=tmp_path)
        assert status.returncode == 0, status.stderr
        rows = [line for line in status.stdout.splitlines() if "agent-" in line]
        assert len(rows) == 2 and all(" up " in r and " 200 " in r for r in rows), status.stdout
        again = swescale(
            "serve", "--model", MODEL, "--port-base", str(port_base + 5), "--detach", cwd=tmp_path
        )
        assert again.returncode == 1 and "already running" in again.stderr
    finally:
        stopped = swescale("serve", "stop", cwd=tmp_path)
    assert stopped.returncode == 0 and "stopped swescale serve" in stopped.stderr, stopped.stderr
    assert not fake_vllm.processes()
    assert swescale("serve", "status", cwd=tmp_path).returncode == 1


def test_stop_ends_the_replicas_of_a_supervisor_killed_with_sigkill(fake_vllm, tmp_path, port_base):
    started = swescale("serve", "--model", MODEL, "--port-base", str(port_base), "--detach", cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    state = read_state(tmp_path / ".swescale" / "serve")
    os.kill(state["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while state["pid"] in fake_vllm.processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake_vllm.processes()  # the orphaned replica and its engine child
    stopped = swescale("serve", "stop", cwd=tmp_path)
    assert stopped.returncode == 0, stopped.stderr
    assert not fake_vllm.processes()


def test_bad_requests_are_clear_errors(fake_vllm, tmp_path, port_base):
    plan = swescale("serve", "--model", MODEL, "--gpus", "0,1,2", "--tensor-parallel", "2", cwd=tmp_path)
    assert plan.returncode == 2 and "groups of --tensor-parallel 2" in plan.stderr
    missing = swescale(
        "serve",
        "--model",
        MODEL,
        "--port-base",
        str(port_base),
        "--set",
        "serve.vllm=/nonexistent/vllm",
        cwd=tmp_path,
    )
    assert missing.returncode == 1 and "install vLLM" in missing.stderr
    replicas = swescale("serve", "--model", MODEL, "--replicas", "two", cwd=tmp_path)
    assert replicas.returncode == 2 and "--replicas must be a number or auto" in replicas.stderr
    assert swescale("serve", cwd=tmp_path).returncode == 2
    assert not fake_vllm.processes()


@pytest.mark.parametrize(
    "command",
    [
        ["solve", "--repo", ".", "--issue", "x"],
        ["bench", "run", "--dataset", "d.jsonl", "--run-dir", "r", "--output", "p.jsonl"],
        ["select", "--dataset", "d.jsonl", "--candidates", "c.jsonl", "--output", "p.jsonl"],
        ["bot", "github"],
    ],
)
def test_every_command_reads_the_endpoints_file(tmp_path, command):
    (tmp_path / "servers.yaml").write_text("agent: {urls: not-a-list}\n")
    out = swescale(*command, "--servers", "servers.yaml", cwd=tmp_path)
    assert out.returncode == 2 and "endpoints file servers.yaml" in out.stderr, out.stderr
