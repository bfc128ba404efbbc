"""The state of a bench run: one SQLite database (WAL) in the run directory, owned by one driver process.

Per instance: status (pending, running, done, error), the error class and message, attempts, timings and
tokens (per stage too), the prediction and, once graded, the verdict. `predictions.jsonl` is derived from
the done rows and rewritten atomically after each change (a kill -9 between the commit and the rewrite
leaves it one change behind, never ahead; the next run rewrites it first), so a kill -9 at any moment
loses nothing: rows left `running` by a dead driver are pending again at the next open, and an errored
instance is never written as a prediction.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from envs.task import Task
from sandbox.store import Cursor, Store
from sandbox.store import Row as SqlRow
from swescale.outcome import StageCost

STATE_FILE = "state.sqlite"
LOCK_FILE = "state.lock"
PREDICTIONS_FILE = "predictions.jsonl"
INSTANCES_DIR = "instances"
STATUSES = ("pending", "running", "done", "error")
ERROR_CLASSES = (
    "environment-build",
    "docker-infrastructure",
    "model-server",
    "agent",
    "timeout",
    "worker-lost",
)
ORACLE_KEY = "candidates_graded"
"""Meta key: ids of the done instances whose candidates were all graded (`bench report --grade-candidates`)."""
VERDICTS = ("resolved", "unresolved", "apply-failed", "empty", "eval-error")
GRADING_ERROR = "eval-error"
"""The verdict of a prediction whose grading failed (the harness, or the grading job itself): a state, not
a verdict on the patch. The prediction stays; the next `bench run --evaluate` grades it again."""

MIGRATIONS = [
    """
CREATE TABLE IF NOT EXISTS instances (
    instance_id TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    task TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    error_class TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    started_at REAL,
    finished_at REAL,
    result TEXT,
    patch TEXT,
    verdict TEXT,
    verdict_detail TEXT,
    updated_at REAL
);
CREATE TABLE IF NOT EXISTS candidates (
    instance_id TEXT NOT NULL,
    candidate_id TEXT NOT NULL,
    patch_hash TEXT NOT NULL,
    steps INTEGER,
    tokens INTEGER,
    verdict TEXT,
    PRIMARY KEY (instance_id, candidate_id)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""
]
"""The schema, one migration per version (`sandbox.store`); 1 is the schema files had before versions."""


class StateError(RuntimeError):
    """The run directory's state cannot be used (locked by another run, or not a bench run)."""


class InstanceResult(BaseModel):
    """What one attempt at one instance left, as the executors hand it to the driver."""

    instance_id: str
    status: Literal["done", "error", "pending"]
    """`pending`: interrupted, to be resumed."""
    error_class: str = ""
    error: str = ""
    patch: str = ""
    """The prediction (empty when abstaining)."""
    abstained: bool = False
    reason: str = ""
    seconds: float = 0.0
    """Wall time of this attempt."""
    tokens: int = 0
    calls: int = 0
    model_seconds: float = 0.0
    """Summed duration of the instance's model calls."""
    busy_seconds: float = 0.0
    """Wall time during which a sandbox of the instance was open or one of its model calls in flight."""
    stages: dict[str, StageCost] = Field(default_factory=dict)
    trajectories: int = 0
    steps: int = 0
    candidates: int = 0
    stop_reasons: list[str] = Field(default_factory=list)
    verdict: str | None = None
    """Set when the prediction was graded in the same job (`--evaluate`)."""
    verdict_detail: dict[str, Any] = Field(default_factory=dict)
    node: str = ""
    """Host that ran the attempt."""


class Row(BaseModel):
    """One instance as stored."""

    instance_id: str
    position: int
    status: str
    error_class: str | None = None
    error: str | None = None
    attempts: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    result: InstanceResult | None = None
    patch: str | None = None
    verdict: str | None = None
    verdict_detail: dict[str, Any] = Field(default_factory=dict)


def atomic_write(path: Path, text: str) -> None:
    """Write `text` to `path` so that readers see the old or the new content, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def prediction_line(instance_id: str, patch: str, model_name: str) -> str:
    """One line of a SWE-bench predictions file (what swebench's get_predictions_from_file reads)."""
    return json.dumps({"instance_id": instance_id, "model_name_or_path": model_name, "model_patch": patch})


class BenchState:
    """The run directory's state database. One process at a time (an exclusive lock on `state.lock`)."""

    def __init__(self, run_dir: Path, lock: bool = True):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._lock_fh = self._take_lock() if lock else None
        # synchronous=NORMAL: durable across a process kill (WAL)
        self._store = Store(self.run_dir / STATE_FILE, MIGRATIONS, synchronous="NORMAL", busy_timeout=10)
        self._mutex = threading.Lock()  # one predictions writer at a time
        if lock:  # a driver that died left rows running: they resume from their run folders
            self._exec("UPDATE instances SET status='pending' WHERE status='running'")

    # -- plumbing ------------------------------------------------------------------------------------------

    def _take_lock(self) -> Any:
        fh = open(self.run_dir / LOCK_FILE, "a+")  # noqa: SIM115 - held for the state's lifetime
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise StateError(
                f"{self.run_dir} is in use by another `swescale bench run` ({holder}); wait for it or "
                "give another --run-dir"
            ) from exc
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}\n")
        fh.flush()
        return fh

    def close(self) -> None:
        self._store.close()
        if self._lock_fh is not None:
            self._lock_fh.close()
            self._lock_fh = None

    def __enter__(self) -> BenchState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _exec(self, sql: str, args: Iterable[Any] = ()) -> Cursor:
        return self._store.execute(sql, args)

    # -- meta ----------------------------------------------------------------------------------------------

    def set_meta(self, key: str, value: Any) -> None:
        self._exec("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def meta(self, key: str, default: Any = None) -> Any:
        row = self._exec("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return json.loads(row["value"]) if row else default

    # -- instances -----------------------------------------------------------------------------------------

    def sync(self, tasks: list[Task]) -> int:
        """Add the tasks not known yet as pending (known ones keep their state); returns how many were new."""
        added = 0
        with self._store.transaction() as db:
            start = db.execute("SELECT COALESCE(MAX(position), -1) + 1 FROM instances").fetchone()[0]
            for task in tasks:
                cur = db.execute(
                    "INSERT OR IGNORE INTO instances (instance_id, position, task, updated_at) VALUES (?,?,?,?)",
                    (task.instance_id, start + added, task.model_dump_json(), time.time()),
                )
                added += cur.rowcount
        return added

    def task(self, instance_id: str) -> Task:
        row = self._exec("SELECT task FROM instances WHERE instance_id=?", (instance_id,)).fetchone()
        if row is None:
            raise KeyError(instance_id)
        return Task.model_validate_json(row["task"])

    def rows(self, status: str | None = None) -> list[Row]:
        sql = "SELECT * FROM instances" + (" WHERE status=?" if status else "") + " ORDER BY position"
        return [self._row(r) for r in self._exec(sql, (status,) if status else ())]

    def row(self, instance_id: str) -> Row:
        found = self._exec("SELECT * FROM instances WHERE instance_id=?", (instance_id,)).fetchone()
        if found is None:
            raise KeyError(instance_id)
        return self._row(found)

    @staticmethod
    def _row(r: SqlRow) -> Row:
        data = {k: r[k] for k in r.keys() if k != "task"}  # noqa: SIM118 - a Row has no items()
        data["result"] = InstanceResult.model_validate_json(r["result"]) if r["result"] else None
        data["verdict_detail"] = json.loads(r["verdict_detail"]) if r["verdict_detail"] else {}
        return Row.model_validate(data)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        for r in self._exec("SELECT status, COUNT(*) AS n FROM instances GROUP BY status"):
            out[r["status"]] = r["n"]
        return out

    def reset(self, ids: Iterable[str], status_from: tuple[str, ...] = ("error",)) -> list[str]:
        """Make these instances pending again if their status is in `status_from`; returns those reset."""
        out = []
        with self._store.transaction() as db:
            for iid in ids:
                placeholders = ",".join("?" * len(status_from))
                cur = db.execute(
                    "UPDATE instances SET status='pending', error_class=NULL, error=NULL, updated_at=? "
                    f"WHERE instance_id=? AND status IN ({placeholders})",
                    (time.time(), iid, *status_from),
                )
                if cur.rowcount:
                    out.append(iid)
        return out

    def redo(self, ids: Iterable[str]) -> list[str]:
        """Forget these instances' results (prediction, verdict, candidates): they run again from scratch."""
        ids = list(ids)
        with self._store.transaction() as db:
            for iid in ids:
                db.execute(
                    "UPDATE instances SET status='pending', error_class=NULL, error=NULL, result=NULL, "
                    "patch=NULL, verdict=NULL, verdict_detail=NULL, updated_at=? WHERE instance_id=?",
                    (time.time(), iid),
                )
                db.execute("DELETE FROM candidates WHERE instance_id=?", (iid,))
        self.set_meta(ORACLE_KEY, [i for i in self.meta(ORACLE_KEY, []) if i not in set(ids)])
        return ids

    def claim(self, instance_id: str) -> None:
        """The instance starts an attempt."""
        self._exec(
            "UPDATE instances SET status='running', attempts=attempts+1, started_at=?, updated_at=? "
            "WHERE instance_id=?",
            (time.time(), time.time(), instance_id),
        )

    def record(self, result: InstanceResult) -> None:
        """Store an attempt's result in one transaction: done (with its prediction), error, or pending."""
        now = time.time()
        patch = result.patch if result.status == "done" else None
        with self._store.transaction() as db:
            db.execute(
                "UPDATE instances SET status=?, error_class=?, error=?, finished_at=?, result=?, patch=?, "
                "updated_at=? WHERE instance_id=?",
                (
                    result.status,
                    result.error_class or None,
                    result.error or None,
                    now,
                    result.model_dump_json(),
                    patch,
                    now,
                    result.instance_id,
                ),
            )
            if result.status == "done" and result.verdict:
                db.execute(
                    "UPDATE instances SET verdict=?, verdict_detail=? WHERE instance_id=?",
                    (result.verdict, json.dumps(result.verdict_detail), result.instance_id),
                )

    def set_verdict(self, instance_id: str, verdict: str, detail: dict[str, Any] | None = None) -> None:
        self._exec(
            "UPDATE instances SET verdict=?, verdict_detail=?, updated_at=? WHERE instance_id=?",
            (verdict, json.dumps(detail or {}), time.time(), instance_id),
        )

    # -- candidates (graded by `bench report --grade-candidates`) ------------------------------------------

    def set_candidate(
        self, instance_id: str, candidate_id: str, patch_hash: str, steps: int, tokens: int, verdict: str
    ) -> None:
        self._exec(
            "INSERT OR REPLACE INTO candidates VALUES (?,?,?,?,?,?)",
            (instance_id, candidate_id, patch_hash, steps, tokens, verdict),
        )

    def candidates(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for r in self._exec("SELECT * FROM candidates ORDER BY instance_id, candidate_id"):
            out.setdefault(r["instance_id"], []).append(dict(r))
        return out

    # -- derived files -------------------------------------------------------------------------------------

    def predictions(self, model_name: str) -> str:
        """The predictions file's text: one line per done instance, in dataset order."""
        lines = [
            prediction_line(r["instance_id"], r["patch"] or "", model_name) + "\n"
            for r in self._exec(
                "SELECT instance_id, patch FROM instances WHERE status='done' ORDER BY position"
            )
        ]
        return "".join(lines)

    def write_predictions(self, model_name: str, extra: Path | None = None) -> Path:
        """Rewrite `predictions.jsonl` in the run directory (and `extra`, e.g. --output) atomically."""
        text = self.predictions(model_name)
        path = self.run_dir / PREDICTIONS_FILE
        with self._mutex:
            atomic_write(path, text)
            if extra is not None and Path(extra).resolve() != path.resolve():
                atomic_write(Path(extra), text)
        return path


def instance_dir(run_dir: Path, instance_id: str) -> Path:
    """The solve run directory of one instance inside a bench run directory."""
    return Path(run_dir) / INSTANCES_DIR / instance_id.replace("/", "__")
