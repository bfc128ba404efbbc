"""Hybrid scores: regression evidence by degree, shared and obsolete regression tests, R2E-Gym's cascade."""

from __future__ import annotations

import math

import pytest

from verifiers.config import VerifierConfig
from verifiers.hybrid import r2egym_order, regression_loss, regression_rate, score_rows
from verifiers.table import CandidateRow, Outcome, RegressionResult, TestColumn
from verifiers.weights import generated_scores, weigh_regressions

REGRESSION = [f"r{i}" for i in range(1000)]


def _row(cid, gen=(), judge=None, broken=0, applies=True, patch_hash=None) -> CandidateRow:
    failures = REGRESSION[:broken]
    return CandidateRow(
        candidate_id=cid,
        patch_hash=patch_hash or cid,
        applies=applies,
        judge=judge,
        outcomes={t: Outcome(exit_code=0 if ok else 1) for t, ok in gen},
        regression=RegressionResult(passed=1000 - broken, failed=broken, new_failures=failures),
    )


def _columns(generated=("t1", "t2")) -> list[TestColumn]:
    cols = [TestColumn(test_id=t, kind="generated", weight=1.0, distinguishing=True) for t in generated]
    return cols + [TestColumn(test_id=t, kind="regression") for t in REGRESSION]


def test_regression_loss_grows_with_the_number_of_broken_tests():
    rows = [_row("none"), _row("one", broken=1), _row("five", broken=5), _row("many", broken=746)]
    loss = [regression_loss(r) for r in rows]
    assert loss[0] == 0.0 < loss[1] < loss[2] < loss[3] < 1.0
    assert loss[1] == pytest.approx(math.log(2) / math.log(1001))
    assert [regression_rate(r) for r in rows] == [1.0, 0.999, 0.995, pytest.approx(0.254)]


def test_weighted_hybrid_ranks_by_regression_degree_not_a_flat_penalty():
    # the case: one candidate broke 746 tests, the fix broke 5; a flat penalty tied them
    columns = _columns(())
    rows = [_row("broke746", broken=746), _row("fix", broken=5), _row("noapply", applies=False)]
    score_rows(columns, rows, VerifierConfig())
    hybrid = {r.candidate_id: r.hybrid_score for r in rows}
    assert hybrid["fix"] > hybrid["broke746"] + 0.5
    assert hybrid["noapply"] == -100.0
    score_rows(columns, rows, VerifierConfig(regression_degree="flat"))  # the earlier flat penalty
    assert rows[0].hybrid_score == rows[1].hybrid_score
    score_rows(columns, rows, VerifierConfig(regression_veto=True))
    assert rows[0].hybrid_score == rows[1].hybrid_score == pytest.approx(0.15 - 10)


def test_a_regression_most_candidates_share_weighs_less_than_one_a_single_candidate_causes():
    columns = _columns(())
    shared = REGRESSION[0]  # broken by a, b, c: probably the behaviour the issue changes
    rows = [_row("a", broken=1), _row("b", broken=1), _row("c", broken=1), _row("d", broken=0)]
    rows[3].regression = RegressionResult(passed=999, failed=1, new_failures=[REGRESSION[1]])
    config = VerifierConfig()
    weigh_regressions(columns, rows, config)
    by_id = {c.test_id: c for c in columns}
    assert by_id[shared].weight == config.shared_regression_weight and "3/4" in by_id[shared].reason
    assert by_id[REGRESSION[1]].weight == 1.0
    score_rows(columns, rows, config)
    assert rows[0].hybrid_score > rows[3].hybrid_score  # d alone breaks its test
    # the model says the shared test is obsolete: its failures weigh nothing
    weigh_regressions(columns, rows, config, obsolete={shared})
    assert rows[0].regression.weight_failed == 0.0 and rows[3].regression.weight_failed == 1.0


def test_own_candidate_tests_do_not_count_for_their_author():
    columns = [
        TestColumn(test_id="mine", kind="generated", weight=1.0, source="candidate:a"),
        TestColumn(test_id="theirs", kind="generated", weight=1.0, source="candidate:b"),
    ]
    rows = [
        _row("a", gen=[("mine", True), ("theirs", False)]),
        _row("b", gen=[("mine", True), ("theirs", True)]),
    ]
    generated_scores(columns, rows)
    assert rows[0].generated_score == 0.5  # b passes a's test too: it counts for a as for b; a fails b's
    assert rows[1].generated_score == 1.0  # only a's test counts for b (a fails b's), and b passes it


def test_an_authors_test_another_patch_passes_counts_for_its_author():
    """A correct patch bringing a test that a wrong one also passes is not ranked below it for having
    brought the test; alone (or with copies of its own patch) the test only confirms its author."""
    columns = [TestColumn(test_id="t", kind="generated", weight=1.0, source="candidate:correct")]
    rows = [
        _row("correct", gen=[("t", True)]),
        _row("wrong", gen=[("t", True)]),
        _row("correct-copy", gen=[("t", True)], patch_hash="correct"),
    ]
    generated_scores(columns, rows)
    assert [r.generated_score for r in rows] == [1.0, 1.0, 1.0]
    alone = [_row("correct", gen=[("t", True)]), _row("copy", gen=[("t", True)], patch_hash="correct")]
    alone.append(_row("wrong", gen=[("t", False)]))
    generated_scores(columns, alone)
    assert [r.generated_score for r in alone] == [0.0, 0.0, 0.0]  # a copy of the author is no witness


def _cascade_rows() -> list[CandidateRow]:
    # (judge, regression broken, generated tests passed of 2)
    spec = {
        "judge_fav": (0.95, 40, 2),  # the judge's favourite breaks 40 regression tests
        "clean": (0.80, 0, 1),  # breaks nothing, passes one generated test
        "clean_both": (0.60, 0, 2),  # breaks nothing, passes both
        "low_judge": (0.10, 0, 2),  # as good on tests, but outside the judge's top k
        "mid": (0.50, 3, 2),
        "weak": (0.30, 10, 0),
    }
    return [
        _row(cid, gen=[("t1", g >= 1), ("t2", g >= 2)], judge=j, broken=b) for cid, (j, b, g) in spec.items()
    ]


def test_r2egym_cascade_as_get_hybrid_aggregation():
    rows, columns, config = _cascade_rows(), _columns(), VerifierConfig(hybrid="r2egym")
    tiers = r2egym_order(columns, rows, config)
    # n = 6: top k = max(3, int(6 * 0.5)) = 3 by judge: judge_fav, clean, clean_both; in it the max
    # regression pass rate keeps clean and clean_both, the max generated-test score keeps clean_both
    assert [[r.candidate_id for r in t] for t in tiers][:3] == [["clean_both"], ["clean"], ["judge_fav"]]
    # outside the top k: the same cascade, so low_judge (clean, both tests) comes before mid and weak
    assert [[r.candidate_id for r in t] for t in tiers][3:] == [["low_judge"], ["mid"], ["weak"]]
    score_rows(columns, rows, config)
    assert max(rows, key=lambda r: r.hybrid_score).candidate_id == "clean_both"


def test_r2egym_cascade_and_weighted_sum_disagree():
    rows, columns = _cascade_rows(), _columns()
    generated_scores(columns, rows)
    score_rows(columns, rows, VerifierConfig(hybrid="r2egym"))
    r2e = max(rows, key=lambda r: r.hybrid_score).candidate_id
    weighted = VerifierConfig(hybrid="weighted", judge_weight=2.0)
    score_rows(columns, rows, weighted)
    best = max(rows, key=lambda r: r.hybrid_score).candidate_id
    # a judge-heavy weighted sum trades 40 broken tests for judge confidence; the cascade never does
    assert (r2e, best) == ("clean_both", "judge_fav")


def test_r2egym_ties_score_alike_and_top_k_minimum():
    columns = _columns()
    rows = [_row(c, gen=[("t1", True), ("t2", True)], judge=0.5) for c in ("x", "y")]
    rows.append(_row("z", gen=[("t1", False), ("t2", False)], judge=0.5))
    score_rows(columns, rows, VerifierConfig(hybrid="r2egym"))
    assert rows[0].hybrid_score == rows[1].hybrid_score > rows[2].hybrid_score


def test_a_candidate_test_its_author_fails_weighs_nothing():
    from verifiers.weights import unbacked_candidate_tests

    columns = [
        TestColumn(test_id="backed", kind="generated", weight=1.0, distinguishing=True, source="candidate:a"),
        TestColumn(
            test_id="unbacked", kind="generated", weight=1.0, distinguishing=True, source="candidate:b"
        ),
    ]
    rows = [
        _row("a", gen=[("backed", True), ("unbacked", True)]),
        _row("b", gen=[("backed", False), ("unbacked", False)]),
    ]
    unbacked_candidate_tests(columns, rows)
    assert [c.weight for c in columns] == [1.0, 0.0] and columns[1].reason == "its author fails it"
    generated_scores(columns, rows)
    assert rows[0].generated_score == 0.0  # a's own test does not count for a; b's weighs nothing
    assert rows[1].generated_score == 0.0
