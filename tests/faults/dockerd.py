"""A private Docker daemon for the fault suite: one the tests may kill and restart without touching the
host's engine (which other tests, runs and benchmarks use).

Its own data root, exec root (hence its own containerd), pid file, config file and socket under a temporary
folder; `--bridge=none --iptables=false`: sandboxes run with network `none` and need no bridge (image builds
do: the images a test needs are copied in from the host's engine with `docker save | docker load`). It runs
in a network namespace of its own (`unshare --net`): a dockerd started with `--bridge=none` deletes the
`docker0` interface it finds, which in the host's namespace is the host engine's bridge (every container
on the default network, every image build, loses its network). `start` checks the host's interfaces.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import docker

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
CLOSE_TIMEOUT = 10.0  # at the end its state is thrown away: no need to wait long for a clean stop


class PrivateDockerd:
    """`start()`, `kill(sig)` and `start()` again with the same arguments, `load(images)` from the host's
    engine, `close()` (kill, unmount, remove its folders). `host` is its DOCKER_HOST."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="swd-", dir="/tmp"))  # short: socket paths are bounded
        (self.root / "daemon.json").write_text("{}")  # never the host's /etc/docker/daemon.json
        self.host = f"unix://{self.root}/docker.sock"
        self.args = [
            "unshare",
            "--net",
            shutil.which("dockerd") or "dockerd",
            f"--config-file={self.root}/daemon.json",
            f"--data-root={self.root}/data",
            f"--exec-root={self.root}/exec",
            f"--pidfile={self.root}/docker.pid",
            f"--host={self.host}",
            "--bridge=none",
            "--iptables=false",
            "--ip6tables=false",
            "--log-level=warn",
        ]
        self.process: subprocess.Popen | None = None
        self.restarts = 0

    def client(self, timeout: float = 30) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.host, timeout=timeout)

    def start(self) -> None:
        """Start the daemon (again) and wait until it answers."""
        assert self.process is None or self.process.poll() is not None, "already running"
        if self.process is not None:
            self.restarts += 1
        _clear_stale(self.root / "exec" / "containerd" / "containerd.pid")
        links = _host_links()
        with (self.root / "dockerd.log").open("ab") as log:
            self.process = subprocess.Popen(
                self.args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            with (
                contextlib.suppress(docker.errors.DockerException),
                contextlib.closing(self.client(5)) as client,
            ):
                client.ping()
                break
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"private dockerd did not start:\n{self.log()[-3000:]}")
            time.sleep(0.2)
        gone = links - _host_links()
        if gone:  # never again: the daemon must not touch the host's network
            raise RuntimeError(f"the private dockerd removed host network interfaces: {sorted(gone)}")

    def kill(self, sig: int = signal.SIGKILL, timeout: float = STOP_TIMEOUT) -> None:
        """Send `sig` to the daemon and wait until it is gone, SIGKILL after `timeout` (SIGKILL: its
        containers' shims stay until the next start, which stops their containers; SIGTERM: it stops them)."""
        assert self.process is not None
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def restart(self, sig: int = signal.SIGKILL, down: float = 0.0) -> None:
        """The fault: the daemon killed with `sig`, down for `down` seconds, started again."""
        self.kill(sig)
        time.sleep(down)
        self.start()

    def load(self, *images: str) -> None:
        """Copy images from the host's engine: `docker save | docker load` (no registry here)."""
        host_env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
        save = subprocess.Popen(["docker", "save", *images], stdout=subprocess.PIPE, env=host_env)
        loaded = subprocess.run(
            ["docker", "load", "--quiet"],
            stdin=save.stdout,
            capture_output=True,
            text=True,
            env={**host_env, "DOCKER_HOST": self.host},
        )
        assert save.stdout is not None
        save.stdout.close()
        if save.wait() != 0 or loaded.returncode != 0:
            raise RuntimeError(f"docker save | docker load failed: {loaded.stderr[-2000:]}")

    def log(self) -> str:
        path = self.root / "dockerd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self) -> None:
        """Containers removed, the daemon stopped (killed past STOP_TIMEOUT), processes left under its exec
        root (containerd, shims) killed, its mounts undone and its folders removed."""
        if self.process is not None and self.process.poll() is None:
            with (
                contextlib.suppress(docker.errors.DockerException),
                contextlib.closing(self.client()) as client,
            ):
                for container in client.containers.list(all=True):
                    container.remove(force=True)
            self.kill(signal.SIGTERM, CLOSE_TIMEOUT)
        for pid in _processes_naming(str(self.root)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for mount in sorted(_mounts_under(self.root), key=len, reverse=True):
            subprocess.run(["umount", "-l", mount], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def _host_links() -> set[str]:
    """The network interfaces of this (the host's) network namespace."""
    return set(os.listdir("/sys/class/net"))


def _clear_stale(pidfile: Path) -> None:
    """Remove a pid file whose process is dead or a zombie. A killed dockerd's containerd dies with it, but
    an init that reaps no orphans (as in some containers) leaves it a zombie, which dockerd takes for a live
    containerd and waits for in vain."""
    try:
        pid = int(pidfile.read_text().strip())
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        state = "gone"
    if state in ("Z", "X", "gone"):
        pidfile.unlink(missing_ok=True)


def _processes_naming(text: str) -> list[int]:
    """Processes whose command line contains `text` (this one excepted)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if text.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


def _mounts_under(root: Path) -> list[str]:
    points = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    return [p for p in points if p == str(root) or p.startswith(f"{root}/")]
