"""A small on-disk key -> JSON cache (SQLite, `sandbox.store`) of test outcomes, keyed by (image, patch hash,
test hash)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from sandbox.store import Store
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


MIGRATIONS = ["CREATE TABLE IF NOT EXISTS outcomes (key TEXT PRIMARY KEY, value TEXT NOT NULL)"]
"""The schema, one migration per version (`sandbox.store`); 1 is the schema files had before versions."""


class SqliteCache:
    """Thread-safe (a connection per thread); one row per key. Values are JSON. Keys are taken within
    `namespace` (e.g. the id of the image the outcomes come from), so one file can serve many runs, images
    and processes."""

    def __init__(self, path: str | Path, namespace: str = ""):
        self.path = Path(path)
        self.namespace = namespace
        self._store = Store(self.path, MIGRATIONS)
        self.hits = 0
        self.misses = 0

    def _key(self, key: str) -> str:
        return cache_key(OUTCOMES_VERSION, self.namespace, key)

    def get(self, key: str) -> Any | None:
        key = self._key(key)
        row = self._store.execute("SELECT value FROM outcomes WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return json.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        key = self._key(key)
        self._store.execute(
            "INSERT OR REPLACE INTO outcomes (key, value) VALUES (?, ?)", (key, json.dumps(value))
        )


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
