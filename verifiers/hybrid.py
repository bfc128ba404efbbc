"""The hybrid score: regression result, weighted generated-test passes and the judge probability.

`weighted` (default):

    hybrid = test_weight * generated_score + judge_weight * judge - regression_penalty * [breaks a test]

  generated_score in [0, 1] is the weighted fraction of distinguishing generated tests passed (weights.py);
  judge is P(YES) (judge_default when not judged); [breaks a test] is 1 when the candidate newly fails at
  least one regression test that passes on the original code. With `regression_veto` such candidates get
  `hybrid - 10` instead, so they rank after every candidate that breaks nothing. With the defaults
  (1.0 / 0.3 / 1.0) tests dominate: the judge only reorders candidates whose test scores are within 0.3.

`r2egym` (R2E-Gym, Jain et al. 2025, "hybrid test-time scaling", as we read it): the execution-free
verifier first keeps its top n candidates (r2egym_top_n, by judge score); among those, candidates rank by
the execution-based score: the number of generated and regression tests passed (normalised by the number
of tests), ties broken by the judge score. Candidates outside the top n follow, in the same order:

    hybrid = 3 * [in judge top n] + passed_tests / total_tests + 1e-3 * judge

Candidates whose patch does not apply score -100 in both.
"""

from __future__ import annotations

from verifiers.config import VerifierConfig
from verifiers.table import CandidateRow, TestColumn

NOT_APPLYING = -100.0
VETO_SHIFT = 10.0


def score_rows(columns: list[TestColumn], rows: list[CandidateRow], config: VerifierConfig) -> str:
    """Set hybrid_score of every row in place; returns the formula used (recorded in the table)."""
    if config.hybrid == "r2egym":
        _r2egym(columns, rows, config)
        return f"r2egym(top_n={config.r2egym_top_n})"
    for row in rows:
        row.hybrid_score = _weighted(row, config)
    return (
        f"{config.test_weight}*generated + {config.judge_weight}*judge - "
        + (f"{VETO_SHIFT} (veto)" if config.regression_veto else f"{config.regression_penalty}")
        + " * [breaks a regression test]"
    )


def _judge(row: CandidateRow, config: VerifierConfig) -> float:
    return config.judge_default if row.judge is None else row.judge


def _weighted(row: CandidateRow, config: VerifierConfig) -> float:
    if not row.applies:
        return NOT_APPLYING
    score = config.test_weight * row.generated_score + config.judge_weight * _judge(row, config)
    if row.regression.new_failures:
        score -= VETO_SHIFT if config.regression_veto else config.regression_penalty
    return round(score, 6)


def _r2egym(columns: list[TestColumn], rows: list[CandidateRow], config: VerifierConfig) -> None:
    applying = [r for r in rows if r.applies]
    by_judge = sorted(applying, key=lambda r: (-_judge(r, config), r.candidate_id))
    top = {r.candidate_id for r in by_judge[: config.r2egym_top_n]}
    generated = [c.test_id for c in columns if c.kind == "generated"]
    total = len(generated) + sum(1 for c in columns if c.kind == "regression")
    for row in rows:
        if not row.applies:
            row.hybrid_score = NOT_APPLYING
            continue
        passed = sum(1 for t in generated if (o := row.outcomes.get(t)) and o.passed) + row.regression.passed
        execution = passed / total if total else 0.0
        row.hybrid_score = round(3.0 * (row.candidate_id in top) + execution + 1e-3 * _judge(row, config), 6)
