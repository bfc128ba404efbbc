"""sandbox.store on real SQLite files: WAL, the busy timeout against another process, schema migrations, one
connection per thread."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from sandbox.store import OperationalError, SchemaVersionError, Store

TABLE = "CREATE TABLE IF NOT EXISTS items (name TEXT PRIMARY KEY)"


def _raw(path: Path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        return db.execute(sql).fetchall()


def _run_thread(target: Callable[[], object]) -> None:
    thread = threading.Thread(target=target)
    thread.start()
    thread.join()


def test_wal_and_synchronous_are_set_on_every_connection(tmp_path):
    with Store(tmp_path / "s.sqlite", [TABLE], synchronous="NORMAL") as store:
        assert store.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        other: list[int] = []
        _run_thread(lambda: other.append(store.execute("PRAGMA synchronous").fetchone()[0]))
        assert other == [1]
    assert _raw(tmp_path / "s.sqlite", "PRAGMA journal_mode") == [("wal",)]  # a property of the file


def _hold_write_lock(path: Path, seconds: float) -> subprocess.Popen:
    """Another process that takes the write lock, says so, holds it `seconds`, then commits its row."""
    script = textwrap.dedent(
        f"""
        import sqlite3, sys, time
        db = sqlite3.connect({str(path)!r}, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO items VALUES ('theirs')")
        print("locked", flush=True)
        time.sleep({seconds})
        db.execute("COMMIT")
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_a_writer_waits_for_another_process_within_the_busy_timeout(tmp_path):
    path = tmp_path / "s.sqlite"
    with Store(path, [TABLE], busy_timeout=20) as store:
        holder = _hold_write_lock(path, 1.0)
        start = time.monotonic()
        with store.transaction() as db:
            db.execute("INSERT INTO items VALUES ('ours')")
        assert time.monotonic() - start >= 0.5  # it waited for the other process's commit
        assert holder.wait(timeout=30) == 0
        assert sorted(r["name"] for r in store.execute("SELECT name FROM items")) == ["ours", "theirs"]


def test_a_writer_gives_up_after_the_busy_timeout(tmp_path):
    path = tmp_path / "s.sqlite"
    with Store(path, [TABLE], busy_timeout=0.3) as store:
        holder = _hold_write_lock(path, 5.0)
        try:
            start = time.monotonic()
            with pytest.raises(OperationalError, match="locked"), store.transaction() as db:
                db.execute("INSERT INTO items VALUES ('ours')")
            assert 0.2 <= time.monotonic() - start < 4.0
        finally:
            holder.kill()
            holder.wait()


def test_a_file_of_version_0_is_migrated_in_order_and_once(tmp_path):
    """A file from before versions (tables made by `CREATE TABLE IF NOT EXISTS`, user_version 0) keeps its
    rows; later migrations (SQL or a function) run once, in order."""
    path = tmp_path / "s.sqlite"
    _raw(path, "CREATE TABLE items (name TEXT PRIMARY KEY)")
    _raw(path, "INSERT INTO items VALUES ('old')")
    calls: list[int] = []

    def fill(db: sqlite3.Connection) -> None:
        calls.append(db.execute("PRAGMA user_version").fetchone()[0])
        db.execute("UPDATE items SET size = length(name)")

    migrations = [
        TABLE,
        "ALTER TABLE items ADD COLUMN size INTEGER; -- a comment; with a semicolon\n"
        "CREATE TABLE log (line TEXT);\nINSERT INTO log VALUES ('a;b')",
        fill,
    ]
    with Store(path, migrations) as store:
        assert store.version == 3 and store.execute("PRAGMA user_version").fetchone()[0] == 3
        assert [tuple(r) for r in store.execute("SELECT name, size FROM items")] == [("old", 3)]
        assert store.execute("SELECT line FROM log").fetchone()[0] == "a;b"
    with Store(path, migrations):  # up to date: nothing runs again (the ALTER would fail)
        pass
    assert calls == [2]


def test_a_failing_migration_leaves_the_file_as_it_was(tmp_path):
    path = tmp_path / "s.sqlite"
    with pytest.raises(OperationalError):
        Store(path, [TABLE, "CREATE TABLE other (x); INSERT INTO nowhere VALUES (1)"])
    assert _raw(path, "PRAGMA user_version") == [(0,)]
    assert _raw(path, "SELECT name FROM sqlite_master") == []  # migration 1 was rolled back too


def test_a_file_of_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "s.sqlite"
    _raw(path, "PRAGMA user_version = 3")
    with pytest.raises(SchemaVersionError, match="schema version 3, newer than this swescale's 1"):
        Store(path, [TABLE])
    assert _raw(path, "PRAGMA user_version") == [(3,)]


def test_each_thread_has_its_own_connection_and_close_closes_all(tmp_path):
    store = Store(tmp_path / "s.sqlite", [TABLE])
    seen: dict[str, sqlite3.Connection] = {}
    ready, finish = threading.Barrier(9), threading.Event()

    def work(name: str) -> None:
        seen[name] = store.connection
        assert store.connection is seen[name]  # the same one for the thread's life
        with store.transaction() as db:
            db.execute("INSERT INTO items VALUES (?)", (name,))
        ready.wait()
        finish.wait()

    threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    ready.wait()
    assert len({id(conn) for conn in seen.values()} | {id(store.connection)}) == 9
    assert store.execute("SELECT COUNT(*) FROM items").fetchone()[0] == 8
    finish.set()
    for thread in threads:
        thread.join()
    store.close()
    for conn in [*seen.values(), store.connection]:
        with pytest.raises(sqlite3.ProgrammingError):
            conn.execute("SELECT 1")
    refused: list[str] = []

    def late() -> None:
        try:
            store.execute("SELECT 1")
        except sqlite3.ProgrammingError as exc:
            refused.append(str(exc))

    _run_thread(late)
    assert refused and "the store is closed" in refused[0]


def test_connections_of_ended_threads_are_closed_when_another_opens(tmp_path):
    with Store(tmp_path / "s.sqlite", [TABLE]) as store:
        ended: list[sqlite3.Connection] = []
        _run_thread(lambda: ended.append(store.connection))
        _run_thread(lambda: store.connection)
        with pytest.raises(sqlite3.ProgrammingError):
            ended[0].execute("SELECT 1")


def test_a_forked_child_opens_its_own_connection_and_leaves_the_parents_alone(tmp_path):
    with Store(tmp_path / "s.sqlite", [TABLE]) as store:
        parent = store.connection
        pid = os.fork()
        if pid == 0:  # the child: writes through a connection of its own, closes only that one
            code = 0
            try:
                assert store.connection is not parent
                store.execute("INSERT INTO items VALUES ('child')")
                store.close()
            except BaseException:  # noqa: BLE001 - reported through the exit code
                code = 1
            os._exit(code)
        assert os.waitpid(pid, 0)[1] == 0
        assert store.connection is parent
        assert [r["name"] for r in store.execute("SELECT name FROM items")] == ["child"]
