"""The webhook server's durable state in SQLite (WAL): deliveries seen, and the job queue.

A delivery id is recorded once (GitHub redelivers on timeouts and on request), so a redelivered event
never makes a second job. Jobs go queued -> running -> done | failed | refused. A job found `running` when
the server starts was cut short by a crash: it is queued again (its run directory resumes) until it was
started `max_attempts` times, then reported.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from sandbox.store import Row, Store

MIGRATIONS = [
    """
CREATE TABLE IF NOT EXISTS deliveries (
    delivery TEXT PRIMARY KEY, event TEXT NOT NULL, received REAL NOT NULL, job INTEGER, ignored TEXT);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, delivery TEXT UNIQUE NOT NULL, repo TEXT NOT NULL,
    trigger TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'queued', attempts INTEGER NOT NULL DEFAULT 0,
    acked INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL, started REAL, finished REAL,
    tokens INTEGER NOT NULL DEFAULT 0, result TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, id);
"""
]
"""The schema, one migration per version (`sandbox.store`); 1 is the schema files had before versions."""


class Job(BaseModel):
    id: int
    delivery: str
    repo: str
    trigger: str
    """The accepted trigger as JSON (swescale.bot.events.Trigger)."""
    state: str
    attempts: int
    acked: bool
    tokens: int = 0
    result: str = ""


def _day_start(now: float) -> float:
    day = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day.timestamp()


class JobQueue:
    """The server's threads each use their own connection; every call is one transaction."""

    def __init__(self, path: Path):
        self._store = Store(path, MIGRATIONS, synchronous="FULL")

    def close(self) -> None:
        self._store.close()

    def _tx(self, sql: str, args: tuple = ()) -> list[Row]:
        with self._store.transaction() as db:
            return db.execute(sql, args).fetchall()

    def record(
        self, delivery: str, event: str, repo: str = "", trigger: str | None = None, ignored: str = ""
    ) -> tuple[int | None, bool]:
        """Record a delivery (and its job, when `trigger` is given). Returns (job id, new): `new` is False
        for a delivery seen before, which then changes nothing."""
        now = time.time()
        with self._store.transaction() as db:
            seen = db.execute("SELECT job FROM deliveries WHERE delivery = ?", (delivery,)).fetchone()
            if seen is not None:
                return seen["job"], False
            job = None
            if trigger is not None:
                job = db.execute(
                    "INSERT INTO jobs (delivery, repo, trigger, created) VALUES (?, ?, ?, ?)",
                    (delivery, repo, trigger, now),
                ).lastrowid
            db.execute(
                "INSERT INTO deliveries (delivery, event, received, job, ignored) VALUES (?, ?, ?, ?, ?)",
                (delivery, event, now, job, ignored or None),
            )
            return job, True

    def claim(self, repo_concurrency: int) -> Job | None:
        """The oldest queued job whose repository has fewer than `repo_concurrency` jobs running, now running."""
        rows = self._tx(
            """UPDATE jobs SET state = 'running', attempts = attempts + 1, started = ?
               WHERE id = (SELECT j.id FROM jobs j WHERE j.state = 'queued' AND
                           (SELECT COUNT(*) FROM jobs r WHERE r.state = 'running' AND r.repo = j.repo) < ?
                           ORDER BY j.id LIMIT 1)
               RETURNING *""",
            (time.time(), max(1, repo_concurrency)),
        )
        return Job(**dict(rows[0])) if rows else None

    def mark_acked(self, job_id: int) -> None:
        self._tx("UPDATE jobs SET acked = 1 WHERE id = ?", (job_id,))

    def unacknowledged(self) -> list[Job]:
        """Queued jobs whose acknowledgement was not posted (the server stopped first)."""
        return [Job(**dict(r)) for r in self._tx("SELECT * FROM jobs WHERE state = 'queued' AND acked = 0")]

    def finish(self, job_id: int, state: str, tokens: int = 0, result: str = "") -> None:
        self._tx(
            "UPDATE jobs SET state = ?, tokens = ?, result = ?, finished = ? WHERE id = ?",
            (state, tokens, result, time.time(), job_id),
        )

    def requeue(self, job_id: int, count_attempt: bool = False) -> None:
        """Back to the queue (a graceful stop does not count the attempt)."""
        self._tx(
            "UPDATE jobs SET state = 'queued', attempts = attempts - ? WHERE id = ? AND state = 'running'",
            (0 if count_attempt else 1, job_id),
        )

    def recover(self, max_attempts: int) -> tuple[list[Job], list[Job]]:
        """At start-up: jobs left `running` by a dead server. Returns (queued again, given up)."""
        rows = self._tx("SELECT * FROM jobs WHERE state = 'running' ORDER BY id")
        again, given_up = [], []
        for row in rows:
            job = Job(**dict(row))
            if job.attempts < max_attempts:
                self._tx("UPDATE jobs SET state = 'queued' WHERE id = ?", (job.id,))
                again.append(job)
            else:
                given_up.append(job)
        return again, given_up

    def spent_today(self, now: float | None = None) -> tuple[int, int]:
        """(tokens, jobs started) since 00:00 UTC; refused jobs do not count."""
        row = self._tx(
            "SELECT COALESCE(SUM(tokens), 0) AS tokens, COUNT(*) AS jobs FROM jobs "
            "WHERE started >= ? AND state != 'refused'",
            (_day_start(now or time.time()),),
        )[0]
        return int(row["tokens"]), int(row["jobs"])

    def get(self, job_id: int) -> Job | None:
        rows = self._tx("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return Job(**dict(rows[0])) if rows else None

    def counts(self) -> dict[str, int]:
        rows = self._tx("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
        return {row["state"]: int(row["n"]) for row in rows}
