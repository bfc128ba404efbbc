"""Selection quality on candidate pools with known labels: random, majority vote, swescale, oracle.

Two kinds of pool:

* `--pool FILE --dataset TASKS`: a labelled pool JSONL (instance_id, candidate_id, patch, resolved),
  e.g. candidates from trajectories labelled by `swescale bench eval`.
* `--mined FILE` (default: ../shared/data/mined/sqlparse.jsonl): a SYNTHETIC pool built from real mined
  tasks. Per task, with a fixed seed: 1-2 correct candidates (the gold patch, possibly with a cosmetic
  change: an extra comment line) and 2-4 wrong ones drawn with replacement from {empty patch, gold with
  one hunk dropped, gold with one operator/constant mutated}, each possibly cosmetic too. Duplicated wrong
  kinds make wrong majorities happen. Labels are NOT assumed: every distinct patch is applied in the
  task's environment with the hidden test_patch and resolved means every FAIL_TO_PASS and PASS_TO_PASS
  test passes. The pool says nothing about real agents' error distribution; it measures what selection
  does with the verifiers this machine can run without a model: regression tests only (no generated
  tests, no judge).

Selection sees only the candidates and the verifier table (regression tests chosen by the verifiers from
the repository's existing tests); hidden tests are used for the labels alone.

Metrics (per task, averaged): random = expected accuracy of a uniform pick; majority = label of the
largest non-empty normalized-patch group (ties: averaged over the tied groups); swescale = label of the decision's
best candidate (forced choice), plus coverage and precision when abstention is honoured; oracle = any
candidate resolved. gap closed = (swescale - random) / (oracle - random).

Runs offline: repositories come from `--repos-dir` (local mirrors named owner__name[.git]).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from unidiff import PatchSet
from unidiff.patch import Line

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from envs.task import Task  # noqa: E402
from selection.groups import expand_table, original_files_for  # noqa: E402
from selection.normalize import dedupe  # noqa: E402
from selection.select import select  # noqa: E402
from swescale.config import SwescaleConfig, load_config  # noqa: E402
from verifiers.table import Candidate  # noqa: E402

MUTATIONS = [
    (" == ", " != "),
    (" != ", " == "),
    (" < ", " <= "),
    (" > ", " >= "),
    (" and ", " or "),
    (" or ", " and "),
    ("True", "False"),
    ("False", "True"),
    (" + 1", " - 1"),
    (" - 1", " + 1"),
    ("not ", ""),
    (" is None", " is not None"),
    (" in ", " not in "),
]


# -- synthetic pool ------------------------------------------------------------------------------------------


def cosmetic(patch: str, rng: random.Random) -> str:
    """Insert a comment line before the first added line (same indentation): behaviour unchanged."""
    ps = PatchSet(patch)
    for pfile in ps:
        if not pfile.path.endswith(".py"):
            continue
        for index, hunk in enumerate(pfile):
            for pos, line in enumerate(hunk):
                if (
                    line.is_added
                    and line.value.strip()
                    and not line.value.strip().startswith(("'", '"', ")"))
                ):
                    indent = line.value[: len(line.value) - len(line.value.lstrip())]
                    note = rng.choice(["handle the reported case", "see the issue", "fix"])
                    hunk.insert(pos, Line(f"{indent}# {note}\n", line_type="+"))
                    hunk.target_length += 1
                    for later in list(pfile)[index + 1 :]:
                        later.target_start += 1
                    return str(ps)
    return patch


def drop_hunk(patch: str, rng: random.Random) -> str | None:
    ps = PatchSet(patch)
    hunks = [(f, h) for f in ps for h in f]
    if len(hunks) < 2:
        return None
    pfile, hunk = rng.choice(hunks)
    pfile.remove(hunk)
    return "".join(str(f) for f in ps if len(f))


def mutate(patch: str, rng: random.Random) -> str | None:
    lines = patch.splitlines(keepends=True)
    options = [
        (i, a, b)
        for i, line in enumerate(lines)
        if line.startswith("+") and not line.startswith("+++") and not line[1:].lstrip().startswith("#")
        for a, b in MUTATIONS
        if a in line
    ]
    if not options:
        return None
    i, a, b = rng.choice(options)
    lines[i] = lines[i].replace(a, b, 1)
    return "".join(lines)


def synthetic_pool(task: Task, seed: int) -> list[dict]:
    rng = random.Random(f"{seed}:{task.instance_id}")
    wrong_kinds = {"empty": ""}
    if (partial := drop_hunk(task.patch, rng)) is not None:
        wrong_kinds["partial"] = partial
    if (mutant := mutate(task.patch, rng)) is not None:
        wrong_kinds["mutant"] = mutant
    picks = [("gold", task.patch)] * rng.choice([1, 2])
    picks += [(k, wrong_kinds[k]) for k in rng.choices(sorted(wrong_kinds), k=rng.choice([2, 3, 4]))]
    rng.shuffle(picks)
    pool = []
    for n, (kind, patch) in enumerate(picks):
        if patch and rng.random() < 0.5:
            patch, kind = cosmetic(patch, rng), kind + "+cosmetic"
        pool.append(
            {
                "instance_id": task.instance_id,
                "candidate_id": f"sys{n}:{task.instance_id}",
                "kind": kind,
                "patch": patch,
            }
        )
    return pool


# -- labels from hidden tests ----------------------------------------------------------------------------------


def test_files(test_patch: str) -> list[str]:
    return sorted({f.path for f in PatchSet(test_patch) if not f.is_removed_file})


def label(task: Task, env, patch: str, pool) -> bool:
    """Resolved: the patch applies and every FAIL_TO_PASS and PASS_TO_PASS test passes (hidden tests)."""
    from sandbox import PatchError

    if not patch.strip():
        return False
    with pool.sandbox(env.image, workdir="/testbed") as sb:
        try:
            sb.apply_patch(patch)
        except PatchError:
            return False
        sb.apply_patch(task.test_patch)
        r = sb.exec(f"{env.test_cmd} {' '.join(test_files(task.test_patch))}", timeout=600)
    # pytest -rA summary lines hold whole node ids (parametrized ids may contain spaces).
    passed = {line[len("PASSED ") :] for line in r.output.splitlines() if line.startswith("PASSED ")}
    xfail = {
        line[len("XFAIL ") :].split(" - ")[0] for line in r.output.splitlines() if line.startswith("XFAIL ")
    }
    return all(t in passed or t in xfail for t in task.FAIL_TO_PASS + task.PASS_TO_PASS)


# -- evaluation ---------------------------------------------------------------------------------------------


def evaluate_task(task: Task, pool_rows: list[dict], config: SwescaleConfig, out: Path, sandboxes) -> dict:
    from envs.environment import prepare_environment
    from verifiers.run import verify

    built = time.monotonic()
    env = prepare_environment(task, config)
    env_seconds = time.monotonic() - built
    cands = [Candidate(candidate_id=r["candidate_id"], patch=r["patch"], source="pool") for r in pool_rows]
    originals = original_files_for(task, config)
    groups = dedupe(cands, originals)
    labels = {}
    for row in pool_rows:
        if "resolved" in row:
            labels[row["candidate_id"]] = bool(row["resolved"])
    by_patch: dict[str, bool] = {}
    for row in pool_rows:
        if row["candidate_id"] not in labels:
            if row["patch"] not in by_patch:
                by_patch[row["patch"]] = label(task, env, row["patch"], sandboxes)
            labels[row["candidate_id"]] = by_patch[row["patch"]]
    reps = {g.representative for g in groups}
    table = verify(
        task,
        env,
        [c for c in cands if c.candidate_id in reps],
        [],
        config,
        None,
        sandboxes,
        out / task.instance_id,
        judge=False,
    )
    decision = select(expand_table(table, groups), config.selection, cands, originals, groups=groups)
    (out / task.instance_id / "decision.json").write_text(decision.model_dump_json(indent=2))

    n = len(cands)
    voting = [g for g in groups if g.normalized] or groups  # empty patches do not vote (as in Agentless)
    top = max(g.count for g in voting)
    tied = [g for g in voting if g.count == top]
    return {
        "instance_id": task.instance_id,
        "repo": task.repo,
        "env_seconds": round(env_seconds, 1),
        "verify_seconds": table.meta.get("seconds"),
        "distinct_patches": table.meta.get("distinct_patches"),
        "best": decision.best,
        "candidates": n,
        "kinds": [r.get("kind", "") for r in pool_rows],
        "labels": [labels[c.candidate_id] for c in cands],
        "random": sum(labels.values()) / n,
        "majority": sum(labels[g.representative] for g in tied) / len(tied),
        "swescale": float(labels.get(decision.best or "", False)),
        "answered": not decision.abstained,
        "oracle": float(any(labels.values())),
        "confidence": decision.confidence,
    }


def real_pool(path: str) -> dict[str, list[dict]]:
    """A labelled pool (`model_patch` or `patch`, `system`, `resolved`) as rows by instance id."""
    from selection.sources import load_candidates

    pools = load_candidates([path])
    return {
        iid: [
            {
                "instance_id": iid,
                "candidate_id": c.candidate_id,
                "patch": c.patch,
                "resolved": c.meta["resolved"],
            }
            for c in cands
        ]
        for iid, cands in pools.items()
    }


def order_tasks(tasks: list[Task], repos: list[str], instances: list[str]) -> list[Task]:
    """The fixed instance order of real pools: by sha256 of the instance id (a reproducible shuffle, so
    `--limit N` takes a sample across repositories), optionally filtered by repository or instance id."""
    import hashlib

    def wanted(task: Task) -> bool:
        repo_ok = not repos or task.repo in repos or task.repo.split("/")[-1] in repos
        return repo_ok and (not instances or task.instance_id in instances)

    key = lambda t: hashlib.sha256(t.instance_id.encode()).hexdigest()  # noqa: E731
    return sorted((t for t in tasks if wanted(t)), key=key)


def summarize(results: list[dict]) -> str:
    def avg(key: str) -> float:
        return sum(r[key] for r in results) / len(results)

    answered = [r for r in results if r["answered"]]
    rnd, orc, sws = avg("random"), avg("oracle"), avg("swescale")
    gap = (sws - rnd) / (orc - rnd) if orc > rnd else float("nan")
    lines = [
        f"tasks: {len(results)}, candidates: {sum(r['candidates'] for r in results)}",
        f"random (expected)         {rnd:.3f}",
        f"majority (normalized)     {avg('majority'):.3f}",
        f"swescale (forced choice)  {sws:.3f}",
        f"oracle                    {orc:.3f}",
        f"gap closed (random->oracle) by swescale: {gap:.1%}",
        f"with abstention: answered {len(answered)}/{len(results)}, precision "
        + (f"{sum(r['swescale'] for r in answered) / len(answered):.3f}" if answered else "n/a"),
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--mined",
        default=str(ROOT.parent / "shared/data/mined/sqlparse.jsonl"),
        help="Mined tasks to build a synthetic pool from.",
    )
    ap.add_argument("--pool", help="Labelled pool JSONL (instance_id, candidate_id, patch, resolved).")
    ap.add_argument("--dataset", help="Tasks of the labelled pool.")
    ap.add_argument("--repos-dir", default="", help="Local mirrors named owner__name (env.repos_dir).")
    ap.add_argument("--limit", type=int, default=6, help="Number of tasks (first in the fixed order).")
    ap.add_argument("--repos", nargs="*", default=[], help="Only these repositories (owner/name or name).")
    ap.add_argument("--instances", nargs="*", default=[], help="Only these instance ids.")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="/tmp/swescale-selection-quality", help="Run directory.")
    ap.add_argument("overrides", nargs="*", help="key=value config overrides.")
    args = ap.parse_args()

    from envs.datasets import load_tasks
    from sandbox import SandboxPool

    repos = [f"env.repos_dir={args.repos_dir}"] if args.repos_dir else []
    config = load_config([], [*repos, "verifier.judge=false", *args.overrides])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.pool:
        pools = real_pool(args.pool)
        tasks = order_tasks(load_tasks(args.dataset, sorted(pools)), args.repos, args.instances)
        print(f"pool: {args.pool} (real, official labels); order: sha256(instance_id)")
    else:
        tasks = sorted(
            (t for t in load_tasks(args.mined) if t.patch and t.FAIL_TO_PASS), key=lambda t: t.instance_id
        )
        pools = {t.instance_id: synthetic_pool(t, args.seed) for t in tasks}
        print(
            f"pool: SYNTHETIC from {args.mined} (gold, cosmetic, empty, dropped-hunk and mutant variants; "
            f"labels from hidden tests), seed {args.seed}"
        )
    tasks = tasks[: args.limit]
    sandboxes = SandboxPool(max_concurrent=config.verifier.max_parallel, config=config.sandbox)
    results = []
    for task in tasks:
        started = time.monotonic()
        try:
            res = evaluate_task(task, pools[task.instance_id], config, out, sandboxes)
        except Exception as exc:  # noqa: BLE001 - report and go on with the other tasks
            print(f"{task.instance_id}: FAILED {type(exc).__name__}: {exc}", flush=True)
            continue
        results.append(res)
        print(
            f"{task.instance_id}: labels {''.join('R' if x else '.' for x in res['labels'])} "
            f"majority {res['majority']:.2f} swescale {res['swescale']:.0f} "
            f"{'answered' if res['answered'] else 'abstained'} ({time.monotonic() - started:.0f}s)",
            flush=True,
        )
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in results))
    if not results:
        sys.exit("no task evaluated")
    print(summarize(results))


if __name__ == "__main__":
    main()
