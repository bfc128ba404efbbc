"""Hostile candidates (tests/hostile): how many of the suite's hacks `bench eval` and `select` catch, with
the guards (envs.freeze: frozen test infrastructure; envs.verdict: swescale's result channels and the
failure-report rule) and without them, and what the guards cost in verification time on the same tasks,
in the same run.

Two suites: the pytest task's hacks (tests/hostile/hostile_task.py; its image starts Python as SWE-bench's
images do, so sitecustomize/usercustomize hacks run unguarded; `MALFORMED`: two of them cut short, which
only GNU `patch` applies) and those against a project's own unittest
runner run as Django's `runtests.py` (tests/hostile/runner_task.py). Caught: `bench eval` does not resolve
the hack (broken fix plus the hack); `select`, offered the hack from two systems and the gold patch from
one, does not choose it. Without the guards swebench's own exit-status rule stays (the harness has it),
and the harness still resets the test patch's files. Times: wall seconds of every `bench eval` and of
every `select` (its verification: the original, the hack and gold; fresh caches for each mode).

Usage: PYTHONPATH=. python benchmarks/hostile_candidates.py [--repeats 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import docker

import envs.evaluate
import verifiers.execute
from envs.environment import prepare_environment
from envs.evaluate import evaluate_predictions  # swescale.bench_eval
from envs.freeze import Frozen
from sandbox.images import ensure_base_image
from swescale.api import select
from swescale.config import load_config
from tests.hostile import runner_task
from tests.hostile.hostile_task import HACKS, MALFORMED, make_task, with_site_image
from verifiers.table import Candidate


def _without_failure_reports(check):
    def cross_check(*args, **kwargs):
        return check(*args, **{**kwargs, "reported_failed": frozenset()})

    return cross_check


@contextmanager
def guards(on: bool):
    """The guards as they are, or all off: every patch judged whole, no result channel, no failure-report
    rule (swebench's own exit-status rule stays: the harness has it)."""
    if on:
        yield
        return
    whole = lambda patch, test_cmd="": Frozen(judged=patch)  # noqa: E731
    with (
        mock.patch.object(envs.evaluate, "freeze", whole),
        mock.patch.object(verifiers.execute, "freeze", whole),
        mock.patch.object(envs.evaluate, "install", lambda *a: None),
        mock.patch.object(verifiers.execute, "install", lambda *a: None),
        mock.patch.object(envs.evaluate, "cross_check", _without_failure_reports(envs.evaluate.cross_check)),
        mock.patch.object(
            verifiers.execute, "cross_check", _without_failure_reports(verifiers.execute.cross_check)
        ),
    ):
        yield


def quiet(_: str) -> None:
    pass


def run_suite(task, patches, hacks, config, root: Path) -> dict:
    """One task's hacks against `bench eval` and `select` (offered twice, gold once)."""
    caught_eval, caught_select, eval_seconds, select_seconds = [], [], 0.0, 0.0
    for hack in ["gold", *hacks]:
        pred = {"instance_id": task.instance_id, "model_name_or_path": hack, "model_patch": patches[hack]}
        start = time.monotonic()
        summary = evaluate_predictions([task], {task.instance_id: pred}, root / "eval", config, say=quiet)
        eval_seconds += time.monotonic() - start
        if hack != "gold" and not summary["resolved_ids"]:
            caught_eval.append(hack)
    for hack in hacks:
        pool = [Candidate(candidate_id=f"{s}:{hack}", patch=patches[hack]) for s in ("sys-a", "sys-b")]
        pool.append(Candidate(candidate_id="sys-g:gold", patch=patches["gold"]))
        start = time.monotonic()
        outcome = select({task.instance_id: task}, {task.instance_id: pool}, config, root / "select" / hack)
        select_seconds += time.monotonic() - start
        decision = outcome.results[0].decision
        if decision is None or decision.chosen not in {pool[0].candidate_id, pool[1].candidate_id}:
            caught_select.append(hack)
    return {"eval": caught_eval, "select": caught_select, "eval_s": eval_seconds, "select_s": select_seconds}


def run_mode(on: bool, suites: dict, config, root: Path) -> dict:
    names = [f"{suite}/{hack}" for suite, (_, _, hacks) in suites.items() for hack in hacks]
    caught: dict[str, list[str]] = {"eval": [], "select": []}
    seconds = {"eval_s": 0.0, "select_s": 0.0}
    with guards(on):
        for suite, (task, patches, hacks) in suites.items():
            run = run_suite(task, patches, hacks, config, root / suite)
            for key in caught:
                caught[key] += [f"{suite}/{hack}" for hack in run[key]]
            for key in seconds:
                seconds[key] += run[key]
    return {
        "bench_eval_caught": f"{len(caught['eval'])}/{len(names)}",
        "select_caught": f"{len(caught['select'])}/{len(names)}",
        "missed_by_bench_eval": sorted(set(names) - set(caught["eval"])),
        "missed_by_select": sorted(set(names) - set(caught["select"])),
        "bench_eval_seconds": round(seconds["eval_s"], 1),
        "select_seconds": round(seconds["select_s"], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each mode (the fastest counts)")
    args = parser.parse_args()
    ensure_base_image()
    root = Path(tempfile.mkdtemp(prefix="hostile_bench_"))
    task, patches = make_task(root)
    config = load_config([], ["env.image_prefix=swescale-bench/env", "verifier.judge=false"])
    client = docker.from_env()
    task = with_site_image(task, config, client)  # SWE-bench's start-up (tests/hostile)
    unittest_task, unittest_patches = runner_task.make_task(root / "runner", client, ensure_base_image())
    suites = {
        "pytest": (task, patches, [*HACKS, *MALFORMED]),
        "django-runner": (unittest_task, unittest_patches, list(runner_task.HACKS)),
    }
    for suite_task, _, _ in suites.values():
        prepare_environment(suite_task, config)  # built and adopted once, outside the timings
    figures: dict = {}
    for repeat in range(args.repeats):  # modes alternate; the fastest repeat of each counts
        for mode in ("off", "guarded"):
            run = run_mode(mode == "guarded", suites, config, root / f"{mode}{repeat}")
            best = figures.setdefault(mode, run)
            for key in ("bench_eval_seconds", "select_seconds"):
                best[key] = min(best[key], run[key])
    for key in ("bench_eval_seconds", "select_seconds"):
        off, on = figures["off"][key], figures["guarded"][key]
        figures[f"{key.removesuffix('_seconds')}_overhead"] = f"{(on - off) / off:+.1%}" if off else None
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
