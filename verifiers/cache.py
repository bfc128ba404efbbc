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


class SqliteCache:
    """Thread-safe; one row per key. Values are JSON."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
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

    def get(self, key: str) -> Any | None:
        with self._lock, self._connect() as db:
            row = db.execute("SELECT value FROM outcomes WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return json.loads(row[0])

    def put(self, key: str, value: Any) -> None:
        with self._lock, self._connect() as db:
            db.execute("INSERT OR REPLACE INTO outcomes (key, value) VALUES (?, ?)", (key, json.dumps(value)))


def open_cache(cache_dir: str, out_dir: str | Path | None) -> OutcomeCache:
    directory = cache_dir or (str(out_dir) if out_dir else "")
    return SqliteCache(Path(directory) / "verifier_cache.sqlite") if directory else NullCache()
