"""The signature check (GitHub's documented test vector), the job queue on real SQLite, redaction."""

from __future__ import annotations

import logging
import sqlite3
import time
from contextlib import closing

from swescale.bot.queue import JobQueue
from swescale.bot.redact import MASK, Redactor
from swescale.bot.signature import sign, signature_valid

SECRET = "It's a Secret to Everybody"
VECTOR = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_signature_passes_githubs_documented_test_vector():
    assert sign(SECRET, b"Hello, World!") == VECTOR
    assert signature_valid(SECRET, b"Hello, World!", VECTOR)


def test_signature_rejects_other_bodies_secrets_and_headers():
    assert not signature_valid(SECRET, b"Hello, World?", VECTOR)
    assert not signature_valid("another secret", b"Hello, World!", VECTOR)
    for header in (None, "", "sha1=757107ea", VECTOR.upper(), VECTOR[:-1], "sha256=\u00e9"):
        assert not signature_valid(SECRET, b"Hello, World!", header)
    assert not signature_valid("", b"Hello, World!", sign("", b"Hello, World!"))  # no secret: nothing passes


def test_queue_dedupes_deliveries_durably(tmp_path):
    queue = JobQueue(tmp_path / "q.sqlite3")
    first = queue.record("d-1", "issues", "o/r", '{"x": 1}')
    assert first == (1, True)
    assert queue.record("d-1", "issues", "o/r", '{"x": 1}') == (1, False)
    assert queue.record("d-2", "issue_comment", ignored="outsider") == (None, True)
    queue.close()
    reopened = JobQueue(tmp_path / "q.sqlite3")  # a new process sees the same deliveries
    assert reopened.record("d-1", "issues", "o/r", '{"x": 1}') == (1, False)
    assert reopened.record("d-2", "issue_comment", ignored="outsider") == (None, False)
    assert reopened.counts() == {"queued": 1}
    reopened.close()
    with closing(sqlite3.connect(tmp_path / "q.sqlite3")) as db:  # WAL is a property of the file
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_queue_claims_respect_per_repository_concurrency(tmp_path):
    queue = JobQueue(tmp_path / "q.sqlite3")
    for delivery, repo in (("a", "o/one"), ("b", "o/one"), ("c", "o/two")):
        queue.record(delivery, "issues", repo, "{}")
    first = queue.claim(repo_concurrency=1)
    second = queue.claim(repo_concurrency=1)
    assert (first.repo, second.repo) == ("o/one", "o/two")  # the second job of o/one waits
    assert queue.claim(repo_concurrency=1) is None
    queue.finish(first.id, "done", tokens=10)
    assert queue.claim(repo_concurrency=1).delivery == "b"


def test_queue_recovers_jobs_a_crash_cut_short(tmp_path):
    queue = JobQueue(tmp_path / "q.sqlite3")
    queue.record("a", "issues", "o/r", "{}")
    queue.record("b", "issues", "o/s", "{}")
    a, b = queue.claim(1), queue.claim(1)
    queue.finish(a.id, "running")  # still running when the process "dies"
    queue.close()
    queue = JobQueue(tmp_path / "q.sqlite3")
    again, given_up = queue.recover(max_attempts=2)
    assert sorted(j.id for j in again) == [a.id, b.id] and not given_up
    assert queue.claim(1).attempts == 2
    again, given_up = queue.recover(max_attempts=2)
    assert [j.id for j in given_up] == [a.id]


def test_queue_daily_spend_counts_todays_started_jobs(tmp_path):
    queue = JobQueue(tmp_path / "q.sqlite3")
    for delivery in ("a", "b", "c"):
        queue.record(delivery, "issues", f"o/{delivery}", "{}")
    for state, tokens in (("done", 1000), ("failed", 250), ("refused", 0)):
        queue.finish(queue.claim(5).id, state, tokens=tokens)
    assert queue.spent_today() == (1250, 2)
    assert queue.spent_today(now=time.time() + 86_400) == (0, 0)


def test_redaction_masks_messages_arguments_tracebacks_and_files(tmp_path, caplog):
    redactor = Redactor()
    redactor.add("ghs_supersecret123", "", None, "abc")  # too short or empty values are not masked
    redactor.install()
    log = logging.getLogger("swescale.test")
    with caplog.at_level(logging.INFO):
        log.info("pushing with %s", "ghs_supersecret123")
        try:
            raise RuntimeError("failed for https://x:ghs_supersecret123@host/repo")
        except RuntimeError:
            log.exception("git failed")
    text = caplog.text + "".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "ghs_supersecret123" not in text and MASK in text and "abc" not in MASK
    (tmp_path / "run").mkdir()
    leaked = tmp_path / "run" / "trajectory.json"
    leaked.write_text('{"out": "token ghs_supersecret123"}')
    clean = tmp_path / "run" / "clean.txt"
    clean.write_text("nothing here")
    assert redactor.scrub_tree(tmp_path / "run") == [leaked]
    assert "ghs_supersecret123" not in leaked.read_text() and clean.read_text() == "nothing here"
