"""The review job: the verifiers on a pull request's diff against its base, posted as one comment.

Tests come from test-writing trajectories for the linked issue (`Fixes #n` in the PR's body; the PR's own
title and body when it links none), plus the repository's regression tests and the judge. It never
approves or requests changes: it only comments.
"""

from __future__ import annotations

import logging

from swescale.bot import gitops
from swescale.bot.events import Trigger
from swescale.bot.evidence import review_comment
from swescale.bot.job import JobContext, JobResult
from swescale.issuerefs import issue_refs

log = logging.getLogger(__name__)


def review_pull(trigger: Trigger, ctx: JobContext) -> JobResult:
    from agent.model import ModelClient, ModelView
    from agent.usage import Ledger
    from envs.datasets import local_task
    from swescale.config import judge_config
    from swescale.preflight import check_services
    from swescale.select import select_task
    from verifiers.table import Candidate

    pr = ctx.client.pull(trigger.repo, trigger.number)
    head_ref, base_ref = f"refs/swescale/pull/{pr.number}", f"refs/remotes/origin/{pr.base_ref}"
    gitops.fetch(
        ctx.workspace,
        f"+refs/pull/{pr.number}/head:{head_ref}",
        f"+refs/heads/{pr.base_ref}:{base_ref}",
        token=ctx.token,
    )
    start, patch = gitops.pr_diff(ctx.workspace, base_ref, head_ref)
    if not patch.strip():
        url = ctx.client.comment(
            trigger.repo, pr.number, f"swescale run `{ctx.run_name}`: the PR changes nothing."
        )
        return JobResult(state="reviewed", url=url, message="empty diff")
    linked = issue_refs(pr.body, mentions=False)
    number = linked[0] if linked else None
    title, body = ctx.client.issue_text(trigger.repo, number) if number else (pr.title, pr.body)
    config = ctx.config
    check_services(config)
    task = local_task(ctx.workspace, f"{title.strip()}\n\n{(body or '').strip()}\n", base_commit=start)
    ledger = Ledger()  # the job's usage, model and judge
    model = ModelView(ModelClient(config.model), ledger)
    judge = ModelView(ModelClient(judge_config(config)), ledger) if config.verifier.judge else None
    candidate = Candidate(candidate_id=f"pr-{pr.number}", patch=patch, source="pull-request")
    log.info("%s: reviewing %s#%s (%d diff lines)", ctx.run_name, trigger.repo, pr.number, patch.count("\n"))
    table, decision = select_task(task, [candidate], config, ctx.run_dir, model=model, judge_model=judge)
    usage = ledger.total
    text = review_comment(pr.number, ctx.run_name, table, decision, usage)
    url = ctx.client.comment(trigger.repo, pr.number, text)
    return JobResult(state="reviewed", url=url, tokens=usage.total_tokens, message=decision.reason)
