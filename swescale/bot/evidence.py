"""Markdown the bot posts: the draft PR's body, the abstention comment, the review comment.

Everything shown comes from the verifier table and the selection decision of the run: the tests the
agents wrote with their results on the original code and on the patch, the regression tests, the judge's
P(YES), the confidence explained signal by signal (the same explanation as `swescale inspect`'s,
swescale.inspect.explain), the runner-ups, and the tokens spent.
"""

from __future__ import annotations

from agent.usage import Usage
from selection.select import Decision
from swescale.inspect.explain import decision_markdown
from verifiers.table import Outcome, VerifierTable

MAX_TEST_ROWS = 20


def _cell(outcome: Outcome | None) -> str:
    if outcome is None or outcome.exit_code is None:
        return "not run"
    if outcome.timed_out:
        return "⏱ timed out"
    return "✅ pass" if outcome.passed else f"❌ fail (exit {outcome.exit_code})"


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _written_by(source: str) -> str:
    kind, _, trajectory = source.partition(":")
    if kind == "repro":
        return f"reproduction script of trajectory `{trajectory}`"
    if kind == "testgen":
        return f"test-writing trajectory `{trajectory}`"
    return source or "–"


def tests_section(table: VerifierTable, candidate_id: str, subject: str = "this patch") -> str:
    """The generated tests (reproduction scripts, test-writing trajectories) on the original and the patch."""
    columns = [t for t in table.tests if t.kind == "generated"]
    if not columns:
        return "**Tests written:** none (no trajectory left a reproduction script).\n"
    row = table.by_candidate[candidate_id]
    lines = [
        f"**Tests written:** {len(columns)} ({sum(t.distinguishing for t in columns)} tell the original "
        "and a fix apart)\n",
        f"| test | written by | original code | {subject} | weight |",
        "| --- | --- | --- | --- | --- |",
    ]
    for column in columns[:MAX_TEST_ROWS]:
        mark = " (distinguishing)" if column.distinguishing else ""
        lines.append(
            f"| `{column.test_id}`{mark} | {_written_by(column.source)} | {_cell(column.reference)} | "
            f"{_cell(row.outcomes.get(column.test_id))} | {column.weight:.2f} |"
        )
    if len(columns) > MAX_TEST_ROWS:
        lines.append(f"| … {len(columns) - MAX_TEST_ROWS} more in the run directory | | | | |")
    return "\n".join(lines) + "\n"


def regression_section(table: VerifierTable, candidate_id: str, subject: str = "this patch") -> str:
    selected = [t for t in table.tests if t.kind == "regression"]
    if not selected:
        return "**Regression tests:** none ran (none selected, or none passed on the original code).\n"
    row = table.by_candidate[candidate_id]
    files = table.meta.get("regression_files") or []
    where = f" from {', '.join(f'`{f}`' for f in files[:5])}" if files else ""
    text = (
        f"**Regression tests:** {len(selected)} that pass on the original code{where}: "
        f"{row.regression.passed} pass on {subject}, {row.regression.failed} do not.\n"
    )
    if row.regression.new_failures:
        text += "New failures: " + ", ".join(f"`{t}`" for t in row.regression.new_failures[:10]) + "\n"
    return text


def runner_ups_section(decision: Decision, chosen: str, k: int = 3) -> str:
    others = [c for c in decision.clusters if chosen not in c.members and c.viable][:k]
    if not others:
        return "**Runner-ups:** none (every viable candidate behaves like this one).\n"
    lines = [
        "**Runner-ups:**\n",
        "| candidate | votes | hybrid score | judge |",
        "| --- | --- | --- | --- |",
    ]
    for cluster in others:
        lines.append(
            f"| `{cluster.representative}` | {cluster.support} | {cluster.hybrid:.2f} | {_num(cluster.judge)} |"
        )
    return "\n".join(lines) + "\n"


def scores_section(table: VerifierTable, decision: Decision | None, candidate_id: str) -> str:
    row = table.by_candidate[candidate_id]
    parts = [f"**Judge P(YES):** {_num(row.judge)}", f"**hybrid score:** {row.hybrid_score:.2f}"]
    if decision is not None:
        parts.append(f"**confidence:** {decision.confidence:.2f}")
    return " · ".join(parts) + "\n"


def usage_line(usage: Usage) -> str:
    return (
        f"**Tokens:** {usage.total_tokens:,} ({usage.prompt_tokens:,} prompt, {usage.completion_tokens:,} "
        f"completion) in {usage.calls} model calls\n"
    )


def evidence(
    table: VerifierTable,
    decision: Decision | None,
    candidate_id: str,
    usage: Usage,
    subject: str = "this patch",
    runner_ups: bool = True,
) -> str:
    sections = [
        scores_section(table, decision, candidate_id),
        tests_section(table, candidate_id, subject),
        regression_section(table, candidate_id, subject),
    ]
    if decision is not None and runner_ups:
        sections.append(runner_ups_section(decision, candidate_id))
    sections.append(usage_line(usage))
    return "\n".join(sections)


def folded_diff(summary: str, patch: str, limit: int) -> str:
    if len(patch) > limit:
        patch = patch[:limit] + "\n… (diff cut; the whole diff is in the run directory)\n"
    fence = "````" if "```" in patch else "```"
    return f"<details><summary>{summary}</summary>\n\n{fence}diff\n{patch.rstrip()}\n{fence}\n\n</details>\n"


def pr_body(number: int, run: str, outcome, limit: int) -> str:
    """The draft PR's body: "Fixes #n", why this patch, and the evidence."""
    decision: Decision = outcome.decision
    chosen = decision.chosen
    return (
        f"Fixes #{number}\n\n"
        f"swescale run `{run}` chose candidate `{chosen}` out of {len(outcome.candidates)}: "
        f"{decision.reason}\n\n"
        + decision_markdown(decision)
        + "\n"
        + evidence(outcome.table, decision, chosen, outcome.usage)
        + "\nStopped: "
        + "; ".join(outcome.stop_reasons)
        + "\n\nThis is a draft: review it like any contribution before marking it ready.\n\n"
        + folded_diff("the diff", outcome.patch, limit // 2)
    )


def abstain_comment(run: str, outcome, limit: int) -> str:
    """Why no PR was opened, with the best candidate (if any) folded away."""
    head = f"swescale run `{run}` abstained: no patch is supported well enough to open a pull request.\n\n"
    head += f"**Why:** {outcome.reason}\n\n"
    if outcome.stop_reasons:
        head += "**Stopped:** " + "; ".join(outcome.stop_reasons) + "\n\n"
    decision: Decision | None = outcome.decision
    best = decision.best if decision is not None else None
    if best is None or outcome.table is None or best not in outcome.candidates:
        return (
            head
            + (decision_markdown(decision) + "\n" if decision is not None else "")
            + usage_line(outcome.usage)
        )
    return (
        head
        + decision_markdown(decision)
        + f"\nThe best candidate was `{best}`:\n\n"
        + evidence(outcome.table, decision, best, outcome.usage)
        + "\n"
        + folded_diff(f"the best candidate's diff (`{best}`)", outcome.candidates[best].patch, limit // 2)
    )


def review_comment(number: int, run: str, table: VerifierTable, decision: Decision, usage: Usage) -> str:
    """One comment on a pull request: what the verifiers found. It never approves."""
    candidate = table.rows[0].candidate_id
    row = table.by_candidate[candidate]
    if not row.applies:
        verdict = "the diff does not apply to its base."
    elif decision.abstained:
        verdict = f"the evidence does not support this change with confidence: {decision.reason}"
    else:
        verdict = f"the evidence supports this change: {decision.reason}"
    return (
        f"swescale review (run `{run}`) of #{number} against its base: {verdict}\n\n"
        + evidence(table, decision, candidate, usage, subject="this PR", runner_ups=False)
        + "\nThis comment is evidence for a human reviewer; swescale does not approve or request changes.\n"
    )


def failure_comment(run: str, error: str, retry: str) -> str:
    return (
        f"swescale run `{run}` failed: {error}\n\n"
        f"Nothing was pushed. Once the cause is fixed, comment `{retry}` to try again.\n"
    )
