"""A small on-disk key -> JSON cache (sqlite) of test outcomes, keyed by (image, patch hash, test hash)."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from verifiers.table import sha256


class OutcomeCache(Protocol):
    def get(self, key: str) -> Any | None: ...
    def put(self, key: str, value: Any) -> None: ...


def cache_key(*parts: str) -> str:
    return sha256("\0".join(parts))


class NullCache:
    """No caching."""

    def get(self, key: str) -> Any | None:
        return None

    def put(self, key: str, value: Any) -> None:
        pass


OUTCOMES_VERSION = "2"
"""Part of every key: bump it when a change to how tests run changes what they report (2: one fixed
PYTHONHASHSEED, verifiers.execute.HASH_SEED), so no run reuses outcomes of the old way."""


class SqliteCache:
    """Thread-safe; one row per key. Values are JSON. Keys are taken within `namespace` (e.g. the id of the
    image the outcomes come from), so one file can serve many runs and images."""

    def __init__(self, path: str | Path, namespace: str = ""):
        self.path = Path(path)
        self.namespace = namespace
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS outcomes (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            with db:  # commits or rolls back
                yield db
        finally:
            db.close()

    def _key(self, key: str) -> str:
        return cache_key(OUTCOMES_VERSION, self.namespace, key)

    def get(self, key: str) -> Any | None:
        key = self._key(key)
        with self._lock, self._connect() as db:
            row = db.execute("SELECT value FROM outcomes WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return json.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        key = self._key(key)
        with self._lock, self._connect() as db:
            db.execute("INSERT OR REPLACE INTO outcomes (key, value) VALUES (?, ?)", (key, json.dumps(value)))


def open_cache(
    cache_dir: str, out_dir: str | Path | None, run_dir: str | Path | None = None, namespace: str = ""
) -> OutcomeCache:
    """The outcome cache: `cache_dir` (`verifier.cache_dir`, one per machine), else the run's
    (`run_dir`: every generation and task of a run shares it), else `out_dir`'s, else none."""
    directory = cache_dir or str(run_dir or "") or str(out_dir or "")
    if not directory:
        return NullCache()
    return SqliteCache(Path(directory) / "verifier_cache.sqlite", namespace)


def image_identity(image: str) -> str:
    """The image's content id (so outcomes of an image rebuilt under the same tag are not reused), or the
    name when the engine cannot say."""
    try:
        from sandbox.docker_sandbox import shared_client

        return str(shared_client().images.get(image).id)
    except Exception:  # noqa: BLE001 - the name is still part of every key
        return image
