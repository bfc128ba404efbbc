"""Start every replica, wait until all are ready, write the endpoints file, then keep them up.

```python
sup = Supervisor(specs, config, Path("servers.yaml"), on_event=print)
try:
    sup.start()        # raises ServeError (with the failing replica's log tail) or Interrupted
    sup.watch()        # until sup.stop_event is set (the CLI sets it on SIGINT / SIGTERM)
finally:
    sup.stop()         # every replica's process group ended; the state file removed
```
A replica that dies is marked down in the state file, its leftover processes are killed, and it is
restarted after a backoff that doubles with each failed attempt. The state file (`<state_dir>/state.json`)
is what `swescale serve status` and `swescale serve stop` read.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from swescale.serve.config import ServeConfig
from swescale.serve.endpoints import endpoints_of, write_endpoints
from swescale.serve.plan import ReplicaSpec
from swescale.serve.ready import Interrupted, ReplicaFailed, wait_ready
from swescale.serve.replica import Replica
from swescale.serve.state import live_state, remove_state, write_state


class ServeError(RuntimeError):
    """The servers could not be started (the message says why, with a log tail when a replica failed)."""


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


class Supervisor:
    def __init__(
        self,
        specs: list[ReplicaSpec],
        config: ServeConfig,
        endpoints_path: Path,
        env: Mapping[str, str] | None = None,
        on_event: Callable[[str], None] = lambda message: None,
    ):
        self.config = config
        self.endpoints_path = Path(endpoints_path)
        self.state_dir = Path(config.state_dir)
        self.replicas = [Replica(s, config, self.state_dir / "logs", env or os.environ) for s in specs]
        self.status = {r.spec.name: "starting" for r in self.replicas}
        self.restarts = {r.spec.name: 0 for r in self.replicas}
        self.formats: dict[str, str] = {}
        self.stop_event = threading.Event()
        self.on_event = on_event
        self._lock = threading.Lock()
        self._phase = "starting"
        self._owner = False
        """Set once the preflight passed: this supervisor writes (and in the end removes) the state file."""
        self._threads: list[threading.Thread] = []

    # -- state file ---------------------------------------------------------------------------------------

    def _save(self) -> None:
        if not self._owner:
            return
        with self._lock:
            write_state(
                self.state_dir,
                {
                    "pid": os.getpid(),
                    "status": self._phase,
                    "endpoints": str(self.endpoints_path.resolve()),
                    "replicas": [
                        {
                            "name": r.spec.name,
                            "role": r.spec.role,
                            "model": r.spec.model,
                            "engine": r.spec.engine.name,
                            "url": r.spec.url,
                            "gpus": list(r.spec.gpus) if r.spec.gpus is not None else None,
                            "pid": r.pid,
                            "pgid": r.pgid,
                            "status": self.status[r.spec.name],
                            "restarts": self.restarts[r.spec.name],
                            "log": str(r.log.resolve()),
                        }
                        for r in self.replicas
                    ],
                },
            )

    def _mark(self, replica: Replica, status: str) -> None:
        self.status[replica.spec.name] = status
        self._save()

    # -- start ----------------------------------------------------------------------------------------------

    def _preflight(self) -> None:
        running = live_state(self.state_dir)
        if running is not None:
            raise ServeError(
                f"a swescale serve is already running from {self.state_dir} (pid {running.get('pid')}); "
                "see `swescale serve status`, end it with `swescale serve stop`"
            )
        for engine in {r.spec.engine for r in self.replicas}:
            problem = engine.missing(self.config)
            if problem:
                raise ServeError(f"{engine.name} cannot run: {problem}")
        busy = [r.spec.port for r in self.replicas if port_in_use(r.spec.host, r.spec.port)]
        if busy:
            raise ServeError(f"port(s) {busy} already in use; choose others with --port-base")

    def start(self) -> None:
        """Launch every replica and wait until all are ready, then write the endpoints file."""
        self._preflight()
        self._owner = True
        self._save()
        for replica in self.replicas:
            try:
                replica.start()
            except OSError as exc:
                raise ServeError(
                    f"cannot run {replica.argv[0]!r} ({exc}); {replica.spec.engine.install_hint}"
                ) from exc
            self.on_event(f"{replica.spec.name}: started pid {replica.pid}, log {replica.log}")
        self._save()
        failed = threading.Event()  # the first failure ends the others' wait
        waiting = _AnyEvent(self.stop_event, failed)

        def ready(replica: Replica) -> str:
            try:
                fmt = wait_ready(replica, replica.spec.tool_format, self.config.ready_timeout, waiting)
            except ReplicaFailed:
                failed.set()
                raise
            self.status[replica.spec.name] = "up"
            checked = (
                f"{fmt} tool calls"
                if replica.spec.family.smoke == "tool_call"
                else f"an answer, {fmt} format"
            )
            checked = "logprobs" if replica.spec.role == "judge" else checked
            self.on_event(f"{replica.spec.name}: ready on {replica.spec.url} ({checked} checked)")
            return fmt

        with ThreadPoolExecutor(max_workers=len(self.replicas)) as pool:
            futures = [pool.submit(ready, r) for r in self.replicas]
            errors = []
            for replica, future in zip(self.replicas, futures, strict=True):
                try:
                    self.formats[replica.spec.name] = future.result()
                except (ReplicaFailed, Interrupted) as exc:
                    errors.append(exc)
        failures = [e for e in errors if isinstance(e, ReplicaFailed)]
        if failures:
            raise ServeError(str(failures[0]))
        if errors:
            raise Interrupted("stopped before every replica was ready")
        try:
            endpoints = endpoints_of([r.spec for r in self.replicas], self.formats)
        except ValueError as exc:
            raise ServeError(str(exc)) from exc
        write_endpoints(endpoints, self.endpoints_path)
        self._phase = "ready"
        self._save()
        self.on_event(f"all {len(self.replicas)} replica(s) ready; endpoints in {self.endpoints_path}")

    # -- watch ----------------------------------------------------------------------------------------------

    def watch(self, poll: float = 0.5) -> None:
        """Restart replicas that die, until `stop_event` is set."""
        while not self.stop_event.wait(poll):
            for replica in self.replicas:
                if self.status[replica.spec.name] == "up" and not replica.alive():
                    self.on_event(f"{replica.spec.name}: exited with code {replica.returncode}; marked down")
                    self._mark(replica, "down")
                    thread = threading.Thread(target=self._restart, args=(replica,), daemon=True)
                    self._threads.append(thread)
                    thread.start()

    def _restart(self, replica: Replica) -> None:
        name = replica.spec.name
        fmt = self.formats.get(name, replica.spec.tool_format)
        replica.stop(timeout=5)  # what is left of the old process group (engine workers hold GPU memory)
        failures = 0
        while not self.stop_event.is_set():
            delay = min(self.config.restart_backoff * 2**failures, 300.0)
            self.on_event(f"{name}: restarting in {delay:g} s")
            if self.stop_event.wait(delay):
                return
            try:
                replica.start()
                self._save()
                wait_ready(replica, fmt, self.config.ready_timeout, self.stop_event)
            except Interrupted:
                return
            except (ReplicaFailed, OSError) as exc:
                failures += 1
                replica.stop(timeout=5)
                self.on_event(f"{name}: restart {failures} failed: {str(exc).splitlines()[0]}")
                if self.config.max_restarts and failures >= self.config.max_restarts:
                    self._mark(replica, "failed")
                    return
                continue
            self.restarts[name] += 1
            self._mark(replica, "up")
            self.on_event(f"{name}: back up on {replica.spec.url}")
            return

    # -- stop -----------------------------------------------------------------------------------------------

    def stop(self) -> None:
        """End every replica (SIGTERM, then SIGKILL after serve.stop_timeout) and remove the state file."""
        self.stop_event.set()
        self._phase = "stopping"
        with contextlib.suppress(OSError):
            self._save()
        for thread in self._threads:
            thread.join(timeout=self.config.stop_timeout + 15)
        with ThreadPoolExecutor(max_workers=max(1, len(self.replicas))) as pool:
            list(pool.map(lambda r: r.stop(), self.replicas))
        for replica in self.replicas:
            self.status[replica.spec.name] = "stopped"
        if self._owner:
            remove_state(self.state_dir)
        self.on_event("every replica stopped")


class _AnyEvent:
    """Looks like a threading.Event that is set when any of its events is."""

    def __init__(self, *events: threading.Event):
        self.events = events

    def is_set(self) -> bool:
        return any(e.is_set() for e in self.events)

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.is_set() and time.monotonic() < deadline:
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        return self.is_set()
