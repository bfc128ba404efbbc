"""Evaluation end to end: gold resolves, empty/wrong do not, unappliable patches are reported; swebench agrees."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.envs.conftest import GOLD, NOT_APPLYING, WRONG

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def evaluated(calc_env, calc_task, env_config, tmp_path_factory):
    from envs.evaluate import evaluate_predictions

    run_dir = tmp_path_factory.mktemp("run")
    results = {}
    for model, patch in {"gold": GOLD, "empty": "", "wrong": WRONG, "bad": NOT_APPLYING}.items():
        preds = {
            calc_task.instance_id: {
                "instance_id": calc_task.instance_id,
                "model_name_or_path": model,
                "model_patch": patch,
            }
        }
        results[model] = evaluate_predictions([calc_task], preds, run_dir, env_config, workers=1)
    return run_dir, results


def test_verdicts(evaluated, calc_task):
    run_dir, results = evaluated
    iid = calc_task.instance_id
    assert results["gold"]["resolved_ids"] == [iid] and results["gold"]["completed_ids"] == [iid]
    assert results["empty"]["empty_patch_ids"] == [iid] and results["empty"]["resolved_ids"] == []
    assert results["wrong"]["unresolved_ids"] == [iid]
    assert results["bad"]["patch_apply_failed_ids"] == [iid] and results["bad"]["error_ids"] == [iid]
    folder = run_dir / "gold" / iid
    assert {"patch.diff", "test_output.txt", "report.json", "eval.sh"} <= {p.name for p in folder.iterdir()}
    report = json.loads((folder / "report.json").read_text())[iid]
    assert report["tests_status"]["FAIL_TO_PASS"]["success"] == ["tests/test_calc.py::test_add"]
    assert json.loads((run_dir / "gold.report.json").read_text())["resolved_instances"] == 1


def test_same_verdict_as_swebench_grading(evaluated, calc_task, calc_env):
    """Re-grade our logs with swebench's parser + get_eval_tests_report + get_resolution_status directly."""
    from swebench.harness.grading import get_eval_tests_report, get_resolution_status

    from envs.runners import parse_test_log

    run_dir, _ = evaluated
    iid = calc_task.instance_id
    for model, expected in (("gold", "RESOLVED_FULL"), ("wrong", "RESOLVED_NO")):
        log = (run_dir / model / iid / "test_output.txt").read_text()
        section = log.split(">>>>> Start Test Output")[1].split(">>>>> End Test Output")[0]
        status = parse_test_log(section, calc_env, calc_task)
        tests = {"FAIL_TO_PASS": calc_task.FAIL_TO_PASS, "PASS_TO_PASS": calc_task.PASS_TO_PASS}
        verdict = get_resolution_status(get_eval_tests_report(status, tests))
        ours = json.loads((run_dir / model / iid / "report.json").read_text())[iid]["resolved"]
        assert verdict == expected and ours == (verdict == "RESOLVED_FULL")


def test_cli_env_build_and_bench_eval_resume(calc_env, dataset_file, calc_task, tmp_path):
    from swescale.cli.main import app

    overrides = ["env.image_prefix=swescale-test/env", "env.pull=false"]
    runner = CliRunner()
    result = runner.invoke(app, ["env", "build", "--dataset", str(dataset_file), *overrides])
    assert result.exit_code == 0, result.output
    assert calc_env.image in result.output
    preds = tmp_path / "preds.json"
    preds.write_text(
        json.dumps(
            [{"instance_id": calc_task.instance_id, "model_name_or_path": "m/gold", "model_patch": GOLD}]
        )
    )
    args = [
        "bench",
        "eval",
        "--dataset",
        str(dataset_file),
        "--predictions",
        str(preds),
        "--run-dir",
        str(tmp_path / "run"),
        "--workers",
        "1",
        *overrides,
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout[result.stdout.index("{") :])["resolved_ids"] == [calc_task.instance_id]
    report = tmp_path / "run" / "m__gold" / calc_task.instance_id / "report.json"
    stamp = report.stat().st_mtime_ns
    result = runner.invoke(app, args)  # resumed: the instance is not run again
    assert result.exit_code == 0 and report.stat().st_mtime_ns == stamp
    assert "1 already done" in result.output
