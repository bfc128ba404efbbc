"""`swescale bot serve` as a child process on loopback, and signed deliveries to it."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests
from bot_support import bot_env, swescale_cmd

from swescale.bot.signature import sign

SECRET = "webhook-secret-for-tests-0123"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Serve:
    """One server process; `restart()` starts a new one on the same state directory."""

    def __init__(self, github, state_dir: Path, log: Path, *args: str):
        self.github, self.state_dir, self.log, self.args = github, state_dir, log, list(args)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, *extra: str) -> Serve:
        cmd = swescale_cmd(
            "bot", "serve", "--host", "127.0.0.1", "--port", str(self.port),
            f"bot.state_dir={self.state_dir}", f"bot.api_url={self.github.url}", "bot.write_interval=0",
            *self.args, *extra,
        )  # fmt: skip
        out = self.log.open("a")
        self.proc = subprocess.Popen(
            cmd,
            env=bot_env(self.github, SWESCALE_WEBHOOK_SECRET=SECRET),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).ok:
                    return self
            except requests.ConnectionError:
                time.sleep(0.2)
        raise AssertionError("the server did not start: " + self.log.read_text()[-3000:])

    def health(self) -> dict:
        return requests.get(f"{self.url}/healthz", timeout=5).json()

    def deliver(
        self, event: str, payload: dict, delivery: str, secret: str = SECRET, signature: str | None = None
    ):
        body = json.dumps(payload).encode()
        headers = {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": sign(secret, body) if signature is None else signature,
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/test",
        }
        return requests.post(f"{self.url}/webhook", data=body, headers=headers, timeout=10)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=60)

    def wait_for(self, condition, timeout: float = 120, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            assert self.proc is None or self.proc.poll() is None, self.log.read_text()[-3000:]
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}: " + self.log.read_text()[-3000:])
