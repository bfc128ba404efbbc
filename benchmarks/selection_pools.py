"""Candidate pools for benchmarks/selection_quality.py: real labelled pools and a SYNTHETIC one.

Real pool (`--pool`): JSONL rows with `instance_id`, `model_patch` (or `patch`), `system` (or
`model_name_or_path`) and the run's official `resolved` label, read by selection.sources.load_candidates.

Synthetic pool (`--mined`): per mined task, with a fixed seed, 1-2 correct candidates (the gold patch,
possibly with a cosmetic change: an extra comment line) and 2-4 wrong ones drawn with replacement from
{empty patch, gold with one hunk dropped, gold with one operator/constant mutated}, each possibly cosmetic
too. Labels are not assumed: each distinct patch is graded with the task's hidden tests by
envs.evaluate.evaluate_instance (swebench's log parsers and grading, on the whole log).
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

from unidiff.patch import Line

from envs.task import Task
from sandbox.patch import parse_patch

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
    ps = parse_patch(patch)
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
    ps = parse_patch(patch)
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


# -- labels --------------------------------------------------------------------------------------------------


def grade_patch(task: Task, patch: str, config, run_dir: Path) -> bool:
    """Resolved by swebench's grading of the hidden tests (envs.evaluate: whole log, harness parsers).

    Note: a node id the parser cuts at a space stands for all parametrizations sharing that prefix."""
    from envs.evaluate import evaluate_instance

    if not patch.strip():
        return False
    # swebench's pytest parser reports a node id up to its first space (parametrized ids with spaces are
    # cut there); mined tasks list whole node ids, so compare them as the parser will see them
    cut = {f: sorted({t.split()[0] for t in getattr(task, f)}) for f in ("FAIL_TO_PASS", "PASS_TO_PASS")}
    task = task.model_copy(update=cut)
    name = "synthetic-" + hashlib.sha256(patch.encode()).hexdigest()[:12]
    pred = {"instance_id": task.instance_id, "model_name_or_path": name, "model_patch": patch}
    return evaluate_instance(task, pred, run_dir, config).state == "resolved"


def real_pool(path: str) -> dict[str, list[dict]]:
    """A labelled pool as rows by instance id (candidate_id, patch, resolved, system)."""
    from selection.sources import load_candidates

    pools = load_candidates([path])
    return {
        iid: [
            {
                "instance_id": iid,
                "candidate_id": c.candidate_id,
                "patch": c.patch,
                "resolved": bool(c.meta["resolved"]),
                "system": c.meta.get("system", ""),
            }
            for c in cands
        ]
        for iid, cands in pools.items()
    }


def order_tasks(tasks: list[Task], repos: list[str], instances: list[str]) -> list[Task]:
    """The fixed instance order of real pools: by sha256 of the instance id (a reproducible shuffle, so
    `--limit N` takes a sample across repositories), optionally filtered by repository or instance id."""

    def wanted(task: Task) -> bool:
        repo_ok = not repos or task.repo in repos or task.repo.split("/")[-1] in repos
        return repo_ok and (not instances or task.instance_id in instances)

    return sorted(
        (t for t in tasks if wanted(t)), key=lambda t: hashlib.sha256(t.instance_id.encode()).hexdigest()
    )
