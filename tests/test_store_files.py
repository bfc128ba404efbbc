"""Every SQLite file swescale keeps still opens when an older swescale wrote it: made by raw SQL with the
schema of before `sandbox.store` (each wrapper's migration 1, user_version 0), holding a row, it is read
through the wrapper's API and migrated to the current version."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from envs import image_budget
from envs.config import EnvConfig
from swescale.bench import state
from swescale.bot import queue
from swescale.mine import store
from verifiers import cache


def _old_file(path: Path, schema: str, *rows: tuple[str, tuple]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.executescript(schema)
        for sql, args in rows:
            db.execute(sql, args)
        assert db.execute("PRAGMA user_version").fetchone()[0] == 0


def _version(path: Path) -> tuple[int, str]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute("PRAGMA user_version").fetchone()[0], db.execute("PRAGMA journal_mode").fetchone()[
            0
        ]


def test_bench_state(tmp_path):
    _old_file(
        tmp_path / state.STATE_FILE,
        state.MIGRATIONS[0],
        ("INSERT INTO instances (instance_id, position, task, status) VALUES ('i0', 0, '{}', 'done')", ()),
    )
    with state.BenchState(tmp_path, lock=False) as bench:
        assert bench.counts()["done"] == 1
    assert _version(tmp_path / state.STATE_FILE) == (len(state.MIGRATIONS), "wal")


def test_verifier_cache(tmp_path):
    path = tmp_path / "verifier_cache.sqlite"
    key = cache.cache_key(cache.OUTCOMES_VERSION, "img", "k")
    _old_file(path, cache.MIGRATIONS[0], ("INSERT INTO outcomes VALUES (?, ?)", (key, json.dumps({"ok": 1}))))
    assert cache.SqliteCache(path, "img").get("k") == {"ok": 1}
    assert _version(path) == (len(cache.MIGRATIONS), "wal")


def test_bot_queue(tmp_path):
    path = tmp_path / "jobs.sqlite3"
    _old_file(
        path, queue.MIGRATIONS[0], ("INSERT INTO deliveries VALUES ('d-1', 'issues', 0, NULL, 'x')", ())
    )
    jobs = queue.JobQueue(path)
    assert jobs.record("d-1", "issues") == (None, False)  # seen by the old server
    jobs.close()
    assert _version(path) == (len(queue.MIGRATIONS), "wal")


def test_mining_store(tmp_path):
    path = tmp_path / "mine.sqlite"
    _old_file(path, store.MIGRATIONS[0], ("INSERT INTO meta VALUES ('repo', 'o/a')", ()))
    mined = store.Store(path)
    with pytest.raises(store.RunDirError, match="holds the mining state of o/a"):
        mined.claim_repo("o/b")
    mined.close()
    assert _version(path) == (len(store.MIGRATIONS), "wal")


def test_mining_store_of_a_newer_swescale_is_refused(tmp_path):
    path = tmp_path / "mine.sqlite"
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA user_version = 99")
    for _ in range(2):  # the second open is refused for the same reason: the first left no lock behind
        with pytest.raises(store.RunDirError, match="newer than this swescale"):
            store.Store(path)


def test_image_usage(tmp_path):
    config = EnvConfig(usage_file=str(tmp_path / "images.sqlite"))
    _old_file(
        Path(config.usage_file), image_budget.MIGRATIONS[0], ("INSERT INTO used VALUES ('old:1', 1.0)", ())
    )
    image_budget.touch(config, "new:1")
    with closing(sqlite3.connect(config.usage_file)) as db:
        assert dict(db.execute("SELECT tag, at FROM used").fetchall()).keys() == {"old:1", "new:1"}
    assert _version(Path(config.usage_file)) == (len(image_budget.MIGRATIONS), "wal")
