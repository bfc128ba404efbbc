"""Agreement as evidence (issue #30): a supermajority behaviour cluster against a singleton that passes one
test a candidate brought, and the rule that never abstains where 3/4 of the candidates agree (pure, no
Docker; the hybrid scores come from verifiers' own weighing and scoring)."""

from __future__ import annotations

from selection.config import SelectionConfig
from selection.select import select
from verifiers.config import VerifierConfig
from verifiers.hybrid import score_rows
from verifiers.table import Candidate, CandidateRow, Outcome, RegressionResult, TestColumn, VerifierTable
from verifiers.weights import generated_scores, unbacked_candidate_tests

PASS, FAIL = Outcome(exit_code=0, output_digest="ok"), Outcome(exit_code=1, output_digest="boom")


def _patch(tag: str) -> str:
    return f"--- a/m.py\n+++ b/m.py\n@@ -1,1 +1,1 @@\n-x = 0\n+x = {tag!r}\n"


def _issue_table() -> tuple[VerifierTable, list[Candidate]]:
    """The issue's instance: 7 of 9 candidates (different patches) behave alike; `single` passes the one
    distinguishing test, which `author` brought (and passes, but it also breaks a regression test)."""
    brought = TestColumn(
        test_id="reproduce_issue.py",
        kind="generated",
        source="candidate:author",
        reference=FAIL,
        weight=1.0,
        distinguishing=True,
    )
    regression = TestColumn(test_id="test_m.py::test_old", kind="regression", reference=PASS, weight=1.0)
    rows = []
    for cid in [f"c{i}" for i in range(7)] + ["single", "author"]:
        passes = cid in ("single", "author")
        broken = ["test_m.py::test_old"] if cid == "author" else []
        rows.append(
            CandidateRow(
                candidate_id=cid,
                patch_hash=cid,
                outcomes={
                    brought.test_id: PASS if passes else FAIL,
                    regression.test_id: FAIL if broken else PASS,
                },
                regression=RegressionResult(passed=1 - len(broken), failed=len(broken), new_failures=broken),
            )
        )
    table = VerifierTable(instance_id="t", tests=[brought, regression], rows=rows)
    unbacked_candidate_tests(table.tests, table.rows)
    generated_scores(table.tests, table.rows)
    score_rows(table.tests, table.rows, VerifierConfig())
    return table, [Candidate(candidate_id=r.candidate_id, patch=_patch(r.candidate_id)) for r in rows]


def test_a_seven_vote_cluster_beats_a_singleton_passing_one_candidate_brought_test():
    table, cands = _issue_table()
    assert table.row("single").hybrid_score > table.row("c0").hybrid_score  # the test speaks for `single`
    # the former ranking (hybrid first): the singleton wins (the issue)
    assert select(table, SelectionConfig(ranking="verifier"), cands).best == "single"
    # the agreement ranking (not the default until the whole pool's held-out fit: docs/selection.md)
    decision = select(table, SelectionConfig(ranking="agreement"), cands)
    assert decision.best.startswith("c") and decision.chosen == decision.best
    assert decision.agreed and decision.evidence["b"] == round(7 / 9, 4)
    top, runner_up = decision.clusters[0], decision.clusters[1]
    assert top.support == 7 and top.score > runner_up.score and runner_up.members == ["single"]
    assert "ranked by agreement" in decision.reason and "7 of 9 viable candidates agree" in decision.reason
    assert "a test separates them" in decision.reason


def _agreeing(agree: int, total: int) -> tuple[VerifierTable, list[Candidate]]:
    """`agree` candidates with different patches behave alike; the others each print something else."""
    test = TestColumn(test_id="test_m.py::test_a", kind="regression", reference=PASS, weight=1.0)
    rows = [
        CandidateRow(
            candidate_id=f"c{i}",
            patch_hash=f"c{i}",
            outcomes={test.test_id: PASS if i < agree else Outcome(exit_code=0, output_digest=f"other {i}")},
            regression=RegressionResult(passed=1),
        )
        for i in range(total)
    ]
    cands = [Candidate(candidate_id=r.candidate_id, patch=_patch(r.candidate_id)) for r in rows]
    return VerifierTable(instance_id="t", tests=[test], rows=rows), cands


def test_never_abstains_where_three_quarters_agree_in_behaviour():
    strict = SelectionConfig(abstain_threshold=0.99, abstain_threshold_unjudged=0.99)
    table, cands = _agreeing(6, 8)  # 3/4 of the viable candidates, every patch different
    decision = select(table, strict, cands)
    assert decision.confidence < 0.99 and decision.agreed
    assert not decision.abstained and decision.chosen == decision.best
    assert "answered whatever the threshold" in decision.reason
    # a judge that was asked and failed keeps the judged bar, and 3/4 still answers
    table.meta["judge_method"] = {"method": "unavailable", "failed": 8}
    judged = select(table, strict, cands)
    assert judged.threshold_key == "abstain_threshold" and not judged.abstained
    # a judge that says no lifts the rule (the judged curve decides)
    table.meta.pop("judge_method")
    for row in table.rows:
        row.judge = 0.1
    assert select(table, strict, cands).abstained
    # below 3/4 the threshold decides
    table, cands = _agreeing(5, 8)
    decision = select(table, strict, cands)
    assert not decision.agreed and decision.abstained and decision.best in {f"c{i}" for i in range(5)}
    assert not select(table, strict.model_copy(update={"answer_share": 0.6}), cands).abstained


def test_a_test_that_ranks_another_cluster_first_lifts_the_rule():
    # 7 of 9 agree, but under the verifier ranking the singleton's test puts it first: the rule speaks for
    # the top cluster only, so this decision is held to the threshold
    table, cands = _issue_table()
    decision = select(table, SelectionConfig(ranking="verifier", abstain_threshold_unjudged=0.99), cands)
    assert decision.best == "single" and not decision.agreed and decision.abstained


def test_one_or_two_candidates_agreeing_with_themselves_are_no_agreement():
    """`swescale solve` with one or two trajectories: a cluster of all of them is 100% of the candidates,
    and the 3/4 rule would answer every such run whatever the threshold says."""
    strict = SelectionConfig(abstain_threshold_unjudged=0.99)
    for total in (1, 2):
        table, cands = _agreeing(total, total)
        assert not select(table, strict, cands).agreed
    table, cands = _agreeing(3, 3)
    assert select(table, strict, cands).agreed
