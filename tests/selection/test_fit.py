"""Held-out halves of benchmarks/selection_fit.py: the split, and a fit that sees one half only."""

from __future__ import annotations

import hashlib
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from selection_fit import (  # noqa: E402
    TEST_WEIGHTS,
    TIE_ORDERS,
    Setting,
    apply,
    fit,
    half,
    precision_ceiling,
    report,
    search_space,
    two_fold,
)

from selection.config import SelectionConfig  # noqa: E402

IDS = [f"owner__repo-{n}" for n in range(40)]
SETTINGS = [Setting("first", "verifier", ()), Setting("second", "agreement", ())]


def test_halves_by_the_parity_of_the_ids_sha256():
    for iid in IDS:
        assert half(iid) == ("A" if int(hashlib.sha256(iid.encode()).hexdigest(), 16) % 2 == 0 else "B")
    assert half("sympy__sympy-20590") == half("sympy__sympy-20590")
    sides = [half(i) for i in IDS]
    assert 10 < sides.count("A") < 30  # both halves get instances


def _record(iid: str, right: str) -> dict:
    return {
        "instance_id": iid,
        "repo": "owner/repo",
        "labels": {"x": right == "x", "y": right == "y"},
        "random": 0.5,
        "majority": 0.5,
        "oracle": 1.0,
        "modes": {"targeted": {"seconds": 10.0}},
    }


def _runs(records: list[dict]) -> dict:
    """`first` picks x on half A and y on half B, `second` the opposite; confidences spread in [0, 1)."""
    runs: dict = {"first": {}, "second": {}}
    for n, r in enumerate(records):
        a = half(r["instance_id"]) == "A"
        common = {"confidence": n / len(records), "agreed": False, "judged": False, "seconds": 10.0}
        runs["first"][r["instance_id"]] = {**common, "best": "x" if a else "y"}
        runs["second"][r["instance_id"]] = {**common, "best": "y" if a else "x"}
    return runs


def test_the_report_halfs_labels_cannot_change_the_settings_fitted_on_the_other():
    records = [_record(i, "x") for i in IDS]
    runs = _runs(records)
    (direction, fitted, held_out), _ = two_fold(records, runs, SETTINGS, 0.9)
    assert direction == "A->B" and fitted.setting.name == "first"
    assert {half(r["instance_id"]) for r in held_out} == {"B"}
    # any labels on B: the fit on A does not move (settings, thresholds, the accuracies it saw)
    for right in ("x", "y"):
        flipped = [_record(r["instance_id"], right) if half(r["instance_id"]) == "B" else r for r in records]
        (_, refit, _), _ = two_fold(flipped, runs, SETTINGS, 0.9)
        assert (refit.setting, refit.thresholds, refit.accuracy) == (
            fitted.setting,
            fitted.thresholds,
            fitted.accuracy,
        )
    # while A's own labels do
    flipped = [_record(r["instance_id"], "y") if half(r["instance_id"]) == "A" else r for r in records]
    (_, refit, _), _ = two_fold(flipped, runs, SETTINGS, 0.9)
    assert refit.setting.name == "second"


def test_the_threshold_reaches_the_precision_on_the_fitting_half_and_agreed_decisions_always_answer():
    records = [_record(i, "x") for i in IDS[:20]]
    runs = {"only": {}}
    for n, r in enumerate(records):  # right above confidence 0.5, wrong below; two agreed ones wrong
        right = n >= 10
        runs["only"][r["instance_id"]] = {
            "best": "x" if right else "y",
            "confidence": n / 20,
            "agreed": n in (0, 1),
            "judged": False,
            "seconds": 1.0,
        }
    chosen = fit(records, runs, [Setting("only", "agreement", ())], 0.8)
    # 10 right (>= 0.5) and the 2 agreed wrong answer: 10/12 = 0.83 >= 0.8; one step lower is 10/13
    assert chosen.thresholds == {False: 0.5}
    decided = apply(records, runs, chosen)
    answered = [r["modes"]["fitted"] for r in decided if r["modes"]["fitted"]["answered"]]
    assert len(answered) == 12 and sum(m["correct"] for m in answered) == 10
    # no threshold reaches 0.95 on >= 5 answered: only agreed decisions answer
    assert fit(records, runs, [Setting("only", "agreement", ())], 0.95).thresholds == {False: math.inf}


def test_report_prints_both_directions_the_spread_and_the_named_rankings():
    records = [_record(i, "x") for i in IDS]
    text = report(records, _runs(records), SETTINGS, 0.9, "targeted")
    assert "-- A->B: fitted on" in text and "-- B->A: fitted on" in text
    assert "-- spread:" in text and "gap closed" in text and "verification s/instance" in text
    assert "verifier" in text.split("named rankings held out")[1]


def test_the_report_gives_the_precision_of_the_agreement_rule_apart_from_the_thresholds():
    records = [_record(i, "x") for i in IDS]
    runs = _runs(records)
    for n, iid in enumerate(sorted(runs["first"])):  # on both halves: agreed and wrong, or below any bar
        runs["first"][iid] |= {"agreed": n % 2 == 0, "best": "y", "confidence": 0.0}
    text = report(records, runs, SETTINGS[:1], 0.9, "targeted")
    rule = [line for line in text.splitlines() if "the 3/4 rule (agreed) answers" in line]
    assert len(rule) == 2  # one per direction
    for line in rule:
        agreed, by_threshold, _ceiling = line.split("; ")
        assert agreed.endswith("precision 0.000") and by_threshold.startswith("the threshold answers 0 of")


def test_the_precision_ceiling_counts_agreed_answers_where_no_candidate_resolves():
    # 6 instances: 3 with a resolving candidate; 2 of the other 3 settled by the 3/4 rule (wrong whatever
    # is chosen), 1 not; agreement where a candidate resolves does not lower the ceiling
    records = [_record(i, "x") for i in IDS[:6]]
    for r in records[3:]:
        r |= {"labels": {"x": False, "y": False}, "oracle": 0.0}
    runs = {"only": {}}
    for n, r in enumerate(records):
        runs["only"][r["instance_id"]] = {
            "best": "x",
            "confidence": 0.0,
            "agreed": n in (0, 3, 4),
            "judged": False,
            "seconds": 1.0,
        }
    decided = apply(records, runs, fit(records, runs, [Setting("only", "agreement", ())], 0.9))
    assert precision_ceiling(decided)[:2] == (3 / 5, 2)
    text = report(records, runs, [Setting("only", "agreement", ())], 0.9, "targeted")
    assert "ceiling" in text


def test_the_search_space_holds_the_incumbent_first_and_a_probe_seam():
    space = search_space()
    assert space[0].ranking == "verifier" and {s.ranking for s in space} == {"verifier", "agreement"}
    # the incumbent: the `verifier` ranking (probes after the hybrid score) with probe clusters, no weight
    assert {"selection.ranking=verifier", "selection.probe_weight=0", "selection.probe_clusters=true"} <= set(
        space[0].overrides
    )
    assert f"selection.tie_breaks=[{','.join(SelectionConfig().tie_breaks)}]" in space[0].overrides
    # every point says its probe settings, so it means the same whatever the defaults are
    assert all(any(o.startswith("selection.probe_clusters=") for o in s.overrides) for s in space)
    assert any("selection.ranking=[hybrid,support,length]" in s.overrides for s in space)  # before probes
    with_probes = search_space((0.0, 1.0))
    assert len(with_probes) > len(space) and any("probe=1" in s.name for s in with_probes)
    # a probe weight comes with probe clusters; the `verifier` points with a weight come after every other
    # point, so they are chosen only when they do strictly better on the fitting half
    probed = [i for i, s in enumerate(with_probes) if "selection.probe_weight=1" in s.overrides]
    assert all("selection.probe_clusters=true" in with_probes[i].overrides for i in probed)
    verifier = [i for i in probed if with_probes[i].ranking == "verifier"]
    per_weight = len(TEST_WEIGHTS) * len(TIE_ORDERS)
    assert len(verifier) == per_weight and verifier == list(
        range(len(with_probes) - per_weight, len(with_probes))
    )


def test_a_run_still_writing_counts_the_instances_whose_tables_are_saved(tmp_path):
    from selection_quality import _records

    done, pending = _record("o__r-1", "x"), _record("o__r-2", "x")
    (tmp_path / "o__r-1" / "targeted").mkdir(parents=True)
    (tmp_path / "o__r-1" / "targeted" / "verifier_table.json").write_text("{}")
    lines = [json.dumps(done), json.dumps(pending), json.dumps(done)[:40]]  # the last one half written
    (tmp_path / "results.jsonl").write_text("\n".join(lines))
    assert [r["instance_id"] for r in _records(tmp_path / "results.jsonl")] == ["o__r-1"]
