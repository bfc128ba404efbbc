"""One replica: a `vllm serve` process in its own process group, writing its own log.

Stopping signals the whole group (vLLM's engine and worker processes live in it), so nothing is left
behind even when the API server process already died.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from swescale.serve.config import ServeConfig
from swescale.serve.plan import ReplicaSpec


def log_tail(path: Path, lines: int = 40) -> str:
    """The last `lines` lines of a log file ("" when it does not exist)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            text = fh.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def group_alive(pgid: int) -> bool:
    """Does a live (not zombie) process of process group `pgid` exist?"""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":  # state, ppid, pgrp
                return True
    return False


def kill_group(pgid: int, timeout: float, reap: Callable[[], object] = lambda: None) -> None:
    """SIGTERM the group, wait up to `timeout` seconds for it to go, then SIGKILL what is left.

    `reap` is called while waiting (a zombie leader still counts as a member until its parent reaps it).
    """
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            reap()
            if not group_alive(pgid):
                return
            time.sleep(0.05)


class Replica:
    """A replica's process. `start()` launches it (appending to its log), `stop()` ends its process group."""

    def __init__(self, spec: ReplicaSpec, config: ServeConfig, log_dir: Path, env: Mapping[str, str]):
        self.spec = spec
        self.config = config
        self.log = log_dir / f"{spec.name}.log"
        self.base_env = dict(env)
        self.process: subprocess.Popen | None = None
        self.pgid: int | None = None

    @property
    def argv(self) -> list[str]:
        return self.spec.argv(self.config)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            log.write(f"== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(self.argv)}\n".encode())
            log.flush()
            try:
                self.process = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=self.spec.env(self.base_env),
                    start_new_session=True,  # its own process group (and session): stopped as one
                )
            except OSError as exc:
                log.write(f"could not start {self.argv[0]}: {exc}\n".encode())
                raise
        self.pgid = self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.process.poll() if self.process else None

    def stop(self, timeout: float | None = None) -> None:
        """End the replica's whole process group (also after its main process died) and reap it."""
        if self.pgid is not None:
            reap = self.process.poll if self.process else (lambda: None)
            kill_group(self.pgid, self.config.stop_timeout if timeout is None else timeout, reap)
        if self.process is not None:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def tail(self, lines: int = 40) -> str:
        return log_tail(self.log, lines)
