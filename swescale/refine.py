"""EvoScale-style refinement: which candidates become parents of the next generation, and when to stop."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined

from selection.select import Decision
from verifiers.table import Candidate, VerifierTable

_templates = Environment(
    loader=PackageLoader("swescale", "templates"),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,
)


def render_parents(
    table: VerifierTable, candidates: dict[str, Candidate], ranking: list[str], k: int, generation: int
) -> str:
    """The prompt block showing the top-k candidates' diffs and test results to the next generation."""
    parents = []
    for cid in ranking:
        if len(parents) >= k:
            break
        row = table.by_candidate.get(cid)
        if row is None or not row.applies or not candidates[cid].patch.strip():
            continue
        tests = []
        for column in table.tests:
            outcome = row.outcomes.get(column.test_id)
            if column.kind == "generated" and outcome is not None:
                tests.append(
                    {
                        "test_id": column.test_id,
                        "passed": outcome.passed,
                        "excerpt": "" if outcome.passed else outcome.output_excerpt.strip()[-300:],
                    }
                )
        parents.append(
            {
                "candidate_id": cid,
                "score": row.hybrid_score,
                "patch": candidates[cid].patch,
                "tests": tests,
                "new_failures": row.regression.new_failures[:10],
            }
        )
    if not parents:
        return ""
    return _templates.get_template("parents.j2").render(parents=parents, generation=generation)


def converged(table: VerifierTable, decision: Decision, judge_threshold: float, judged: bool) -> str | None:
    """Why refinement can stop, or None: the best candidate passes every distinguishing test, has a high
    judge score (when a judge ran) and every candidate that passes them all is in its cluster."""
    if decision.best is None:
        return None
    distinguishing = [t.test_id for t in table.tests if t.distinguishing]
    if not distinguishing:
        return None
    rows = table.by_candidate

    def passes_all(cid: str) -> bool:
        outcomes = rows[cid].outcomes
        return all(t in outcomes and outcomes[t].passed for t in distinguishing)

    best = rows[decision.best]
    if not passes_all(decision.best):
        return None
    if judged and (best.judge is None or best.judge < judge_threshold):
        return None
    cluster = next((c for c in decision.clusters if decision.best in c.members), None)
    if cluster is None or any(passes_all(cid) and cid not in cluster.members for cid in rows):
        return None
    judge = f", judge {best.judge:.2f}" if best.judge is not None else ""
    return (
        f"converged: {decision.best} passes all {len(distinguishing)} distinguishing tests{judge}, "
        "and the clusters agree"
    )
