"""Weights of generated tests and the weighted generated score of each candidate.

A generated test carries information only when it fails on the original code with its own failure signal
and passes on at least one candidate:

- passes on the original code                        -> weight 0 (`passes on original`, or `passes everywhere`)
- crashes on the original with a SyntaxError/NameError/ImportError raised in the test itself
                                                     -> weight 0 (the test is broken; see outcome.is_test_bug)
- fails on the original and on every candidate       -> weight 0 (`fails everywhere`)
- fails on the original, passes on k of n distinct applying candidates
                                                     -> distinguishing, weight 1 + rarity_bonus * (1 - k/n)

Counts are over distinct applying patches (by patch hash), so duplicated candidates do not skew weights.
Regression columns are weighed apart (weigh_regressions): a failure's weight in the regression evidence.
"""

from __future__ import annotations

from verifiers.config import VerifierConfig
from verifiers.outcome import is_test_bug
from verifiers.table import CandidateRow, GeneratedTest, TestColumn, sha256

EMPTY_HASH = sha256("")


def weigh_columns(
    columns: list[TestColumn],
    tests: dict[str, GeneratedTest],
    rows: list[CandidateRow],
    config: VerifierConfig,
) -> None:
    """Set weight, distinguishing and reason of each generated column in place."""
    distinct: dict[str, CandidateRow] = {}
    for row in sorted(rows, key=lambda r: r.candidate_id):
        if row.applies:
            distinct.setdefault(row.patch_hash, row)
    n = len(distinct)
    for column in columns:
        if column.kind != "generated":
            column.distinguishing = False
            continue
        passing = sum(1 for row in distinct.values() if (o := row.outcomes.get(column.test_id)) and o.passed)
        column.weight, column.distinguishing, column.reason = _weigh(
            column, tests[column.test_id], passing, n, config.rarity_bonus
        )


def _weigh(
    column: TestColumn, test: GeneratedTest, passing: int, n: int, rarity: float
) -> tuple[float, bool, str]:
    ref = column.reference
    if ref is None or ref.exit_code is None and not ref.timed_out:
        return 0.0, False, "no run on the original code"
    if ref.passed:
        return 0.0, False, "passes everywhere" if passing == n else "passes on original"
    if bug := is_test_bug(ref, test.path):
        return 0.0, False, bug
    if passing == 0:
        return 0.0, False, "fails everywhere"
    weight = 1.0 + rarity * (1.0 - passing / n)
    return round(weight, 6), True, f"fails on original, passes on {passing}/{n} distinct candidates"


def generated_scores(columns: list[TestColumn], rows: list[CandidateRow]) -> None:
    """generated_score = sum of weights of passed columns / sum of the weights of the columns the candidate
    is judged on (0 when nothing weighs).

    A test a candidate brought itself (source `candidate:<id>`) judges its author, and the copies of the
    author's patch, only when a candidate with another patch passes it too: alone it only confirms its
    author; passed by another patch, leaving it out would rank the author below that patch for having
    brought the test."""
    weighted = [c for c in columns if c.kind == "generated" and c.weight > 0]
    hashes = {row.candidate_id: row.patch_hash for row in rows}
    authored = {c.test_id: hashes.get(c.source.removeprefix("candidate:")) for c in weighted}
    passed = {
        c.test_id: {r.patch_hash for r in rows if r.applies and (o := r.outcomes.get(c.test_id)) and o.passed}
        for c in weighted
    }

    def judges(column: TestColumn, row: CandidateRow) -> bool:
        author = authored[column.test_id]
        if column.source != f"candidate:{row.candidate_id}" and author != row.patch_hash:
            return True
        return bool(passed[column.test_id] - {row.patch_hash})

    for row in rows:
        mine = [c for c in weighted if judges(c, row)]
        total = sum(c.weight for c in mine)
        if not row.applies or total == 0:
            row.generated_score = 0.0
            continue
        got = sum(c.weight for c in mine if (o := row.outcomes.get(c.test_id)) and o.passed)
        row.generated_score = round(got / total, 6)


def plausible(row: CandidateRow) -> bool:
    """An applying, non-empty candidate that keeps at least half of the regression tests passing."""
    reg = row.regression
    total = reg.passed + reg.failed
    return row.applies and row.patch_hash != EMPTY_HASH and (total == 0 or reg.failed * 2 <= total)


def weigh_regressions(
    columns: list[TestColumn],
    rows: list[CandidateRow],
    config: VerifierConfig,
    obsolete: set[str] | None = None,
) -> None:
    """Weights of regression columns and each row's weighted regression result, in place.

    A failure weighs 1 when few candidates share it; `shared_regression_weight` when more than
    `shared_regression_share` of the distinct plausible candidates (by patch hash) break the test (it
    probably encodes the behaviour the issue changes); 0 for tests the model named obsolete."""
    obsolete = obsolete or set()
    distinct: dict[str, CandidateRow] = {}
    for row in sorted(rows, key=lambda r: r.candidate_id):
        if plausible(row):
            distinct.setdefault(row.patch_hash, row)
    failing: dict[str, int] = {}
    for row in distinct.values():
        for test_id in row.regression.new_failures:
            failing[test_id] = failing.get(test_id, 0) + 1
    n = len(distinct)
    weights = {}
    for column in columns:
        if column.kind != "regression":
            continue
        share = failing.get(column.test_id, 0) / n if n else 0.0
        if column.test_id in obsolete:
            column.weight, column.reason = 0.0, "obsolete (verifier model)"
        elif n >= 2 and share > config.shared_regression_share:
            column.weight = config.shared_regression_weight
            column.reason = f"broken by {failing[column.test_id]}/{n} plausible candidates"
        else:
            column.weight, column.reason = 1.0, ""
        weights[column.test_id] = column.weight
    total = sum(weights.values())
    for row in rows:
        if row.applies and weights:
            row.regression.weight_total = round(total, 6)
            row.regression.weight_failed = round(
                sum(weights.get(t, 1.0) for t in row.regression.new_failures), 6
            )


def unbacked_candidate_tests(columns: list[TestColumn], rows: list[CandidateRow]) -> None:
    """A test a candidate brought (source `candidate:<id>`) that the candidate itself does not pass carries
    no evidence (its own author's fix does not satisfy it): weight 0, in place. A test whose author is not
    in the table (e.g. a deduplicated member) keeps its weight."""
    by_id = {row.candidate_id: row for row in rows}
    for column in columns:
        if column.kind != "generated" or not column.source.startswith("candidate:") or column.weight == 0:
            continue
        author = by_id.get(column.source.removeprefix("candidate:"))
        if author is not None and not ((o := author.outcomes.get(column.test_id)) and o.passed):
            column.weight, column.distinguishing, column.reason = 0.0, False, "its author fails it"
