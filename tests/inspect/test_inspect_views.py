"""The inspector's data and page from real run directories (synthetic runs written with swescale's own
writers): decision signals, candidates, the verifier heat map, trajectories, bounded size, fields other
versions add, bench tables, the bot's shared explanation, the CLI and the live server."""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import threading
import time
import urllib.request

import pytest
from synthetic import bench_run, solve_run
from typer.testing import CliRunner

from selection.select import Decision
from swescale.cli.main import app
from swescale.inspect.bench import bench_view
from swescale.inspect.explain import decision_markdown, decision_signals
from swescale.inspect.page import build_page, embed
from swescale.inspect.serve import make_server
from swescale.inspect.solve import OBSERVATION_CUT, edit_diff, solve_view


@pytest.fixture
def run(tmp_path):
    return solve_run(tmp_path / "run", obs_chars=4 * OBSERVATION_CUT)


def test_decision_signals_read_the_evidence_in_the_formulas_order():
    decision = Decision(
        chosen="a", abstained=False, confidence=0.7, evidence={"M": 1.0, "a": 0.3, "d": 1.0, "r": None}
    )
    signals = decision_signals(decision)
    assert [s.key for s in signals] == ["a", "d", "r", "M"]
    assert [s.level for s in signals] == ["weak", "strong", "absent", "strong"]
    text = decision_markdown(decision)
    assert "chose `a`, confidence 0.70" in text and "| regression (`r`) | n/a (absent) |" in text


def test_solve_view_has_every_part_a_person_reads(run):
    view = solve_view(run)
    decision = json.loads(next(run.glob("gen1/*/decision.json")).read_text())
    assert view["decision"]["chosen"] == decision["chosen"] and view["decision"]["signals"]
    assert [c["id"] for c in view["candidates"]][: len(decision["ranking"])] == decision["ranking"]
    heat = view["matrix"]
    assert len(heat["rows"]) == 4 and all(len(r["cells"]) == len(heat["tests"]) == 3 for r in heat["rows"])
    assert {"pass", "fail", "timeout", "notrun"} <= {c for r in heat["rows"] for c in r["cells"]}
    assert [t["distinguishing"] for t in heat["tests"]] == [True, True, False]
    trajectory = next(t for t in view["trajectories"] if t["id"] == "g1-t2")
    assert trajectory["parents"] == [{"id": "g0-t0", "score": "0.50"}]
    steps = trajectory["steps"]
    assert steps[2]["format_error"].startswith("Your answer did not contain a tool call")
    # the working tree's diff shows on the step that changed it, and no per-call edit is guessed
    assert [s["n"] for s in steps if s["diff"]] == [2] and "+    return x + 1" in steps[1]["diff"]
    assert not any(c["edit"] for s in steps for c in s["calls"])
    assert steps[0]["tokens"] > 0 and trajectory["exit_status"] == "submitted"


def test_a_trajectory_without_recorded_diffs_shows_each_editing_calls_change(run):
    path = run / "trajectories" / "g1-t2.json"
    record = json.loads(path.read_text())
    for step in record["steps"]:  # as saved before the agent recorded the diff after each step
        del step["diff"]
    path.write_text(json.dumps(record))
    steps = next(t for t in solve_view(run)["trajectories"] if t["id"] == "g1-t2")["steps"]
    assert not any(s["diff"] for s in steps)
    edit = next(s for s in steps if s["calls"] and s["calls"][0]["edit"])
    assert "-    return x" not in edit["calls"][0]["edit"] and "+return x + 1" in edit["calls"][0]["edit"]


def test_only_the_chosen_and_runner_up_keep_whole_observations_unless_full(run):
    view = solve_view(run)
    whole = {view["decision"]["chosen"] or view["decision"]["best"], view["runner_up"]}
    for t in view["trajectories"]:
        cut = any(o.get("cut") for s in t["steps"] for o in s["observations"])
        assert cut == (t["id"] not in whole), t["id"]
    full = solve_view(run, full=True)
    assert not any(o.get("cut") for t in full["trajectories"] for s in t["steps"] for o in s["observations"])


def test_fields_other_versions_add_are_shown_not_dropped(run):
    path = next(run.glob("gen1/*/verifier_table.json"))
    table = json.loads(path.read_text())
    first = table["tests"][0]["test_id"]
    table["rows"][1]["outcomes"][first] = {"exit_code": None, "error": "the sandbox died"}
    table["rows"][1]["touches_test_infrastructure"] = True
    table["tests"][0]["hostile"] = "writes conftest.py"
    path.write_text(json.dumps(table))
    view = solve_view(run)
    row = next(r for r in view["matrix"]["rows"] if r["id"] == table["rows"][1]["candidate_id"])
    assert row["cells"][0] == "error" and row["flags"] == {"touches_test_infrastructure": True}
    assert view["matrix"]["tests"][0]["flags"] == {"hostile": "writes conftest.py"}
    cand = next(c for c in view["candidates"] if c["id"] == row["id"])
    assert cand["flags"]["touches_test_infrastructure"] is True


def test_a_run_still_going_loads(tmp_path, run):
    (run / "run.json").unlink()
    for gen in run.glob("gen*"):
        for f in gen.rglob("*.json"):
            f.unlink()
    record = json.loads((run / "trajectories" / "g1-t3.json").read_text())
    record["result"], record["finished"] = None, None
    (run / "trajectories" / "g1-t3.json").write_text(json.dumps(record))
    view = solve_view(run)
    assert view["decision"] is None and not view["finished"]
    assert next(t for t in view["trajectories"] if t["id"] == "g1-t3")["exit_status"] == "running"
    assert '"decision":null' in build_page(run)


def test_edit_diff_of_editing_calls_only():
    assert edit_diff("bash", {"command": "ls"}) == ""
    diff = edit_diff(
        "str_replace_editor", {"command": "create", "path": "/testbed/new.py", "file_text": "x = 1\n"}
    )
    assert diff.startswith("--- a/testbed/new.py\n+++ b/testbed/new.py\n") and diff.endswith("+x = 1\n")


def test_the_page_is_self_contained_and_its_data_cannot_close_the_script(run):
    record_path = run / "trajectories" / "g0-t0.json"
    record = json.loads(record_path.read_text())
    record["steps"][0]["observations"] = ["</script><script>alert(1)</script>"]
    record_path.write_text(json.dumps(record))
    html = build_page(run)
    assert html.count("</script>") == 2  # the data and the app, nothing from the observation
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html) and "@import" not in html
    data = re.search(r'<script type="application/json" id="data">(.*?)</script>', html, re.S).group(1)
    assert json.loads(data)["instance_id"] == "demo__pkg-1"
    assert embed("</script>") == '"<\\/script>"'


def test_bench_view_classifies_instances_and_embeds_each_run(tmp_path):
    run_dir = bench_run(tmp_path / "bench", instances=10)
    page, solves = bench_view(run_dir)
    outcomes = {i["instance_id"]: i["outcome"] for i in page["instances"]}
    assert sorted(set(outcomes.values())) == ["abstained", "error", "resolved", "unresolved"]
    assert set(solves) == {i for i, o in outcomes.items() if o != "error"}
    repos = {r["repo"]: r for r in page["repositories"]}
    assert sum(r["instances"] for r in repos.values()) == 10 and repos["astropy/astropy"]["error"] == 1
    assert set(page["plots"]) == {"tokens", "steps", "stage_tokens", "stage_seconds"}
    html = build_page(run_dir)
    packed = re.findall(
        r'<script type="application/gzip\+base64" class="solve" data-id="([^"]+)">(.*?)</script>', html, re.S
    )
    assert {i for i, _ in packed} == set(solves)
    first_id, blob = packed[0]
    assert json.loads(gzip.decompress(base64.b64decode(blob)))["instance_id"] == first_id


def test_cli_writes_the_page_and_exports(tmp_path, run):
    runner = CliRunner()
    result = runner.invoke(app, ["inspect", str(run), "--out", str(tmp_path / "page.html")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "page.html").read_text().startswith("<!doctype html>")
    result = runner.invoke(app, ["inspect", str(run), "--export", "mini", "--out", str(tmp_path / "mini")])
    assert result.exit_code == 0 and len(list((tmp_path / "mini").rglob("*.traj.json"))) == 4
    assert (
        runner.invoke(app, ["inspect", str(run), "--export", "other", "--out", str(tmp_path)]).exit_code == 2
    )


def test_live_server_rebuilds_and_reports_a_new_version_when_a_trajectory_is_saved(run):
    server = make_server(run, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert server.server_address[0] == "127.0.0.1"
        page = urllib.request.urlopen(base + "/").read().decode()
        assert "window.SWESCALE_LIVE = true" in page
        before = urllib.request.urlopen(base + "/version").read()
        path = run / "trajectories" / "g0-t0.json"
        time.sleep(0.01)
        path.write_text(path.read_text() + " ")
        os.utime(path)
        assert urllib.request.urlopen(base + "/version").read() != before
    finally:
        server.shutdown()
        server.server_close()


def test_the_bots_pr_body_and_abstention_explain_the_decision_as_the_inspector_does(run):
    from swescale.bot.evidence import abstain_comment, pr_body
    from swescale.outcome import SolveOutcome
    from verifiers.table import Candidate, VerifierTable

    outcome = SolveOutcome.model_validate_json((run / "run.json").read_text())
    outcome.table = VerifierTable.load(next(run.glob("gen1/*/verifier_table.json")))
    outcome.candidates = {
        c["candidate_id"]: Candidate.model_validate(c)
        for c in map(json.loads, (run / "candidates.jsonl").read_text().splitlines())
    }
    signals = solve_view(run)["decision"]["signals"]
    body = pr_body(7, "run-1", outcome, 20000)
    assert decision_markdown(outcome.decision) in body
    assert all(f"| {s['name']} (`{s['key']}`) | {s['shown']} ({s['level']}) |" in body for s in signals)
    outcome.decision.abstained, outcome.decision.chosen = True, None
    assert decision_markdown(outcome.decision) in abstain_comment("run-1", outcome, 20000)
