"""The hybrid score: regression evidence by degree, weighted generated-test passes and the judge probability.

`weighted` (default):

    hybrid = test_weight * generated_score + judge_weight * judge - regression_penalty * regression_loss

  generated_score in [0, 1] is the weighted fraction of distinguishing generated tests passed (weights.py);
  judge is P(YES) (judge_default when not judged); regression_loss in [0, 1] grows with the weighted number
  of regression tests the candidate breaks, f, out of the total weight W of the regression columns
  (weights.weigh_regressions: tests most candidates break, or that the model calls obsolete, weigh less):

      regression_loss = log(1 + f) / log(1 + W)

  It orders candidates exactly as the regression pass rate 1 - f/W does (R2E-Gym ranks by pass rate), and
  keeps one broken test visible next to hundreds (W = 1000: f = 1 -> 0.10, f = 5 -> 0.26, f = 746 -> 0.96).
  With `regression_veto` a candidate that breaks anything gets `hybrid - 10` instead of the loss, so it
  ranks after every candidate that breaks nothing.

`r2egym`: R2E-Gym's hybrid rule as `get_hybrid_aggregation` in their `reproduction/verifier_evals.ipynb`
(R2E-Gym/R2E-Gym) has it; see `r2egym_order`.

Candidates whose patch does not apply score -100 in both.
"""

from __future__ import annotations

import math

from verifiers.config import VerifierConfig
from verifiers.table import CandidateRow, TestColumn

NOT_APPLYING = -100.0
VETO_SHIFT = 10.0


def score_rows(columns: list[TestColumn], rows: list[CandidateRow], config: VerifierConfig) -> str:
    """Set hybrid_score of every row in place; returns the formula used (recorded in the table)."""
    if config.hybrid == "r2egym":
        order = r2egym_order(columns, rows, config)
        r2egym_scores(order, rows)
        return (
            f"r2egym: top max({config.r2egym_top_min}, int({config.r2egym_top_fraction} * n)) by judge, "
            "then max regression pass rate, then max generated-test pass rate, then max judge"
        )
    for row in rows:
        row.hybrid_score = _weighted(row, config)
    penalty = f"{VETO_SHIFT} (veto)" if config.regression_veto else f"{config.regression_penalty}"
    return (
        f"{config.test_weight}*generated + {config.judge_weight}*judge - {penalty} * regression_loss "
        "(log(1 + weighted broken tests) / log(1 + weighted regression tests))"
    )


def _judge(row: CandidateRow, config: VerifierConfig) -> float:
    return config.judge_default if row.judge is None else row.judge


def regression_loss(row: CandidateRow) -> float:
    """log(1 + weighted broken tests) / log(1 + weighted regression tests), in [0, 1]; 0 without tests."""
    reg = row.regression
    total = reg.weight_total if reg.weight_total else float(reg.passed + reg.failed)
    broken = reg.weight_failed if reg.weight_total else float(reg.failed)
    if total <= 0 or broken <= 0:
        return 0.0
    return min(1.0, math.log1p(broken) / math.log1p(total))


def regression_rate(row: CandidateRow) -> float:
    """Weighted fraction of the regression tests (passing on the original) that still pass; 1 without tests."""
    reg = row.regression
    total = reg.weight_total if reg.weight_total else float(reg.passed + reg.failed)
    broken = reg.weight_failed if reg.weight_total else float(reg.failed)
    return 1.0 if total <= 0 else max(0.0, 1.0 - broken / total)


def _weighted(row: CandidateRow, config: VerifierConfig) -> float:
    if not row.applies:
        return NOT_APPLYING
    score = config.test_weight * row.generated_score + config.judge_weight * _judge(row, config)
    if config.regression_veto:
        broken = row.regression.weight_failed if row.regression.weight_total else row.regression.failed
        score -= VETO_SHIFT if broken > 0 else 0.0
    elif config.regression_degree == "flat":
        broken = row.regression.weight_failed if row.regression.weight_total else row.regression.failed
        score -= config.regression_penalty * (broken > 0)
    else:
        score -= config.regression_penalty * regression_loss(row)
    return round(score, 6)


def generated_pass_rate(columns: list[TestColumn], row: CandidateRow) -> float:
    """Fraction of the generated tests the candidate passes (R2E-Gym's per-candidate test reward)."""
    generated = [c.test_id for c in columns if c.kind == "generated"]
    if not generated:
        return 0.0
    return sum(1 for t in generated if (o := row.outcomes.get(t)) and o.passed) / len(generated)


def r2egym_order(
    columns: list[TestColumn], rows: list[CandidateRow], config: VerifierConfig
) -> list[list[CandidateRow]]:
    """R2E-Gym's cascade over the applying rows, as tiers best first (rows in a tier are tied).

    As `get_hybrid_aggregation`: sort by (verifier, regression, testgen) descending and keep the top
    k = max(3, int(n * 0.5)); among those keep the rows with the maximum regression pass rate, then the
    maximum generated-test score, then the maximum verifier (judge) score. Their function stops there and
    averages the labels of that last set; to rank every candidate we repeat the cascade on what is left
    (first the rest of the top k, then the rows outside it)."""
    keyed = [
        (_judge(r, config), regression_rate(r), generated_pass_rate(columns, r), r) for r in rows if r.applies
    ]
    keyed.sort(key=lambda x: (-x[0], -x[1], -x[2], x[3].candidate_id))
    top_k = max(config.r2egym_top_min, int(len(keyed) * config.r2egym_top_fraction))
    tiers: list[list[CandidateRow]] = []
    for part in (keyed[:top_k], keyed[top_k:]):
        remaining = list(part)
        while remaining:
            best = max(x[1] for x in remaining)
            kept = [x for x in remaining if x[1] == best]
            best = max(x[2] for x in kept)
            kept = [x for x in kept if x[2] == best]
            best = max(x[0] for x in kept)
            kept = [x for x in kept if x[0] == best]
            tiers.append([x[3] for x in kept])
            taken = {id(x[3]) for x in kept}
            remaining = [x for x in remaining if id(x[3]) not in taken]
    return tiers


def r2egym_scores(tiers: list[list[CandidateRow]], rows: list[CandidateRow]) -> None:
    """hybrid_score = the number of tiers below a row's tier (tied rows score the same)."""
    for row in rows:
        if not row.applies:
            row.hybrid_score = NOT_APPLYING
    for rank, tier in enumerate(tiers):
        for row in tier:
            row.hybrid_score = float(len(tiers) - 1 - rank)
