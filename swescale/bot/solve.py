"""The solve job: `swescale.solve` on the default branch; a draft PR with the evidence, or an abstention
comment. The pushed commit is made on a clean checkout from the chosen diff, never from a sandbox."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from swescale.bot import gitops
from swescale.bot.events import Trigger
from swescale.bot.evidence import abstain_comment, pr_body
from swescale.bot.job import JobContext, JobResult, capped

log = logging.getLogger(__name__)


def issue_text(trigger: Trigger) -> str:
    return f"{trigger.title.strip()}\n\n{trigger.body.strip()}\n"


def pinned_base(run_dir: Path) -> str | None:
    """The commit an earlier attempt of this job solved against (its run directory resumes only for it)."""
    try:
        return json.loads((run_dir / "task.json").read_text())["base_commit"] or None
    except (OSError, ValueError, KeyError):
        return None


def solve_issue(trigger: Trigger, ctx: JobContext) -> JobResult:
    from swescale.api import solve

    bot = ctx.config.bot
    branch = trigger.default_branch or ctx.client.default_branch(trigger.repo)
    base = gitops.default_branch_commit(ctx.workspace, branch, ctx.token)
    base = pinned_base(ctx.run_dir) or base  # a resumed job stays on the commit it started from
    log.info("%s: solving %s#%s at %s %s", ctx.run_name, trigger.repo, trigger.number, branch, base[:12])
    config = capped(ctx.config, bot.max_tokens)
    outcome = solve(ctx.workspace, issue_text(trigger), config, base_commit=base, run_dir=ctx.run_dir)
    tokens = outcome.usage.total_tokens
    if outcome.interrupted:
        raise RuntimeError(f"the run was interrupted: {outcome.reason}")
    if outcome.error_class:  # a dead model server is a failed job, never an abstention
        raise RuntimeError(f"the run failed ({outcome.error_class}): {outcome.error}")
    if outcome.abstained or not outcome.patch.strip():
        url = ctx.client.comment(
            trigger.repo, trigger.number, abstain_comment(ctx.run_name, outcome, bot.comment_limit)
        )
        return JobResult(state="abstained", url=url, tokens=tokens, message=outcome.reason)
    head = f"{bot.branch_prefix}{trigger.number}"
    message = f"Fix #{trigger.number}: {trigger.title.strip()}\n\nFixes #{trigger.number}\n\nswescale run {ctx.run_name}"
    with gitops.clean_checkout(ctx.workspace, base) as checkout:
        commit = gitops.commit_patch(checkout, outcome.patch, message, bot.git_name, bot.git_email)
    gitops.push(ctx.workspace, commit, head, ctx.token)
    log.info("%s: pushed %s as %s", ctx.run_name, commit[:12], head)
    url = ctx.client.open_draft_pr(
        trigger.repo,
        head=head,
        base=branch,
        title=f"Fixes #{trigger.number}: {trigger.title.strip()}",
        body=pr_body(trigger.number, ctx.run_name, outcome, bot.comment_limit),
    )
    ctx.client.comment(
        trigger.repo, trigger.number, f"swescale run `{ctx.run_name}` opened a draft PR: {url}"
    )
    return JobResult(state="pr", url=url, tokens=tokens, message=outcome.reason)
