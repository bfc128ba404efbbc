"""One bot job from an accepted trigger to what GitHub shows: acknowledge, solve or review, answer.

Whatever happens, the issue hears about it: a draft PR, an abstention comment, a review comment, or a
comment saying what failed. Secrets are scrubbed from the run directory when the job ends.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from swescale.bot.events import Trigger
from swescale.bot.evidence import failure_comment
from swescale.bot.job import JobContext, JobResult
from swescale.bot.redact import redactor
from swescale.bot.review import review_pull
from swescale.bot.solve import solve_issue
from swescale.config import SwescaleConfig

log = logging.getLogger(__name__)


def retry_command(trigger: Trigger, config: SwescaleConfig) -> str:
    return f"{config.bot.command} {trigger.kind}"


def ack_text(trigger: Trigger, ctx: JobContext) -> str:
    solve = ctx.config.solve
    where = f" ([progress]({ctx.run_url}))" if ctx.run_url else ""
    cap = ctx.config.bot.max_tokens
    budget = f" within {cap:,} tokens" if cap else ""
    what = (
        f"solving #{trigger.number}: {solve.trajectories} trajectories x {solve.generations} generation(s){budget}, "
        "verified by tests and a judge; a draft PR follows only if the evidence supports a patch"
        if trigger.kind == "solve"
        else f"reviewing #{trigger.number}: regression tests, tests written for the issue, and a judge"
    )
    return f"👀 swescale run `{ctx.run_name}`{where} is {what}. Asked by @{trigger.actor}."


def run_trigger(trigger: Trigger, ctx: JobContext, acknowledge: bool = True) -> JobResult:
    """Run one job; never raises for a failure that can be reported on the issue."""
    redactor.add(ctx.token)
    ctx.run_dir.mkdir(parents=True, exist_ok=True)
    try:
        if acknowledge:
            ctx.client.acknowledge(trigger, ack_text(trigger, ctx))
        return solve_issue(trigger, ctx) if trigger.kind == "solve" else review_pull(trigger, ctx)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a comment, never silence
        log.exception("%s: job for %s#%s failed", ctx.run_name, trigger.repo, trigger.number)
        error = redactor.scrub(f"{type(exc).__name__}: {exc}")
        return report_failure(trigger, ctx, error)
    finally:
        redactor.scrub_tree(ctx.run_dir)


def spent_tokens(run_dir: Path) -> int:
    """Tokens a run spent, from its run.json (0 when it did not get that far)."""
    try:
        usage = json.loads((run_dir / "run.json").read_text())["usage"]
        return int(usage["prompt_tokens"]) + int(usage["completion_tokens"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def report_failure(trigger: Trigger, ctx: JobContext, error: str) -> JobResult:
    body = failure_comment(ctx.run_name, error, retry_command(trigger, ctx.config))
    try:
        url = ctx.client.comment(trigger.repo, trigger.number, body)
    except Exception as exc:  # noqa: BLE001 - GitHub itself is down: the log is all that is left
        log.error("%s: could not report the failure on GitHub either: %s", ctx.run_name, exc)
        url = ""
    return JobResult(state="failed", url=url, tokens=spent_tokens(ctx.run_dir), message=error)
