"""A thin docker-py layer for image builds and evaluation runs: start, exec with timeout, copy, commit, remove."""

from __future__ import annotations

import io
import os
import socket
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import docker
from docker.models.containers import Container
from docker.types import Mount

OWNER = "swescale.owner"
# build containers are owned by this process; images committed from them reset the owner label
LABELS = {"swescale": "1", OWNER: f"{socket.gethostname()}:{os.getpid()}"}


@dataclass
class Run:
    exit_code: int
    output: str
    timed_out: bool
    duration: float


def client(timeout: int = 600) -> docker.DockerClient:
    return docker.from_env(timeout=timeout)


def tar_bytes(files: dict[str, bytes | str], mode: int = 0o644) -> bytes:
    """A tar archive of {path inside archive: content}."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            raw = data.encode() if isinstance(data, str) else data
            info = tarfile.TarInfo(name.lstrip("/"))
            info.size, info.mode, info.mtime = len(raw), mode, int(time.time())
            tar.addfile(info, io.BytesIO(raw))
    return buf.getvalue()


@contextmanager
def running(
    image: str,
    *,
    network: bool = False,
    mounts: dict[str, str] | None = None,
    tmpfs: list[str] | None = None,
    name_prefix: str = "swescale-env",
    dc: docker.DockerClient | None = None,
) -> Iterator[Container]:
    """A started container (idle `sleep infinity`), always removed with force afterwards.

    `mounts` are host path -> container path, bound read-only; put them under a `tmpfs` path so that not
    even their mount points are part of a committed image.
    """
    dc = dc or client()
    binds = [Mount(cont, host, type="bind", read_only=True) for host, cont in (mounts or {}).items()]
    binds = [Mount(path, None, type="tmpfs") for path in tmpfs or []] + binds
    container = dc.containers.run(
        image,
        command=["sleep", "infinity"],
        name=f"{name_prefix}-{uuid.uuid4().hex[:10]}",
        detach=True,
        labels=LABELS,
        network_mode="bridge" if network else "none",
        mounts=binds,
        entrypoint=[],
    )
    try:
        yield container
    finally:
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass


def put_files(container: Container, files: dict[str, bytes | str], mode: int = 0o644) -> None:
    """Write files (absolute container paths) through put_archive."""
    container.put_archive("/", tar_bytes({p.lstrip("/"): d for p, d in files.items()}, mode))


def exec_run(
    container: Container,
    cmd: str,
    *,
    timeout: float | None = None,
    workdir: str | None = None,
    environment: dict[str, str] | None = None,
) -> Run:
    """Run `bash -c cmd`, output merged; on timeout the container is killed (callers then drop it)."""
    api = container.client.api
    exec_id = api.exec_create(container.id, ["bash", "-c", cmd], workdir=workdir, environment=environment)["Id"]
    chunks: list[bytes] = []
    error: list[BaseException] = []

    def pump() -> None:
        try:
            for chunk in api.exec_start(exec_id, stream=True):
                chunks.append(chunk)
        except Exception as exc:  # noqa: BLE001 - re-raised in the caller's thread
            error.append(exc)

    start = time.monotonic()
    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    thread.join(timeout)
    timed_out = thread.is_alive()
    if timed_out:
        try:
            container.kill()
        except docker.errors.APIError:
            pass
        thread.join(10)
    if error and not timed_out:
        raise error[0]
    output = b"".join(chunks).decode(errors="replace")
    code = -1 if timed_out else api.exec_inspect(exec_id).get("ExitCode")
    return Run(exit_code=code if code is not None else -1, output=output, timed_out=timed_out,
               duration=time.monotonic() - start)
