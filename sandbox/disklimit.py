"""A disk limit per sandbox (`SandboxConfig.disk_limit`): one runaway write must not fill Docker's disk for
every worker.

Where the storage driver can (overlay2 on xfs with pquota, btrfs, zfs...), the container is created with
`--storage-opt size=<limit>` and writes beyond it fail with ENOSPC. Whether it can is learnt from the
first creation of the process (the engine refuses the option otherwise). Elsewhere `DiskWatch` looks at the
container's writable layer (`SizeRw`) every `CHECK_EVERY` seconds while a command runs; over the limit it
stops the sandbox's running commands and the command's output says why.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import docker
from docker.utils import parse_bytes

from sandbox.result import ExecResult

log = logging.getLogger(__name__)

CHECK_EVERY = 2.0  # seconds between two looks at a running command's writable layer

_driver_quota: bool | None = None  # can the engine's storage driver limit a container's size? (learnt once)


def limit_bytes(limit: str) -> int:
    """`disk_limit` in bytes (0: no limit)."""
    return int(parse_bytes(limit)) if limit.strip() else 0


def human(size: float) -> str:
    return f"{size / 2**30:.3g} GB" if size >= 2**30 else f"{size / 2**20:.0f} MB"


def create_limited(create: Callable[..., Any], limit: str, **kwargs: Any) -> tuple[Any, bool]:
    """`create(**kwargs)` with the driver's size quota when it has one; returns (container, quota set)."""
    global _driver_quota
    if limit_bytes(limit) and _driver_quota is not False:
        try:
            container = create(storage_opt={"size": limit}, **kwargs)
        except docker.errors.APIError as exc:
            if "storage-opt" not in str(exc).lower() and "storage opt" not in str(exc).lower():
                raise
            _driver_quota = False  # e.g. "--storage-opt is supported only for overlay over xfs with 'pquota'"
        else:
            _driver_quota = True
            return container, True
    return create(**kwargs), False


def layer_size(client: docker.DockerClient, container_id: str) -> int | None:
    """Bytes in the container's writable layer (None: not known, e.g. the container is gone)."""
    rows = client.api.containers(all=True, size=True, filters={"id": container_id})
    return rows[0].get("SizeRw") if rows else None


class DiskWatch:
    """Around one command: polls `measure()` every CHECK_EVERY s; once it passes `limit` bytes, calls
    `stop()` (which kills the running commands) and `annotate` says so in the result."""

    def __init__(self, limit: int, measure: Callable[[], int | None], stop: Callable[[], None]) -> None:
        self.limit, self.measure, self.stop = limit, measure, stop
        self.reached: int | None = None
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> DiskWatch:
        if self.limit:
            self._thread = threading.Thread(target=self._watch, name="sandbox-disk-watch", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()

    def _watch(self) -> None:
        while not self._done.wait(CHECK_EVERY):
            try:
                size = self.measure()
            except docker.errors.DockerException:
                continue  # a slow or failed look: the next one decides
            if size is not None and size > self.limit:
                self.reached = size
                try:
                    self.stop()
                except Exception as exc:  # noqa: BLE001 - e.g. the sandbox was closed meanwhile
                    log.warning("could not stop the commands of a sandbox past its disk limit: %s", exc)
                return

    def annotate(self, result: ExecResult) -> ExecResult:
        if self.reached is None:
            return result
        note = (
            f"\n[the sandbox's disk limit of {human(self.limit)} was reached: the files written in it hold "
            f"{human(self.reached)}, so the command was stopped; remove files before writing more]"
        )
        return replace(result, output=result.output + note, exit_code=result.exit_code or 137)
