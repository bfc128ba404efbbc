"""Behavioural clustering, ranking and abstention on hand-made verifier tables (pure, no Docker)."""

from __future__ import annotations

import pytest

from selection.config import SelectionConfig
from selection.select import select
from verifiers.table import Candidate, CandidateRow, Outcome, RegressionResult, TestColumn, VerifierTable

PASS, FAIL = Outcome(exit_code=0, output_digest="ok"), Outcome(exit_code=1, output_digest="boom")


def row(cid, outcomes, hybrid=0.0, judge=None, new_failures=(), applies=True):
    return CandidateRow(
        candidate_id=cid,
        patch_hash=cid,
        applies=applies,
        outcomes=outcomes,
        hybrid_score=hybrid,
        judge=judge,
        regression=RegressionResult(
            passed=5 - len(new_failures), failed=len(new_failures), new_failures=list(new_failures)
        ),
    )


def gen_test(tid, weight=1.0):
    return TestColumn(test_id=tid, kind="generated", weight=weight, reference=FAIL, distinguishing=True)


def patch(n_lines: int, tag: str) -> str:
    body = "".join(f"+line {tag} {i}\n" for i in range(n_lines))
    return f"--- a/f.txt\n+++ b/f.txt\n@@ -1,0 +1,{n_lines} @@\n{body}"


def test_clusters_by_behaviour_and_votes():
    table = VerifierTable(
        instance_id="t",
        tests=[gen_test("g1"), gen_test("g2")],
        rows=[
            row("a", {"g1": PASS, "g2": PASS}, hybrid=0.9),
            row("b", {"g1": PASS, "g2": PASS}, hybrid=0.9),
            row("c", {"g1": PASS, "g2": FAIL}, hybrid=0.5),
            row("d", {"g1": PASS, "g2": FAIL}, hybrid=0.5),
            row("e", {"g1": PASS, "g2": FAIL}, hybrid=0.5),
            row("x", {}, applies=False),
        ],
    )
    cands = [Candidate(candidate_id=c, patch=patch(i + 1, c)) for i, c in enumerate("abcdex")]
    decision = select(table, SelectionConfig(ranking="verifier"), cands)
    viable = [c for c in decision.clusters if c.viable]
    assert [sorted(c.members) for c in viable] == [["a", "b"], ["c", "d", "e"]]
    assert [c.support for c in viable] == [2, 3]
    assert decision.best == "a"  # hybrid first, then the shorter patch inside the cluster
    # a and b behave the same (2 of 5 viable) with different patches (1 of 5 each)
    assert decision.evidence["b"] == 0.4 and decision.evidence["a"] == 0.2
    assert decision.ranking[-1] == "x"
    # Support first: the bigger cluster wins.
    decision = select(table, SelectionConfig(ranking=["support", "hybrid"]), cands)
    assert decision.best == "c"


def test_ties_broken_by_support_then_length():
    tests = [gen_test("g1")]
    other = Outcome(exit_code=0, output_digest="different output")
    rows = [
        row("long", {"g1": PASS}, 0.8),
        row("short", {"g1": other}, 0.81),
        row("long2", {"g1": PASS}, 0.8),
    ]
    cands = [
        Candidate(candidate_id="long", patch=patch(9, "l")),
        Candidate(candidate_id="short", patch=patch(1, "s")),
        Candidate(candidate_id="long2", patch=patch(9, "l")),
    ]
    table = VerifierTable(instance_id="t", tests=tests, rows=rows)
    assert select(table, SelectionConfig(), cands).best == "long"  # within tolerance -> support
    assert select(table, SelectionConfig(ranking=["hybrid", "length"]), cands).best == "short"


def test_confident_when_evidence_agrees():
    table = VerifierTable(
        instance_id="t",
        tests=[gen_test("g1")],
        rows=[
            row("good", {"g1": PASS}, hybrid=0.95, judge=0.9),
            row("bad", {"g1": FAIL}, hybrid=0.1, judge=0.2),
        ],
    )
    decision = select(table)
    assert decision.chosen == "good" and not decision.abstained
    assert decision.confidence > 0.75  # (a=1/2 * d=1 * j=0.9) ** (1/3)
    assert decision.evidence["d"] == 1.0


def test_abstains_on_contradicting_evidence():
    # The top candidate passes the generated test but breaks regression tests and the judge says no.
    table = VerifierTable(
        instance_id="t",
        tests=[gen_test("g1")],
        rows=[
            row("top", {"g1": PASS}, hybrid=0.7, judge=0.05, new_failures=["t::a", "t::b"]),
            row("other", {"g1": FAIL}, hybrid=0.3, judge=0.4),
        ],
    )
    decision = select(table)
    assert decision.abstained and decision.chosen is None
    assert decision.best == "top"
    assert "abstain" in decision.reason and decision.confidence < 0.5


def test_abstains_when_two_behaviours_tie():
    table = VerifierTable(
        instance_id="t",
        tests=[gen_test("g1"), gen_test("g2")],
        rows=[
            row("a", {"g1": PASS, "g2": FAIL}, hybrid=0.5, judge=0.5),
            row("b", {"g1": FAIL, "g2": PASS}, hybrid=0.5, judge=0.5),
        ],
    )
    decision = select(table)
    assert decision.evidence["M"] == 0.0 and decision.abstained


def test_a_decision_without_judge_uses_the_unjudged_threshold():
    # no judge: agreement 1/2 and half the distinguishing tests, no margin -> confidence 0.25
    table = VerifierTable(
        instance_id="t",
        tests=[gen_test("g1"), gen_test("g2")],
        rows=[row("a", {"g1": PASS, "g2": FAIL}, hybrid=0.5), row("b", {"g1": FAIL, "g2": PASS}, hybrid=0.5)],
    )
    config = SelectionConfig(abstain_threshold=0.5, abstain_threshold_unjudged=0.2)
    decision = select(table, config)
    assert decision.evidence["j"] is None and decision.confidence == 0.25
    assert not decision.abstained and decision.chosen == decision.best
    strict = select(table, SelectionConfig(abstain_threshold=0.1, abstain_threshold_unjudged=0.3))
    assert strict.abstained and "< 0.30" in strict.reason


def test_a_judge_that_was_asked_and_failed_keeps_the_judged_threshold():
    """A broken judge never lowers the bar: the same table, the judge asked (meta) and silent -> abstain."""
    table = VerifierTable(
        instance_id="t",
        tests=[gen_test("g1"), gen_test("g2")],
        rows=[row("a", {"g1": PASS, "g2": FAIL}, hybrid=0.5), row("b", {"g1": FAIL, "g2": PASS}, hybrid=0.5)],
        meta={"judge_method": {"method": "unavailable", "failed": 2}},
    )
    decision = select(table, SelectionConfig(abstain_threshold=0.5, abstain_threshold_unjudged=0.2))
    assert decision.evidence["j"] is None and decision.confidence == 0.25
    assert (
        decision.abstained
        and "< 0.50" in decision.reason
        and "the judge was asked and failed" in decision.reason
    )


def test_no_viable_candidate():
    table = VerifierTable(instance_id="t", rows=[row("a", {}, applies=False), row("b", {})])
    decision = select(
        table,
        candidates=[Candidate(candidate_id="a", patch=patch(1, "a")), Candidate(candidate_id="b", patch="")],
    )
    assert decision.abstained and decision.best is None and "no viable" in decision.reason


def test_without_tests_groups_vote():
    rows = [row(c, {}) for c in "abc"]
    cands = [
        Candidate(candidate_id="a", patch=patch(2, "x")),
        Candidate(candidate_id="b", patch=patch(1, "y")),
        Candidate(candidate_id="c", patch=patch(2, "x")),
    ]
    decision = select(VerifierTable(instance_id="t", rows=rows), candidates=cands)
    assert decision.best == "a"
    assert decision.groups[0]["count"] == 2


def test_config_rejects_unknown_ranking_key():
    with pytest.raises(ValueError):
        SelectionConfig(ranking=["hybrid", "vibes"])


def test_abstains_when_a_candidate_whose_verification_failed_could_have_been_the_best():
    errored = row("b", {}, applies=False)
    errored.error = "SandboxError: the container is gone"
    table = VerifierTable(
        instance_id="t", tests=[gen_test("g1")], rows=[row("a", {"g1": PASS}, 1.0), errored]
    )
    decision = select(table, SelectionConfig(abstain_threshold_unjudged=0.0))
    assert decision.abstained and decision.chosen is None and decision.best == "a"
    assert (
        "verification of 1 candidate(s) failed (b:" in decision.reason
        and "container is gone" in decision.reason
    )


def test_the_issues_examples_split_what_the_tests_tie_and_never_outrank_a_test():
    """Default selection: probes (the issue's examples) split a cluster the tests cannot tell apart and rank
    its parts, but a candidate can special-case an example, so a probe never beats a test (issue #30)."""
    from verifiers.table import Probe, ProbeColumn, ProbeOutcome, ProbeStep, StepResult

    probe = Probe(probe_id="probe:p", source="script 1", steps=[ProbeStep(code="f()", expected="2")])
    original = ProbeOutcome(status="ran", steps=[StepResult(kind="value", text="1")], digest="1")
    gives = {v: ProbeOutcome(status="ran", steps=[StepResult(kind="value", text=v)], digest=v) for v in "123"}
    column = ProbeColumn(probe=probe, reference=original, checks=[0])

    def table(hybrid_of_c: float) -> VerifierTable:
        rows = [row(c, {"g1": PASS}, hybrid=0.5) for c in "ab"] + [row("c", {"g1": PASS}, hybrid=hybrid_of_c)]
        for r, value in zip(rows, "123", strict=True):  # a keeps the original's 1, b gives 2, c gives 3
            r.probes = {probe.probe_id: gives[value]}
        return VerifierTable(instance_id="t", tests=[gen_test("g1")], rows=rows, probes=[column])

    cands = [Candidate(candidate_id=c, patch=patch(3 - i, c)) for i, c in enumerate("abc")]
    tied = select(table(0.5), SelectionConfig(), cands)
    assert sorted(sorted(c.members) for c in tied.clusters if c.viable) == [["a"], ["b"], ["c"]]
    assert tied.best == "b"  # the expected value, though a's and c's patches are shorter
    assert select(table(0.6), SelectionConfig(), cands).best == "c"  # a better test record wins
    # a weight adds the probe score to the hybrid score instead: then it can outweigh the test record
    assert select(table(0.6), SelectionConfig(probe_weight=1.0), cands).best == "b"
