"""Environment images within a disk budget: last use recorded, least-recently-used pruning, free disk.

swescale's environment images (label `swescale.env`, name `env.image_prefix`) are pruned least recently
used first beyond `env.max_images` / `env.max_disk_gb`, never one in use: not one any container (running
or stopped) was made from, not one leased by a live process (a bench instance holds a lease on its image
while it runs). Last use and leases are kept in a small SQLite file shared by every swescale process on
the host (`env.usage_file`). Before a build, the free disk of Docker's data root is checked.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
from pydantic import BaseModel, Field

from envs.config import EnvConfig
from sandbox.cleanup import owner_alive, owner_labels
from sandbox.store import Store

log = logging.getLogger(__name__)
ENV_LABEL = "swescale.env"
GB = 1024**3
MIGRATIONS = [
    """
CREATE TABLE IF NOT EXISTS used (tag TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS leases (id INTEGER PRIMARY KEY, tag TEXT NOT NULL, owner TEXT NOT NULL, at REAL);
"""
]
"""The schema, one migration per version (`sandbox.store`); 1 is the schema files had before versions."""


def usage_path(config: EnvConfig) -> Path:
    return Path(config.usage_file or Path.home() / ".cache" / "swescale" / "images.sqlite").expanduser()


def _db(config: EnvConfig) -> Store:
    """The usage file, opened for one operation (`with _db(config) as db:`): it is shared by every process."""
    return Store(usage_path(config), MIGRATIONS)


def touch(config: EnvConfig, tag: str) -> None:
    """Record that `tag` was used now."""
    with _db(config) as db:
        db.execute("INSERT OR REPLACE INTO used VALUES (?, ?)", (tag, time.time()))


@contextlib.contextmanager
def lease(config: EnvConfig, tag: str) -> Iterator[None]:
    """Hold `tag` (no prune removes it) while the block runs; a killed holder's lease lapses."""
    with _db(config) as db:
        cur = db.execute(
            "INSERT INTO leases (tag, owner, at) VALUES (?, ?, ?)",
            (tag, json.dumps(owner_labels()), time.time()),
        )
        db.execute("INSERT OR REPLACE INTO used VALUES (?, ?)", (tag, time.time()))
        lease_id = cur.lastrowid
    try:
        yield
    finally:
        with _db(config) as db:
            db.execute("DELETE FROM leases WHERE id=?", (lease_id,))


def _leased(db: Store) -> set[str]:
    out = set()
    for lease_id, tag, owner in db.execute("SELECT id, tag, owner FROM leases").fetchall():
        if owner_alive(json.loads(owner)):
            out.add(tag)
        else:
            db.execute("DELETE FROM leases WHERE id=?", (lease_id,))
    return out


class EnvImage(BaseModel):
    tag: str
    image_id: str
    size: int
    """Bytes of the image's own layers (`docker system df`: size minus what it shares)."""
    last_used: float
    """When swescale last used it (its creation time if never recorded)."""


class PruneReport(BaseModel):
    removed: list[str] = Field(default_factory=list)
    in_use: list[str] = Field(default_factory=list)
    """Over the budget but kept: a container uses them, or a live process leases them."""
    kept: int = 0
    freed_bytes: int = 0


def env_images(client: docker.DockerClient, config: EnvConfig) -> list[EnvImage]:
    """swescale's environment images under `config.image_prefix`, most recently used first."""
    repository = config.image_prefix
    with _db(config) as db:
        used = dict(db.execute("SELECT tag, at FROM used").fetchall())
    out = []
    for info in client.df().get("Images") or []:
        if ENV_LABEL not in (info.get("Labels") or {}):
            continue
        size = int(info.get("Size") or 0) - max(0, int(info.get("SharedSize") or 0))
        for tag in info.get("RepoTags") or []:
            if tag.rpartition(":")[0] == repository:
                out.append(
                    EnvImage(
                        tag=tag,
                        image_id=info["Id"],
                        size=max(0, size),
                        last_used=used.get(tag, info["Created"]),
                    )
                )
    return sorted(out, key=lambda i: -i.last_used)


def _in_use(client: docker.DockerClient, db: Store) -> tuple[set[str], set[str]]:
    """(image ids that a container was made from, tags leased by live processes)."""
    ids = {c.get("ImageID") for c in client.api.containers(all=True)}
    return {i for i in ids if i}, _leased(db)


def free_bytes(client: docker.DockerClient) -> int | None:
    """Free bytes of the engine's data root, if it is on this machine (else None: not checked)."""
    try:
        root = client.info().get("DockerRootDir") or ""
    except docker.errors.DockerException:
        return None
    return shutil.disk_usage(root).free if root and os.path.isdir(root) else None


def prune(
    config: EnvConfig,
    client: docker.DockerClient | None = None,
    *,
    need_free: int = 0,
    say: Callable[[str], None] = log.info,
) -> PruneReport:
    """Remove the least recently used images beyond `max_images` / `max_disk_gb`, and more (still least
    recently used first) while the disk has less than `need_free` bytes free. Never an image in use."""
    client = client or docker.from_env(timeout=120)
    images = env_images(client, config)
    report = PruneReport()
    with _db(config) as db:
        containers, leased = _in_use(client, db)
    kept_count, kept_bytes, seen = 0, 0, set()
    for image in images:
        shared_id = image.image_id in seen  # another tag of an image counted already
        over = (config.max_images and kept_count >= config.max_images) or (
            config.max_disk_gb and kept_bytes + (0 if shared_id else image.size) > config.max_disk_gb * GB
        )
        short = need_free and (free_bytes(client) or need_free) < need_free
        if not (over or short):
            kept_count, kept_bytes = kept_count + 1, kept_bytes + (0 if shared_id else image.size)
            seen.add(image.image_id)
            continue
        if image.image_id in containers or image.tag in leased:
            report.in_use.append(image.tag)
            continue
        try:
            client.images.remove(image.tag)
        except docker.errors.APIError as exc:  # e.g. a container started meanwhile (409 conflict)
            say(f"kept {image.tag}: {exc.explanation or exc}")
            report.in_use.append(image.tag)
            continue
        report.removed.append(image.tag)
        report.freed_bytes += image.size
        say(f"removed {image.tag} ({image.size / GB:.2f} GB, last used {time.ctime(image.last_used)})")
    report.kept = len(images) - len(report.removed)
    return report


def check_disk(config: EnvConfig, client: docker.DockerClient, what: str) -> str | None:
    """Before a build: free the disk down to `env.min_free_gb` by pruning; returns a message if it still
    has less free, else None. (A remote engine's disk is not checked.)"""
    need = int(config.min_free_gb * GB)
    free = free_bytes(client) if need else None
    if free is None or free >= need:
        return None
    prune(config, client, need_free=need)
    free = free_bytes(client) or 0
    if free >= need:
        return None
    return (
        f"only {free / GB:.1f} GB free on Docker's data root, {config.min_free_gb:g} GB needed to build {what} "
        f"(env.min_free_gb); remove images with `swescale env prune`, or free the disk"
    )


_slots: dict[int, threading.BoundedSemaphore] = {}
_slots_guard = threading.Lock()


def build_slot(config: EnvConfig) -> threading.BoundedSemaphore:
    """The process-wide bound on image builds at once (`env.max_parallel_builds`)."""
    with _slots_guard:
        return _slots.setdefault(
            config.max_parallel_builds, threading.BoundedSemaphore(config.max_parallel_builds)
        )


@contextlib.contextmanager
def build_lock(config: EnvConfig, tag: str) -> Iterator[None]:
    """One build of `tag` at a time across the host's processes (e.g. Ray workers): the others wait,
    then find the image built."""
    folder = usage_path(config).parent / "build-locks"
    folder.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(tag.encode()).hexdigest()[:32]
    with open(folder / name, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
