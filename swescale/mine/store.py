"""Mining state in SQLite (WAL) in the run directory: one row per scanned commit, its candidate, the stage
it reached and why it stopped, and the task once validated. Each finished candidate is one committed
transaction, so a run killed at any moment (kill -9 included) resumes: only unfinished candidates run again."""

from __future__ import annotations

import fcntl
import json
import time
from dataclasses import dataclass
from pathlib import Path

from sandbox.store import DatabaseError
from sandbox.store import Store as SQLiteStore
from swescale.mine.candidates import Candidate

MIGRATIONS = [
    """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS commits (
    sha TEXT PRIMARY KEY,
    candidate TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    stage TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    task TEXT,
    seconds REAL NOT NULL DEFAULT 0,
    detail TEXT NOT NULL DEFAULT '{}',
    updated REAL NOT NULL
);
"""
]
"""The schema, one migration per version (`sandbox.store`); 1 is the schema files had before versions."""


class RunDirError(ValueError):
    """The run directory belongs to another repository, or its state cannot be read."""


@dataclass
class Row:
    candidate: Candidate
    done: bool
    stage: str
    reason: str
    task: dict | None
    seconds: float
    detail: dict
    """How the candidate was validated: env_source (built, derived, cached), env_seconds."""


class Store:
    """Thread-safe access to `<run_dir>/mine.sqlite` (a connection per thread)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # one mining process per run directory; the kernel drops the lock with its process (kill -9 too)
        self._flock = open(path.with_suffix(".lock"), "w")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(self._flock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            self._flock.close()
            raise RunDirError(f"{path.parent} is in use by another mining run") from exc
        try:
            self._store = SQLiteStore(path, MIGRATIONS, synchronous="NORMAL")
        except DatabaseError as exc:
            self._flock.close()
            raise RunDirError(f"{path}: not a readable mining state ({exc})") from exc

    def close(self) -> None:
        self._store.close()
        self._flock.close()

    def claim_repo(self, repo: str) -> None:
        """Bind the run directory to `repo`; a directory of another repository is an error."""
        with self._store.transaction() as db:
            row = db.execute("SELECT value FROM meta WHERE key='repo'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta VALUES ('repo', ?)", (repo,))
            elif row[0] != repo:
                raise RunDirError(f"{self.path.parent} holds the mining state of {row[0]}, not of {repo}")

    def known(self, sha: str) -> bool:
        return self._store.execute("SELECT 1 FROM commits WHERE sha=?", (sha,)).fetchone() is not None

    def add(self, cand: Candidate) -> None:
        """A scanned commit (kept as it is when already known): finished at once when it is no candidate."""
        stage = "scanned" if cand.reason else "touching"
        self._store.execute(
            "INSERT OR IGNORE INTO commits (sha, candidate, done, stage, reason, updated)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (cand.sha, cand.model_dump_json(), int(bool(cand.reason)), stage, cand.reason, time.time()),
        )

    def finish(
        self, sha: str, stage: str, reason: str, task: dict | None, seconds: float, detail: dict | None = None
    ) -> None:
        self._store.execute(
            "UPDATE commits SET done=1, stage=?, reason=?, task=?, seconds=?, detail=?, updated=? WHERE sha=?",
            (
                stage,
                reason,
                json.dumps(task) if task else None,
                seconds,
                json.dumps(detail or {}),
                time.time(),
                sha,
            ),
        )

    def rows(self, shas: list[str]) -> list[Row]:
        """Rows of `shas`, in that order (unknown ones left out)."""
        found = {
            r[0]: r
            for r in self._store.execute(
                "SELECT sha, candidate, done, stage, reason, task, seconds, detail FROM commits"
            )
        }
        out = []
        for sha in shas:
            if sha in found:
                _, cand, done, stage, reason, task, seconds, detail = found[sha]
                out.append(
                    Row(
                        Candidate.model_validate_json(cand),
                        bool(done),
                        stage,
                        reason,
                        json.loads(task) if task else None,
                        seconds,
                        json.loads(detail),
                    )
                )
        return out
