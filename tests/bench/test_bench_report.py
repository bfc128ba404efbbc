"""`bench report` figures from a state whose verdicts are known: resolve rate, oracle coverage, selection
accuracy, abstention precision, cost per stage; report.html with its SVG plots and summary.json."""

from __future__ import annotations

import json

from envs.task import Task
from swescale.bench.plots import binned_rate
from swescale.bench.report import write_report
from swescale.bench.state import ORACLE_KEY, BenchState, InstanceResult
from swescale.outcome import StageCost

# instance: (patch, verdict of the prediction, verdicts of its candidates)
CASES = {
    "a": ("fix-a", "resolved", ["resolved", "unresolved"]),  # selected the resolving candidate
    "b": ("fix-b", "unresolved", ["resolved", "unresolved"]),  # a resolving candidate existed, missed
    "c": ("", "empty", ["unresolved"]),  # abstained rightly
    "d": ("", "empty", ["resolved"]),  # abstained wrongly
    "e": ("fix-e", "unresolved", []),  # no candidate resolves; no oracle for it
}


def _state(tmp_path) -> BenchState:
    state = BenchState(tmp_path)
    state.sync([Task(instance_id=i) for i in [*CASES, "f"]])
    for k, (iid, (patch, verdict, cands)) in enumerate(CASES.items()):
        stages = {
            "fix": StageCost(seconds=10.0 * (k + 1), tokens=1000 * (k + 1)),
            "judge": StageCost(seconds=1, tokens=5),
        }
        state.record(
            InstanceResult(
                instance_id=iid,
                status="done",
                patch=patch,
                verdict=verdict,
                tokens=1005 * (k + 1),
                seconds=12.0 * (k + 1),
                stages=stages,
                trajectories=2,
                steps=10 * (k + 1),
                candidates=len(cands),
            )
        )
        for n, cand in enumerate(cands):
            state.set_candidate(iid, f"g0-t{n}", f"h{iid}{n}", 5 + n * 10, 100, cand)
    state.record(
        InstanceResult(instance_id="f", status="error", error_class="environment-build", error="pip failed")
    )
    state.set_meta(ORACLE_KEY, ["a", "b", "c", "d"])
    state.set_meta("sessions", [[100.0, 160.0], [200.0, 230.0]])
    return state


def test_report_figures(tmp_path):
    with _state(tmp_path) as state:
        summary = write_report(state, tmp_path)
    assert (
        summary["instances"] == 6
        and summary["done"] == 5
        and summary["errors_by_class"] == {"environment-build": 1}
    )
    assert summary["resolve_rate"] == 1 / 6
    assert summary["coverage"] == 3 / 6 and summary["coverage_of_graded"] == 3 / 4
    assert summary["selection_accuracy"] == 1 / 3  # a of {a, b, d}
    assert summary["abstentions"] == 2 and summary["abstention_precision"] == 1 / 2
    assert (
        summary["stages"]["fix"]["tokens"]["total"] == 15000
        and summary["stages"]["judge"]["seconds"]["mean"] == 1
    )
    assert summary["tokens_per_instance"]["median"] == 3015 and summary["run_wall_seconds"] == 90
    assert json.loads((tmp_path / "summary.json").read_text())["selection_accuracy"] == 1 / 3
    html = (tmp_path / "report.html").read_text()
    assert html.count("<svg") == 4 and "selection accuracy" in html and "33.3%" in html
    assert "pip failed" in html


def test_without_graded_candidates_the_oracle_figures_are_unknown(tmp_path):
    with _state(tmp_path) as state:
        state.set_meta(ORACLE_KEY, [])
        summary = write_report(state, tmp_path)
    assert summary["coverage"] is None and summary["selection_accuracy"] is None
    assert summary["abstention_precision"] is None and summary["resolve_rate"] == 1 / 6
    assert "n/a" in (tmp_path / "report.html").read_text()


def test_errors_count_as_unresolved_in_the_resolve_rate(tmp_path):
    """docs/bench.md: an evaluated run whose instances errored or abstained has a resolve rate (0 here)."""
    with BenchState(tmp_path) as state:
        state.sync([Task(instance_id="x"), Task(instance_id="y")])
        state.record(
            InstanceResult(instance_id="x", status="error", error_class="model-server", tokens=18578)
        )
        state.record(InstanceResult(instance_id="y", status="error", error_class="model-server"))
        summary = write_report(state, tmp_path)
        assert summary["resolve_rate"] == 0.0 and summary["errors"] == 2
        state.record(InstanceResult(instance_id="y", status="done", patch="fix-y"))  # not graded yet
        assert write_report(state, tmp_path)["resolve_rate"] is None


def test_binned_rate_groups_in_ascending_order():
    points = binned_rate([(float(x), x >= 50) for x in range(100)], bins=4)
    assert [round(p[1], 2) for p in points] == [0.0, 0.0, 1.0, 1.0] and [p[2] for p in points] == [25] * 4
    few = binned_rate([(3.0, False), (3.0, False), (3.0, True), (4.0, True)])  # one point per distinct x
    assert few == [(3.0, 1 / 3, 3), (4.0, 1.0, 1)]
    assert binned_rate([]) == [] and binned_rate([(1.0, True)], bins=5) == [(1.0, 1.0, 1)]
