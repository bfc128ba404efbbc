"""One way to open SQLite, for every state file swescale keeps (bench state, verifier cache, bot queue,
mining state, image usage).

`Store(path, migrations)` opens the file in WAL mode with a busy timeout and the asked `synchronous`
level, gives each thread (and each process, after a fork) its own connection, and keeps the schema
versioned in `PRAGMA user_version`: migration i (1-based) brings a file from version i-1 to i, so a file
of an older swescale (version 0 included: the `CREATE TABLE IF NOT EXISTS` era) is migrated on open, and
a file written by a newer swescale is refused with `SchemaVersionError`. Connections are in autocommit;
`transaction()` is an explicit `BEGIN IMMEDIATE` (the write lock is taken up front, so waiting writers go
through the busy timeout instead of failing on a lock upgrade).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

Connection = sqlite3.Connection
Cursor = sqlite3.Cursor
Row = sqlite3.Row
DatabaseError = sqlite3.DatabaseError
OperationalError = sqlite3.OperationalError

Migration = str | Callable[[sqlite3.Connection], None]
"""An SQL script, or a function given the connection; either runs inside the migration's transaction."""
Synchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]


class SchemaVersionError(sqlite3.DatabaseError):
    """The file's schema is newer than the code knows: it was written by a newer swescale."""


def _statements(script: str) -> Iterator[str]:
    """The statements of an SQL script (split at the semicolons that end one: not inside strings,
    comments or triggers), since `executescript` would commit the migration's transaction."""
    pending = ""
    for part in script.split(";"):
        pending += part
        if not sqlite3.complete_statement(pending + ";"):
            pending += ";"
            continue
        if pending.strip():
            yield pending + ";"
        pending = ""
    if pending.strip():  # an unfinished statement: let SQLite say what is wrong with it
        yield pending


class Store:
    """An SQLite file with its schema migrated; one connection per thread, closed together by `close()`."""

    def __init__(
        self,
        path: str | Path,
        migrations: Sequence[Migration],
        *,
        synchronous: Synchronous = "FULL",
        busy_timeout: float = 30.0,
    ):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.migrations = list(migrations)
        self.synchronous = synchronous
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._open: list[tuple[int, threading.Thread, sqlite3.Connection]] = []
        """(process, thread, connection) of every connection opened and not closed yet."""
        self._guard = threading.Lock()
        self._closed = False
        try:
            self._migrate(self.connection)
        except BaseException:
            self.close()
            raise

    @property
    def version(self) -> int:
        """The schema version this code writes: the number of migrations."""
        return len(self.migrations)

    @property
    def connection(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = self._connect()
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def _connect(self) -> sqlite3.Connection:
        with self._guard:
            if self._closed:
                raise sqlite3.ProgrammingError(f"{self.path}: the store is closed")
            conn = sqlite3.connect(
                self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
            )
            # connections of threads that ended are closed here, so a server's short-lived threads leave none;
            # a forked child forgets its parent's without closing them (that would touch the parent's locks)
            kept = []
            for pid, thread, other in self._mine():
                if thread.is_alive():
                    kept.append((pid, thread, other))
                else:
                    other.close()
            self._open = [*kept, (os.getpid(), threading.current_thread(), conn)]
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        found = conn.execute("PRAGMA user_version").fetchone()[0]
        if found > self.version:
            raise SchemaVersionError(
                f"{self.path} has schema version {found}, newer than this swescale's {self.version}: "
                "it was written by a newer swescale; use that one, or another file"
            )
        if found == self.version:
            return
        with self.transaction() as db:  # another process may have migrated meanwhile: read again
            found = db.execute("PRAGMA user_version").fetchone()[0]
            for number, migration in enumerate(self.migrations[found:], start=found + 1):
                if isinstance(migration, str):
                    for statement in _statements(migration):
                        db.execute(statement)
                else:
                    migration(db)
                db.execute(f"PRAGMA user_version={number}")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection inside `BEGIN IMMEDIATE`: committed at the end, rolled back on an error."""
        conn = self.connection
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def execute(self, sql: str, args: Iterable[Any] = ()) -> sqlite3.Cursor:
        """One statement on this thread's connection (its own transaction)."""
        return self.connection.execute(sql, tuple(args))

    def close(self) -> None:
        """Close every thread's connection; the store cannot be used afterwards."""
        with self._guard:
            self._closed = True
            for _, _, conn in self._mine():
                conn.close()
            self._open = []

    def _mine(self) -> list[tuple[int, threading.Thread, sqlite3.Connection]]:
        """The open connections of this process."""
        return [entry for entry in self._open if entry[0] == os.getpid()]

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
