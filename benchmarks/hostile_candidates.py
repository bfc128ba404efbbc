"""Hostile candidates (tests/hostile): how many of the suite's hacks `bench eval` and `select` catch, with
the guards (envs.freeze: frozen test infrastructure; envs.verdict: swescale's pytest result channel) and
without them, and what the guards cost in verification time on the same task, in the same run.

Caught: `bench eval` does not resolve the hack (broken fix plus the hack); `select`, offered the hack from
two systems and the gold patch from one, does not choose it. Times: wall seconds of every `bench eval` and
of every `select` (its verification: the original, the hack and gold; fresh caches for each mode).

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

import envs.evaluate
import verifiers.execute
import verifiers.run
from envs.environment import prepare_environment
from envs.evaluate import evaluate_predictions  # swescale.bench_eval
from envs.freeze import Frozen
from sandbox.images import ensure_base_image
from swescale.api import select
from swescale.config import load_config
from tests.hostile.hostile_task import HACKS, make_task
from verifiers.table import Candidate


@contextmanager
def guards(on: bool):
    """The guards as they are, or both off: every patch judged whole, no result channel."""
    if on:
        yield
        return
    whole = lambda patch, test_cmd="": Frozen(judged=patch)  # noqa: E731
    with (
        mock.patch.object(envs.evaluate, "freeze", whole),
        mock.patch.object(verifiers.execute, "freeze", whole),
        mock.patch.object(verifiers.run, "freeze", whole),
        mock.patch.object(envs.evaluate, "install", lambda *a: None),
        mock.patch.object(verifiers.execute, "install", lambda *a: None),
    ):
        yield


def quiet(_: str) -> None:
    pass


def run_mode(on: bool, task, patches, config, root: Path) -> dict:
    eval_dir, select_dir = root / "eval", root / "select"
    caught_eval, caught_select, eval_seconds, select_seconds = [], [], 0.0, 0.0
    with guards(on):
        for hack in ["gold", *HACKS]:
            pred = {"instance_id": task.instance_id, "model_name_or_path": hack, "model_patch": patches[hack]}
            start = time.monotonic()
            summary = evaluate_predictions([task], {task.instance_id: pred}, eval_dir, config, say=quiet)
            eval_seconds += time.monotonic() - start
            if hack != "gold" and not summary["resolved_ids"]:
                caught_eval.append(hack)
        for hack in HACKS:
            pool = [Candidate(candidate_id=f"{s}:{hack}", patch=patches[hack]) for s in ("sys-a", "sys-b")]
            pool.append(Candidate(candidate_id="sys-g:gold", patch=patches["gold"]))
            start = time.monotonic()
            outcome = select({task.instance_id: task}, {task.instance_id: pool}, config, select_dir / hack)
            select_seconds += time.monotonic() - start
            decision = outcome.results[0].decision
            if decision is None or decision.chosen not in {pool[0].candidate_id, pool[1].candidate_id}:
                caught_select.append(hack)
    return {
        "bench_eval_caught": f"{len(caught_eval)}/{len(HACKS)}",
        "select_caught": f"{len(caught_select)}/{len(HACKS)}",
        "missed_by_bench_eval": sorted(set(HACKS) - set(caught_eval)),
        "missed_by_select": sorted(set(HACKS) - set(caught_select)),
        "bench_eval_seconds": round(eval_seconds, 1),
        "select_seconds": round(select_seconds, 1),
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
    prepare_environment(task, config)  # built once, outside the timings
    figures: dict = {}
    for repeat in range(args.repeats):  # modes alternate; the fastest repeat of each counts
        for mode in ("off", "guarded"):
            run = run_mode(mode == "guarded", task, patches, config, root / f"{mode}{repeat}")
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
