"""`bench validate` and environment faults end to end, on repositories the tests create (real Docker)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from envs.task import Task
from tests.envs.conftest import GOLD, PYPROJECT, TEST_PATCH, TESTS, WRONG, make_repo

pytestmark = pytest.mark.docker
OVERRIDES = ["env.image_prefix=swescale-test/env", "env.pull=false"]
CALC = "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n"


@pytest.fixture(scope="module")
def broken_task(tmp_path_factory) -> Task:
    """The calc task in a repository whose conftest imports a dependency nobody installs."""
    repo = tmp_path_factory.mktemp("broken") / "calc"
    base = make_repo(
        repo,
        {
            "pyproject.toml": PYPROJECT,
            "calc/__init__.py": CALC,
            "tests/test_calc.py": TESTS,
            "tests/conftest.py": "import not_a_real_dependency_xyz  # noqa\n",
        },
    )
    return Task(
        instance_id="local__broken-1",
        repo="local/broken",
        repo_url=str(repo),
        base_commit=base,
        patch=GOLD,
        test_patch=TEST_PATCH,
        FAIL_TO_PASS=["tests/test_calc.py::test_add"],
        PASS_TO_PASS=["tests/test_calc.py::test_sub"],
    )


def _row(task: Task) -> str:
    return json.dumps(task.model_dump()) + "\n"


def test_tests_that_cannot_start_are_an_error_with_reason(broken_task, env_config, base_image, tmp_path):
    from envs.evaluate import evaluate_predictions

    pred = {"instance_id": broken_task.instance_id, "model_name_or_path": "gold", "model_patch": GOLD}
    summary = evaluate_predictions(
        [broken_task], {broken_task.instance_id: pred}, tmp_path, env_config, workers=1
    )
    iid = broken_task.instance_id
    assert summary["error_ids"] == [iid] and summary["unresolved_ids"] == []
    assert "not_a_real_dependency_xyz" in summary["error_reasons"][iid]
    fault = json.loads((tmp_path / "gold" / iid / "error.json").read_text())
    assert fault["kind"] == "dependency"
    assert not (tmp_path / "gold" / iid / "report.json").exists()  # evaluated again on resume


def test_link_to_the_env_interpreter_runs_in_the_env(calc_env, env_config):
    """What tox-current-env does: .tox/<env>/bin/python -> sys.executable; the link must see the env."""
    from sandbox import DockerSandbox

    script = (
        "mkdir -p .tox/py/bin && ln -s \"$(python -c 'import sys; print(sys.executable)')\" .tox/py/bin/python"
        " && .tox/py/bin/python -c 'import sys; print(\"prefix\", sys.prefix)'"
        " && .tox/py/bin/python -m pytest -q -p no:cacheprovider tests; rm -rf .tox"
    )
    with DockerSandbox(calc_env.image, workdir="/testbed", config=env_config.sandbox, network=False) as sb:
        run = sb.exec(script, timeout=120)
        base = sb.exec(
            "cd / && python3 -c 'import sys; print(sys.prefix)' && /usr/bin/env -i python3 -c "
            "'import sys; print(sys.prefix)'",
            timeout=60,
        )
    assert run.exit_code == 0, run.output
    assert "prefix /opt/venv" in run.output and "1 passed" in run.output
    assert base.output.split()[-1] != "/opt/venv"  # the base interpreter itself is unchanged


def test_bench_validate_classifies_tasks(calc_task, calc_env, broken_task, tmp_path):
    from swescale.cli.main import app

    tasks = {
        "valid": calc_task,
        "gold fails": calc_task.model_copy(update={"instance_id": "local__calc-wrong", "patch": WRONG}),
        "empty passes": calc_task.model_copy(
            update={
                "instance_id": "local__calc-easy",
                "FAIL_TO_PASS": ["tests/test_calc.py::test_sub"],
                "PASS_TO_PASS": [],
            }
        ),
        "env error": broken_task,
    }
    dataset = tmp_path / "tasks.jsonl"
    dataset.write_text("".join(_row(t) for t in tasks.values()))
    run_dir = tmp_path / "validation"
    args = ["bench", "validate", "--dataset", str(dataset), "--run-dir", str(run_dir), "-w", "2", *OVERRIDES]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output  # some tasks are not valid
    report = json.loads((run_dir / "validation.json").read_text())
    got = {t["instance_id"]: t for t in report["tasks"]}
    for status, task in tasks.items():
        assert got[task.instance_id]["status"] == status, got[task.instance_id]
    assert got["local__calc-1"]["gold"] == "resolved" and got["local__calc-1"]["empty"] == "unresolved"
    assert "not_a_real_dependency_xyz" in got["local__broken-1"]["reason"]
    assert "local/calc" in result.stdout and "valid" in result.stdout  # the table per repo and version


def test_bench_run_validate_skips_invalid_tasks_before_the_model(calc_task, calc_env, tmp_path):
    """`bench run --validate`: a task whose gold patch fails is never sent to the model."""
    from swescale.api import bench_run
    from swescale.config import load_config
    from swescale.demo.scripted_server import ConversationPolicy, ScriptedServer

    wrong_gold = calc_task.model_copy(update={"instance_id": "local__calc-wrong", "patch": WRONG})
    with ScriptedServer(ConversationPolicy([])) as server:
        config = load_config([], [*OVERRIDES, f"model.urls=[{server.url}]", "verifier.judge=false"])
        summary = bench_run([wrong_gold], config, tmp_path / "run", validate=True)
        assert server.requests == []
    assert summary.total == 0  # the invalid task was left out before any model call
    report = json.loads((tmp_path / "run" / "validation" / "validation.json").read_text())
    assert "gold" in json.dumps(report)
    assert (tmp_path / "run" / "validation" / "validation.json").exists()
