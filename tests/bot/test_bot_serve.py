"""`swescale bot serve` as a process: signatures, durable dedupe, ignored outsiders, restarts, crashes,
the daily budget. The model server is absent here (a job fails at its preflight and says so on the issue)
or silent (a job hangs in its preflight while the server is killed); Docker runs are in test_bot_e2e.py."""

from __future__ import annotations

import signal
import socket
import sqlite3
import threading

import pytest
from bot_payloads import REPO, issue_comment, labeled
from bot_serve import Serve, free_port
from bot_support import ISSUE_BODY, ISSUE_TITLE, TOKEN

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def serve(github, tmp_path):
    servers: list[Serve] = []

    def make(*args: str) -> Serve:
        server = Serve(github, tmp_path / "state", tmp_path / "serve.log", *args)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop(signal.SIGKILL)


@pytest.fixture
def silent_model():
    """A TCP server that accepts and never answers: a job's preflight waits there (10 s timeout)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    sock.close()


def closed_model() -> str:
    return f"http://127.0.0.1:{free_port()}/v1"


def solve_event(origin, number: int = 1) -> dict:
    return labeled(str(origin), number, ISSUE_TITLE, ISSUE_BODY, sender="maintainer")


def test_bad_or_missing_signature_is_401_and_queues_nothing(serve, github, origin):
    server = serve("bot.workers=0").start()
    assert server.deliver("issues", solve_event(origin), "d-1", secret="not-the-secret").status_code == 401
    assert server.deliver("issues", solve_event(origin), "d-2", signature="").status_code == 401
    assert (
        server.deliver("issues", solve_event(origin), "d-3", signature="sha256=" + "0" * 64).status_code
        == 401
    )
    health = server.health()
    assert health["status"] == "ok" and health["jobs"] == {} and health["workers"] == 0
    assert github.requests == []


def test_redelivered_delivery_makes_one_job(serve, github, origin):
    server = serve("bot.workers=0").start()
    first = server.deliver("issues", solve_event(origin), "72d3162e-cc78-11e3-81ab-4c9367dc0958")
    again = server.deliver("issues", solve_event(origin), "72d3162e-cc78-11e3-81ab-4c9367dc0958")
    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json() == {"job": 1, "duplicate": False}
    assert again.json() == {"job": 1, "duplicate": True}
    server.wait_for(
        lambda: server.health()["jobs"] == {"queued": 1} and github.comments_on(REPO, 1), what="the ack"
    )
    server.stop()
    server.start("bot.workers=0")  # durable: a redelivery after a restart is still a duplicate
    assert server.deliver("issues", solve_event(origin), "72d3162e-cc78-11e3-81ab-4c9367dc0958").json()[
        "duplicate"
    ]
    assert server.health()["jobs"] == {"queued": 1}
    assert len(github.comments_on(REPO, 1)) == 1 and [r["content"] for r in github.reactions] == ["eyes"]


def test_an_outsiders_command_is_ignored_before_any_work(serve, github, origin):
    server = serve("bot.workers=1").start()
    payload = issue_comment(
        str(origin), 1, ISSUE_TITLE, ISSUE_BODY, "/swescale solve", commenter="stranger", association="NONE"
    )
    answer = server.deliver("issue_comment", payload, "d-outsider")
    assert answer.status_code == 202 and "association NONE" in answer.json()["ignored"]
    assert server.deliver("ping", {"zen": "Keep it logically awesome."}, "d-ping").json() == {"pong": True}
    assert server.health()["jobs"] == {}
    assert github.requests == []  # no reaction, no comment, no API read
    assert not (server.state_dir / "workspaces").exists()  # nothing cloned


@pytest.mark.docker  # the job's preflight pings the engine before the model server
def test_a_queued_job_survives_a_restart_and_runs(serve, github, origin):
    server = serve("--model", closed_model()).start("bot.workers=0")
    assert server.deliver("issues", solve_event(origin), "d-queued").status_code == 202
    server.wait_for(lambda: github.comments_on(REPO, 1), what="the acknowledgement")
    server.stop()  # SIGTERM with the job still queued
    server.start("bot.workers=1")
    server.wait_for(lambda: len(github.comments_on(REPO, 1)) == 2, what="the job's answer")
    ack, answer = github.comments_on(REPO, 1)
    assert (
        "job-1" in ack
        and "job-1" in answer
        and "failed" in answer
        and "does not answer GET /models" in answer
    )
    assert "/swescale solve" in answer  # how to try again
    server.wait_for(lambda: server.health()["jobs"] == {"failed": 1}, what="the job to finish")
    assert (server.state_dir / "workspaces" / "octo__minimath" / ".git").is_dir()  # the job cloned origin


def acked(server: Serve, job_id: int) -> bool:
    """The job's acknowledgement is recorded, not only posted (a kill between the two re-posts it, by design)."""
    db = sqlite3.connect(f"file:{server.state_dir / 'jobs.sqlite3'}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT acked FROM jobs WHERE id = ?", (job_id,)).fetchone()
    finally:
        db.close()
    return bool(row and row[0])


def crash_mid_job(serve, github, origin, model: str, attempts: int) -> Serve:
    """Kill -9 the server while its only job runs (acknowledged, waiting on the silent model); restart it."""
    server = serve("--model", model, f"bot.max_attempts={attempts}").start("bot.workers=1")
    server.deliver("issues", solve_event(origin), "d-crash")
    server.wait_for(
        lambda: server.health()["running"] == 1 and github.comments_on(REPO, 1) and acked(server, 1),
        timeout=300,
        what="the job to run, acknowledged",
    )
    server.stop(signal.SIGKILL)
    return server.start("bot.workers=1")


@pytest.mark.docker  # the job's preflight pings the engine before the model server
def test_a_job_cut_by_a_crash_is_reported_when_out_of_attempts(serve, github, origin, silent_model):
    server = crash_mid_job(serve, github, origin, silent_model, attempts=1)
    server.wait_for(lambda: len(github.comments_on(REPO, 1)) == 2, what="the crash report")
    report = github.comments_on(REPO, 1)[-1]
    assert "job-1" in report and "cut short 1 time" in report and "/swescale solve" in report
    assert server.health()["jobs"] == {"failed": 1}


@pytest.mark.docker  # the job's preflight pings the engine before the model server
def test_a_job_cut_by_a_crash_runs_again_while_attempts_are_left(serve, github, origin, silent_model):
    server = crash_mid_job(serve, github, origin, silent_model, attempts=2)
    server.wait_for(
        lambda: len(github.comments_on(REPO, 1)) == 2, timeout=60, what="the second attempt's answer"
    )
    answer = github.comments_on(REPO, 1)[-1]
    assert (
        "job-1" in answer and "does not answer GET /models" in answer
    )  # it ran again (and says why it failed)
    assert len(github.comments_on(REPO, 1)) == 2  # acknowledged once, across both attempts


def test_the_daily_job_budget_refuses_with_a_comment(serve, github, origin):
    github.add_issue(REPO, 2, "Second", "Another bug.")
    server = serve("--model", closed_model(), "bot.daily_jobs=1").start("bot.workers=1")
    server.deliver("issues", solve_event(origin, 1), "d-1")
    server.wait_for(lambda: server.health()["jobs"].get("failed") == 1, what="the first job")
    server.deliver("issues", solve_event(origin, 2), "d-2")
    server.wait_for(lambda: server.health()["jobs"].get("refused") == 1, what="the refusal")
    refusal = github.comments_on(REPO, 2)[-1]
    assert "not run" in refusal and "daily limit of 1 jobs" in refusal and "00:00 UTC" in refusal


def test_the_token_is_in_no_log_or_state_file(serve, github, origin):
    server = serve("--model", closed_model()).start("bot.workers=1")
    server.deliver("issues", solve_event(origin), "d-1")
    server.wait_for(lambda: server.health()["jobs"].get("failed") == 1, what="the job")
    server.stop()
    assert TOKEN not in server.log.read_text()
    for path in server.state_dir.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
