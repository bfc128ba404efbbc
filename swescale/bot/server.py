"""`swescale bot serve`: the webhook server (FastAPI on uvicorn) for teams without GitHub Actions.

POST /webhook (or /): the `X-Hub-Signature-256` HMAC of the raw body must match (401 otherwise); the
`X-GitHub-Delivery` id is recorded durably, so a redelivery never makes a second job; accepted events are
queued in SQLite and answered 202 at once. GET /healthz reports the queue and the workers.
"""

from __future__ import annotations

import fcntl
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from swescale.bot.events import Ignored, parse_event
from swescale.bot.queue import JobQueue
from swescale.bot.signature import signature_valid
from swescale.bot.worker import JobRunner, WorkerPool
from swescale.config import SwescaleConfig

log = logging.getLogger(__name__)


class ServerBusyError(RuntimeError):
    """Another server holds this state directory."""


class BotServer:
    """The queue, the workers and the request handling of one `bot serve` process."""

    def __init__(self, config: SwescaleConfig, secret: str, token: str | None):
        bot = config.bot
        self.config, self.secret = config, secret
        self.state_dir = Path(bot.state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = (self.state_dir / "server.lock").open("w")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise ServerBusyError(f"another `swescale bot serve` uses {self.state_dir}") from exc
        self.queue = JobQueue(self.state_dir / "jobs.sqlite3")
        self.runner = JobRunner(config, self.queue, token, self.state_dir)
        self.pool = WorkerPool(self.runner, bot.workers, bot.repo_concurrency)
        self._acks = ThreadPoolExecutor(max_workers=1, thread_name_prefix="swescale-bot-ack")

    def start(self) -> None:
        """Recover jobs a crash cut short, then start the workers."""
        again, given_up = self.queue.recover(self.config.bot.max_attempts)
        for job in again:
            log.info(
                "job-%d was cut short by a crash: queued again (attempt %d next)", job.id, job.attempts + 1
            )
        for job in given_up:
            self.runner.report_given_up(job)
        for job in self.queue.unacknowledged():
            self._acks.submit(self._acknowledge, job.id)
        self.pool.start()

    def stop(self) -> None:
        self.pool.stop()
        self._acks.shutdown(wait=False, cancel_futures=True)
        self.queue.close()
        self._lock_file.close()

    def _acknowledge(self, job_id: int) -> None:
        job = self.queue.get(job_id)
        if job is None:
            return
        try:
            self.runner.acknowledge(job)
        except Exception as exc:  # noqa: BLE001 - the worker acknowledges later if this failed
            log.warning("job-%d: acknowledgement failed: %s", job_id, exc)

    def receive(self, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        """One delivery: (HTTP status, JSON answer)."""
        if not signature_valid(self.secret, body, headers.get("x-hub-signature-256")):
            return 401, {"error": "bad or missing X-Hub-Signature-256"}
        event, delivery = headers.get("x-github-event", ""), headers.get("x-github-delivery", "")
        if not event or not delivery:
            return 400, {"error": "X-GitHub-Event and X-GitHub-Delivery are required"}
        if event == "ping":
            return 200, {"pong": True}
        try:
            payload = json.loads(body)
        except ValueError:
            return 400, {"error": "the body is not JSON"}
        if not isinstance(payload, dict):
            return 400, {"error": "the body is not a JSON object"}
        found = parse_event(event, payload, self.config.bot)
        if isinstance(found, Ignored):
            _, new = self.queue.record(delivery, event, ignored=found.reason)
            log.info("delivery %s (%s) ignored: %s", delivery, event, found.reason)
            return 202, {"ignored": found.reason, "duplicate": not new}
        job_id, new = self.queue.record(delivery, event, found.repo, found.model_dump_json())
        if new:
            log.info("delivery %s: job-%d %s %s#%d", delivery, job_id, found.kind, found.repo, found.number)
            self._acks.submit(self._acknowledge, job_id)
            self.pool.wake()
        return 202, {"job": job_id, "duplicate": not new}

    def health(self) -> dict:
        counts = self.queue.counts()
        return {
            "status": "ok",
            "queued": counts.get("queued", 0),
            "running": len(self.pool.running),
            "workers": self.pool.workers,
            "jobs": counts,
        }


def create_app(server: BotServer) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        server.start()
        try:
            yield
        finally:
            server.stop()

    app = FastAPI(title="swescale bot", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    async def webhook(request: Request) -> JSONResponse:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        status, content = await run_in_threadpool(server.receive, headers, body)
        return JSONResponse(content, status_code=status)

    app.add_api_route("/webhook", webhook, methods=["POST"])
    app.add_api_route("/", webhook, methods=["POST"])

    @app.get("/healthz")
    async def healthz() -> dict:
        return await run_in_threadpool(server.health)

    return app
