"""`bot serve`'s workers: bounded threads taking jobs from the queue, one repository's jobs at most
`bot.repo_concurrency` at a time, within the daily budget."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

from swescale.bot import gitops
from swescale.bot.client import GitHubClient
from swescale.bot.events import Trigger
from swescale.bot.flow import ack_text, report_failure, retry_command, run_trigger
from swescale.bot.job import JobContext, JobResult
from swescale.bot.queue import Job, JobQueue
from swescale.config import SwescaleConfig

log = logging.getLogger(__name__)


def _slug(repo: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "__", repo)


class JobRunner:
    """Turns a queued job into a bot run: credentials, workspace, run directory, budget."""

    def __init__(self, config: SwescaleConfig, queue: JobQueue, token: str | None, state_dir: Path):
        self.config, self.queue, self.token = config, queue, token
        self.state_dir = Path(state_dir)
        self.run_root = Path(config.bot.run_root) if config.bot.run_root else self.state_dir / "runs"
        self._acking: set[int] = set()
        self._ack_lock = threading.Lock()

    def context(self, job: Job, trigger: Trigger, config: SwescaleConfig | None = None) -> JobContext:
        client = GitHubClient.for_trigger(trigger, self.config.bot, self.token)
        return JobContext(
            config=config or self.config,
            client=client,
            workspace=self.state_dir / "workspaces" / _slug(trigger.repo),
            run_dir=self.run_root / f"job-{job.id}",
            run_name=f"job-{job.id}",
        )

    def acknowledge(self, job: Job) -> None:
        """Eyes and a comment, once per job: at receipt, at start-up for queued jobs a restart left
        unacknowledged, or by the worker. The flag is set after posting, so a crash in between re-posts
        rather than losing the acknowledgement."""
        with self._ack_lock:
            if job.id in self._acking:
                return
            self._acking.add(job.id)
        try:
            current = self.queue.get(job.id)
            if current is None or current.acked:
                return
            trigger = Trigger.model_validate_json(job.trigger)
            ctx = self.context(job, trigger)
            ctx.client.acknowledge(trigger, ack_text(trigger, ctx))
            self.queue.mark_acked(job.id)
        finally:
            with self._ack_lock:
                self._acking.discard(job.id)

    def budget_left(self) -> tuple[int | None, str]:
        """(tokens this job may spend, None = no daily limit; why it may not run, or "")."""
        bot = self.config.bot
        tokens, jobs = self.queue.spent_today()
        if bot.daily_jobs and jobs > bot.daily_jobs:  # this job is counted already
            return 0, f"the daily limit of {bot.daily_jobs} jobs is reached"
        if not bot.daily_tokens:
            return None, ""
        left = bot.daily_tokens - tokens
        if left <= 0:
            return 0, f"the daily budget of {bot.daily_tokens:,} tokens is spent ({tokens:,} used)"
        return left, ""

    def run(self, job: Job) -> JobResult:
        trigger = Trigger.model_validate_json(job.trigger)
        left, refusal = self.budget_left()
        cap = self.config.bot.max_tokens
        if left is not None:
            cap = min(cap, left) if cap else left
        config = self.config.model_copy(
            update={"bot": self.config.bot.model_copy(update={"max_tokens": cap})}
        )
        ctx = self.context(job, trigger, config)
        if refusal:
            url = ctx.client.comment(
                trigger.repo,
                trigger.number,
                f"swescale job `{ctx.run_name}` was not run: {refusal}. The budget resets at 00:00 UTC; "
                f"then comment `{retry_command(trigger, config)}`.",
            )
            return JobResult(state="refused", url=url, message=refusal)
        try:
            ctx.workspace = gitops.ensure_clone(trigger.clone_url, ctx.workspace, ctx.token)
        except gitops.GitError as exc:
            return report_failure(trigger, ctx, f"cannot clone {trigger.repo}: {exc}")
        if job.attempts > 1:
            log.info("%s: attempt %d, resuming %s", ctx.run_name, job.attempts, ctx.run_dir)
        try:
            self.acknowledge(job)
        except Exception as exc:  # noqa: BLE001 - the job's answer still comes
            log.warning("%s: acknowledgement failed: %s", ctx.run_name, exc)
        return run_trigger(trigger, ctx, acknowledge=False)

    def report_given_up(self, job: Job) -> None:
        """A job cut short by crashes `max_attempts` times: tell the issue, mark it failed."""
        trigger = Trigger.model_validate_json(job.trigger)
        try:
            ctx = self.context(job, trigger)
            ctx.client.comment(
                trigger.repo,
                trigger.number,
                f"swescale job `{ctx.run_name}` was cut short {job.attempts} time(s) (the server stopped while "
                f"it ran) and is not retried again. Comment `{retry_command(trigger, self.config)}` to start "
                "a new one.",
            )
        except Exception as exc:  # noqa: BLE001 - still mark it failed
            log.error("job-%d: could not report the crash: %s", job.id, exc)
        self.queue.finish(job.id, "failed", result="cut short by crashes")


class WorkerPool:
    """`workers` threads running queued jobs until stopped."""

    def __init__(self, runner: JobRunner, workers: int, repo_concurrency: int):
        self.runner, self.workers, self.repo_concurrency = runner, workers, repo_concurrency
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._running: dict[int, int] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        for i in range(self.workers):
            thread = threading.Thread(target=self._loop, name=f"swescale-bot-worker-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        self._wake.set()

    @property
    def running(self) -> list[int]:
        with self._lock:
            return sorted(self._running.values())

    def stop(self) -> None:
        """Stop taking jobs; jobs still running go back to the queue (the next start resumes them)."""
        self._stop.set()
        self._wake.set()
        for job_id in self.running:
            self.runner.queue.requeue(job_id)

    def _loop(self) -> None:
        queue = self.runner.queue
        while not self._stop.is_set():
            job = queue.claim(self.repo_concurrency)
            if job is None:
                self._wake.wait(timeout=1.0)
                self._wake.clear()
                continue
            with self._lock:
                self._running[threading.get_ident()] = job.id
            try:
                result = self.runner.run(job)
                if not self._stop.is_set():
                    state = result.state if result.state in ("failed", "refused") else "done"
                    queue.finish(job.id, state, result.tokens, result.model_dump_json())
            except Exception as exc:  # noqa: BLE001 - a broken job never kills the worker
                log.exception("job-%d failed outside the job's own handling", job.id)
                queue.finish(job.id, "failed", result=f"{type(exc).__name__}: {exc}")
            finally:
                with self._lock:
                    self._running.pop(threading.get_ident(), None)
                self._wake.set()  # a repository slot may have freed up
