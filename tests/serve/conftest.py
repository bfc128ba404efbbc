"""Fixtures of the serve tests: the `vllm` stand-in on PATH, free ports, and a scan for its processes."""

from __future__ import annotations

import json
import os
import random
import socket
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FAKE = Path(__file__).with_name("fake_vllm.py")


def ports_free(base: int, count: int) -> bool:
    for port in range(base, base + count):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_port_base(count: int = 4) -> int:
    """The first of `count` consecutive free loopback ports (random, so parallel runs rarely collide)."""
    for _ in range(200):
        base = random.randrange(20000, 40000)
        if ports_free(base, count):
            return base
    raise RuntimeError("no free ports")


class FakeVllm:
    """The stand-in's bin folder, its records and a way to find its processes (by a tag in their env)."""

    def __init__(self, tmp: Path, monkeypatch: pytest.MonkeyPatch):
        self.bin = tmp / "bin"
        self.bin.mkdir()
        self.record = tmp / "vllm-starts.jsonl"
        self.tag = uuid.uuid4().hex
        exe = self.bin / "vllm"
        exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
        exe.chmod(0o755)
        self.env = {
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
            "FAKE_VLLM_RECORD": str(self.record),
            "FAKE_VLLM_COUNTER": str(tmp / "script-counter"),
            "FAKE_VLLM_TAG": self.tag,
        }
        for key, value in self.env.items():
            monkeypatch.setenv(key, value)

    def starts(self) -> list[dict]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text().splitlines()]

    def processes(self) -> list[int]:
        """Pids of live processes started by the stand-in (the replicas and their "engine" children)."""
        needle = f"FAKE_VLLM_TAG={self.tag}".encode()
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                environ = (entry / "environ").read_bytes()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if needle in environ.split(b"\0") and state != "Z":
                pids.append(int(entry.name))
        return pids


@pytest.fixture
def fake_vllm(tmp_path, monkeypatch) -> FakeVllm:
    """The `vllm` stand-in first on PATH (for this process and the ones it starts)."""
    return FakeVllm(tmp_path, monkeypatch)


@pytest.fixture
def port_base() -> int:
    return free_port_base()
