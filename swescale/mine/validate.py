"""Validation of one candidate: its touched test files run `repeats` times at the parent with test_patch
and with the whole commit (one sandbox, the evaluation script `bench eval` runs, its log read by the
grading's own reader); flaky tests dropped; then the finished task graded by `bench eval`'s per-instance
evaluation itself: the gold patch must resolve it and the empty patch must leave FAIL_TO_PASS failing."""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envs.environment import DERIVED_LABEL, EnvBuildError, EnvSpec, prepare_environment
from envs.evaluate import eval_sandbox, evaluate_instance, instance_dir, run_prediction
from envs.grading import END, START, log_statuses
from envs.task import Task

STAGES = ("scanned", "touching", "env_built", "fail_to_pass", "stable", "validated")
"""Funnel stages in order; a candidate's `stage` is the last one it reached."""
STAGE_LABELS = {
    "scanned": "commits scanned",
    "touching": "touching source and tests",
    "env_built": "environment built, tests ran",
    "fail_to_pass": "FAIL_TO_PASS non-empty",
    "stable": "stable (flaky tests dropped)",
    "validated": "validated (bench eval: gold resolves, empty does not)",
}
RESET = "git checkout -q -- . && git clean -fdq"


@dataclass
class Verdict:
    """How far a candidate got, and why it stopped there ("" once validated)."""

    stage: str
    reason: str = ""
    fail_to_pass: list[str] = field(default_factory=list)
    pass_to_pass: list[str] = field(default_factory=list)
    flaky: list[str] = field(default_factory=list)
    failing_output: str = ""
    """The tests' output at the parent (first run): what a back-translated issue is written from."""
    environment_setup_commit: str = ""
    env_source: str = ""
    """How the environment came: `built`, `derived` (shared image of another commit) or `cached`."""
    env_seconds: float = 0.0


@dataclass
class Classes:
    fail_to_pass: list[str]
    pass_to_pass: list[str]
    pass_to_fail: list[str]
    flaky: list[str]
    first_fail_to_pass: list[str]
    """Fail -> pass in the first run of each side (before flaky tests are dropped)."""
    failing_at_parent: list[str]
    """Tests failing (or absent) in the first run at the parent."""


def classify(base: list[dict[str, str]], gold: list[dict[str, str]]) -> Classes:
    """Per test, by swebench's own pass/fail predicates; a test is flaky when its status differs between
    the runs of one side (absent counts as a status)."""
    from swebench.harness.grading import test_failed, test_passed

    tests = sorted(set().union(*base, *gold))

    def steady(runs: list[dict[str, str]], test: str) -> bool:
        return len({run.get(test, "ABSENT") for run in runs}) == 1

    flaky = [t for t in tests if not (steady(base, t) and steady(gold, t))]
    kept = [t for t in tests if t not in set(flaky)]
    b, g = base[0], gold[0]
    return Classes(
        fail_to_pass=[t for t in kept if test_failed(t, b) and test_passed(t, g)],
        pass_to_pass=[t for t in kept if test_passed(t, b) and test_passed(t, g)],
        pass_to_fail=[t for t in kept if test_passed(t, b) and test_failed(t, g)],
        flaky=flaky,
        first_fail_to_pass=[t for t in tests if test_failed(t, b) and test_passed(t, g)],
        failing_at_parent=[t for t in tests if test_failed(t, b)],
    )


def _statuses(task: Task, env: EnvSpec, log: str) -> dict[str, str] | None:
    with tempfile.NamedTemporaryFile("w", suffix=".log") as fh:
        fh.write(log)
        fh.flush()
        return log_statuses(task, env, fh.name)


def run_sides(task: Task, env: EnvSpec, config: Any, repeats: int) -> tuple[list, list, str] | str:
    """(statuses at the parent per run, statuses with the gold patch per run, first parent log), or why
    the tests did not run. One sandbox; the tree is reset to the parent before every run."""
    sides: dict[str, list[dict[str, str]]] = {"parent": [], "commit": []}
    first_log = ""
    with eval_sandbox(env, config, task) as sb:
        for side, patch in (("parent", ""), ("commit", task.patch)):
            for attempt in range(repeats):
                sb.exec(RESET, timeout=120)
                run = run_prediction(sb, task, env, patch, config)
                if not run.applied:
                    return f"the source patch does not apply at the parent: {run.apply_output.strip()[-200:]}"
                if run.timed_out:
                    return f"the tests timed out ({side}, run {attempt + 1}, mine.test_timeout)"
                statuses = _statuses(task, env, run.log)
                if statuses is None:
                    return f"no test results ({side}, run {attempt + 1}): {run.log.strip()[-300:]}"
                first_log = first_log or run.log
                sides[side].append(statuses)
    return sides["parent"], sides["commit"], first_log


def test_section(log: str) -> str:
    """The part of an evaluation log between the test markers."""
    return log.split(START, 1)[-1].split(END, 1)[0].strip()


def gate(task: Task, config: Any, check_dir: Path) -> str:
    """`bench eval`'s per-instance evaluation of the gold and the empty patch: "" when gold resolves and
    the empty patch leaves every FAIL_TO_PASS test failing, else the reason."""
    reports = {}
    for model, patch in (("gold", task.patch), ("empty", "")):
        pred = {"instance_id": task.instance_id, "model_name_or_path": model, "model_patch": patch}
        shutil.rmtree(instance_dir(check_dir, pred), ignore_errors=True)  # a report of an earlier attempt
        result = evaluate_instance(task, pred, check_dir, config)
        if result.report is None:
            why = f": {result.fault}" if result.fault else ""
            return (
                f"bench eval could not evaluate the {model} patch{why} (see {instance_dir(check_dir, pred)})"
            )
        reports[model] = result.report[task.instance_id]
    if not reports["gold"]["resolved"]:
        return "the gold patch does not resolve the task under bench eval"
    passing = reports["empty"].get("tests_status", {}).get("FAIL_TO_PASS", {}).get("success", [])
    if reports["empty"]["resolved"] or passing:
        return f"FAIL_TO_PASS tests pass without the patch under bench eval: {passing[:3]}"
    return ""


def _setup_commit(env: EnvSpec) -> str:
    """The commit whose build a derived image shares (its environment_setup_commit), or ""."""
    import docker

    return (docker.from_env().images.get(env.image).labels or {}).get(DERIVED_LABEL, "")


def validate(task: Task, config: Any, repeats: int, check_dir: Path) -> Verdict:
    """The candidate `task` (patch, test_patch, base_commit = parent) through every validation stage."""
    env_config = config.env.model_copy(update={"eval_timeout": config.mine.test_timeout})
    config = config.model_copy(update={"env": env_config})
    start = time.monotonic()
    try:
        env = prepare_environment(task, config, share=True)
    except EnvBuildError as exc:
        return Verdict("touching", f"environment build failed at step '{exc.step}': {exc.log_tail[-300:]}")
    env_seconds = round(time.monotonic() - start, 2)
    verdict = _validate_in(task, env, config, repeats, check_dir)
    verdict.env_source, verdict.env_seconds = env.source, env_seconds
    return verdict


def _validate_in(task: Task, env: EnvSpec, config: Any, repeats: int, check_dir: Path) -> Verdict:
    sides = run_sides(task, env, config, repeats)
    if isinstance(sides, str):
        return Verdict("touching", sides)
    base, gold, first_log = sides
    setup = _setup_commit(env) or task.base_commit
    classes = classify(base, gold)
    output = test_section(first_log)
    if not classes.first_fail_to_pass:
        why = (
            "no test goes from fail to pass"
            if classes.failing_at_parent
            else "the new tests already pass at the parent"
        )
        return Verdict("env_built", why, failing_output=output)
    verdict = Verdict(
        "fail_to_pass",
        fail_to_pass=classes.fail_to_pass,
        pass_to_pass=classes.pass_to_pass,
        flaky=classes.flaky,
        failing_output=output,
        environment_setup_commit=setup,
    )
    if not classes.fail_to_pass:
        flaky = [t for t in classes.first_fail_to_pass if t in set(classes.flaky)]
        verdict.reason = f"every FAIL_TO_PASS test is flaky: {', '.join(flaky[:5])}"
        return verdict
    verdict.stage = "stable"
    if classes.pass_to_fail:
        verdict.reason = f"breaks tests that pass at the parent: {', '.join(classes.pass_to_fail[:5])}"
        return verdict
    final = task.model_copy(
        update={
            "FAIL_TO_PASS": classes.fail_to_pass,
            "PASS_TO_PASS": classes.pass_to_pass,
            "environment_setup_commit": setup,
        }
    )
    verdict.reason = gate(final, config, check_dir)
    if not verdict.reason:
        verdict.stage = "validated"
    return verdict
