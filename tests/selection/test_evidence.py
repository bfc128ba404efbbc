"""Evidence inside a behaviour cluster (agreement, code the issue names, size), a confidence that varies
with the evidence, and the tests candidates bring themselves (pure, no Docker)."""

from __future__ import annotations

import ast

from selection.candidate_tests import candidate_tests, runnable_tests
from selection.config import SelectionConfig
from selection.evidence import issue_names, issue_overlap, patch_names
from selection.select import select
from verifiers.table import Candidate, CandidateRow, Outcome, RegressionResult, TestColumn, VerifierTable

PASSED = Outcome(exit_code=0, output_digest="ok")


def _diff(path: str, header: str, removed: str, added: list[str]) -> str:
    body = f"-{removed}\n" + "".join(f"+{a}\n" for a in added)
    return (
        f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n"
        f"@@ -10,1 +10,{len(added)} @@ {header}\n{body}"
    )


def _table(ids: list[str], broken: dict[str, int] | None = None) -> VerifierTable:
    broken = broken or {}
    regression = [TestColumn(test_id=f"r{i}", kind="regression", reference=PASSED) for i in range(100)]
    rows = []
    for cid in ids:
        fails = [f"r{i}" for i in range(broken.get(cid, 0))]
        outcomes = {
            c.test_id: Outcome(
                exit_code=1 if c.test_id in fails else 0, output_digest=str(c.test_id in fails)
            )
            for c in regression
        }
        rows.append(
            CandidateRow(
                candidate_id=cid,
                patch_hash=cid,
                outcomes=outcomes,
                regression=RegressionResult(passed=100 - len(fails), failed=len(fails), new_failures=fails),
            )
        )
    return VerifierTable(instance_id="t", tests=regression, rows=rows)


def test_issue_names_keep_code_not_prose():
    names = issue_names(
        "`Poly.degree()` is wrong for sympy.polys.Poly; see parse_expr and Foo.bar(x). The result is wrong."
    )
    assert {"Poly", "degree", "sympy", "polys", "parse_expr", "Foo", "bar"} <= names
    assert not {"result", "wrong", "The", "see"} & names


def test_patch_names_from_hunk_headers_and_defs():
    patch = _diff(
        "sympy/polys/polytools.py", "def degree(f, gen=0):", "    return 1", ["    return 2", "def helper():"]
    )
    assert patch_names(patch) == {"polytools", "degree", "helper"}
    assert issue_overlap(patch, {"degree", "Poly"}) == 1


def test_within_a_cluster_agreement_then_issue_then_length():
    # a, b, c behave the same on every test; a and d share a normalized patch (d applies elsewhere)
    cands = {
        "a": _diff("m.py", "def other():", "    x = 1", ["    x = 2"]),
        "b": _diff("m.py", "def degree():", "    x = 1", ["    x = 3"]),
        "c": _diff("m.py", "def other():", "    x = 1", ["    x = 4", "    y = 5", "    z = 6"]),
    }
    candidates = [Candidate(candidate_id=k, patch=v) for k, v in cands.items()]
    candidates.append(Candidate(candidate_id="d", patch=cands["a"]))
    table = _table(["a", "b", "c", "d"])
    issue = "degree() returns the wrong value"
    decision = select(table, SelectionConfig(), candidates, issue=issue)
    assert decision.best in {"a", "d"}  # two systems wrote this patch
    # agreement off: the patch touching `degree`, which the issue names
    decision = select(table, SelectionConfig(tie_breaks=["issue", "length"]), candidates, issue=issue)
    assert decision.best == "b"
    decision = select(table, SelectionConfig(tie_breaks=["length"]), candidates, issue=issue)
    assert decision.best in {"a", "b", "d"} and decision.best != "c"


def test_the_similarity_tie_break_takes_the_member_closest_to_the_others_not_the_smallest():
    # a, b, c behave the same and were each written once: b and c make a's fix and more, d changes one
    # unrelated line (the smallest change)
    fix = ["    if x > hi:", "        return hi"]
    cands = {
        "a": _diff("m.py", "def clamp():", "    pass", fix),
        "b": _diff("m.py", "def clamp():", "    pass", [*fix, "    y = 0"]),
        "c": _diff("m.py", "def clamp():", "    pass", [*fix, "    return x"]),
        "d": _diff("m.py", "def clamp():", "    x = 1", ["    x = 2"]),
    }
    candidates = [Candidate(candidate_id=k, patch=v) for k, v in cands.items()]
    table = _table(list(cands))
    assert select(table, SelectionConfig(tie_breaks=["agreement", "length"]), candidates).best == "d"
    # a: mean Jaccard (3/4 + 3/4 + 0) / 3 = 0.5; b and c: (3/4 + 3/5 + 0) / 3 = 0.45; d: 0
    decision = select(table, SelectionConfig(tie_breaks=["similarity", "length"]), candidates)
    assert decision.best == "a"
    assert (
        "of its 4 different patches, the one closest to the others (mean similarity of changed lines 0.50)"
        in (decision.reason)
    )
    # identical patches count fully: two more copies of d make it the closest to the others
    candidates += [Candidate(candidate_id=f"d{n}", patch=cands["d"]) for n in (2, 3)]
    table = _table([*cands, "d2", "d3"])
    assert select(table, SelectionConfig(tie_breaks=["similarity", "length"]), candidates).best in {
        "d",
        "d2",
        "d3",
    }


def test_regression_degree_decides_between_clusters():
    # the issue's case: breaking 746 of 1000 ranked above breaking 5 under a flat penalty
    from verifiers.config import VerifierConfig
    from verifiers.hybrid import score_rows

    table = _table(["many", "five"], broken={"many": 74, "five": 1})
    score_rows(table.tests, table.rows, VerifierConfig())
    candidates = [Candidate(candidate_id=c, patch=_diff("m.py", "", "a", [c])) for c in ("many", "five")]
    assert select(table, SelectionConfig(), candidates).best == "five"


def test_confidence_varies_with_agreement_and_margin():
    base = _diff("m.py", "", "a", ["b"])
    confidences = []
    for agreeing in (1, 3, 6):
        candidates = [Candidate(candidate_id=f"s{i}", patch=base) for i in range(agreeing)]
        candidates += [
            Candidate(candidate_id=f"o{i}", patch=_diff("m.py", "", "a", [f"o{i}"]))
            for i in range(6 - agreeing)
        ]
        table = _table([c.candidate_id for c in candidates])
        decision = select(table, SelectionConfig(), candidates)
        assert decision.evidence["a"] == round(agreeing / 6, 4)
        confidences.append(decision.confidence)
    assert confidences[0] < confidences[1] < confidences[2]
    # a clear regression margin over the runner-up raises the confidence
    candidates = [
        Candidate(candidate_id="x", patch=base),
        Candidate(candidate_id="y", patch=_diff("m.py", "", "a", ["y"])),
    ]
    from verifiers.config import VerifierConfig
    from verifiers.hybrid import score_rows

    tied = _table(["x", "y"])  # two behaviours (y prints something else) that no test ranks apart
    tied.row("y").outcomes["r0"] = Outcome(exit_code=0, output_digest="other output")
    apart = _table(["x", "y"], broken={"y": 50})
    score_rows(apart.tests, apart.rows, VerifierConfig())
    assert (
        select(apart, SelectionConfig(), candidates).confidence
        > select(tied, SelectionConfig(), candidates).confidence
    )


SCRIPT = "from pkg.mod import f\nassert f(2) == 4\n"
TEST_FILE = "from pkg.mod import f\n\n\ndef test_old():\n    assert f(1) == 1\n"


def _new_file(path: str, text: str) -> str:
    lines = text.splitlines()
    body = "".join(f"+{line}\n" for line in lines)
    return f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n{body}"


def test_candidate_tests_scripts_and_new_test_functions():
    originals = {
        "pkg/__init__.py": "",
        "pkg/mod.py": "def f(x):\n    return x\n",
        "pkg/tests/__init__.py": "",
        "pkg/tests/test_mod.py": TEST_FILE,
    }
    added_fn = (
        "diff --git a/pkg/tests/test_mod.py b/pkg/tests/test_mod.py\n--- a/pkg/tests/test_mod.py\n"
        "+++ b/pkg/tests/test_mod.py\n@@ -5,1 +5,5 @@\n     assert f(1) == 1\n+\n+\n+def test_new():\n+    assert f(2) == 4\n"
    )
    candidates = [
        Candidate(candidate_id="swe", patch=_new_file("reproduce_issue.py", SCRIPT)),
        Candidate(candidate_id="tester", patch=added_fn),
        Candidate(
            candidate_id="junk",
            patch=_new_file("build/lib/pkg/mod.py", "x = 1\n") + _new_file("pkg/extra.py", "y = 2\n"),
        ),
        Candidate(candidate_id="copy", patch=_new_file("reproduce_issue.py", SCRIPT)),
    ]
    tests = candidate_tests(candidates, originals.get)
    by_source = {t.source: t for t in tests}
    assert set(by_source) == {"candidate:copy", "candidate:tester"}  # identical scripts once; junk skipped
    assert by_source["candidate:copy"].script == SCRIPT
    wrapper = by_source["candidate:tester"].script
    ast.parse(wrapper)
    assert "NAMES = ['test_new']" in wrapper and "'pkg.tests'" in wrapper
    assert runnable_tests("def test_a():\n    pass\n\ndef test_b(tmp_path):\n    pass\n") == ["test_a"]
