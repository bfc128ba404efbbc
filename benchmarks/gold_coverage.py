"""Gold coverage: per repository, how many sampled SWE-bench Lite tasks validate offline (gold resolves,
empty does not), with seconds per instance.

    python benchmarks/gold_coverage.py --repos-dir D [--dataset F] [--per-version N] [--repos R ...]
        [--workers N] [--run-dir DIR]

Sample (documented, deterministic): for each repository of `--repos` (default: the pip-buildable
sympy, pytest, flask, requests, pylint, sphinx) and each of its versions in the dataset, the first
`--per-version` instances by instance id (default 1: every version at least once). Each task runs
`bench validate`'s evaluation (gold and empty patch, offline sandboxes, images built on the base image
with pip); run-dir is resumable, so a rerun only evaluates what is missing. Results are appended to
RUN_DIR/coverage.jsonl as they come and printed as a table: tasks, valid, gold fails, empty passes,
env errors, gold rate (gold resolved / tasks) and mean seconds per instance run (image build included
the first time). For reference, issue #17 measured before this work: pytest 4/4, flask 3/3, sphinx 0/4,
pylint 1/4, requests 0/4 gold resolved.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

from envs.datasets import load_tasks
from envs.validate import CLASSES, VALID, TaskValidation, validate_tasks
from swescale.config import load_config

REPOS = [
    "sympy/sympy",
    "pytest-dev/pytest",
    "pallets/flask",
    "psf/requests",
    "pylint-dev/pylint",
    "sphinx-doc/sphinx",
]
DEFAULT_DATASET = Path(__file__).resolve().parents[1] / "../shared/data/swebench_lite/test.jsonl"


def sample(dataset: str, repos: list[str], per_version: int) -> list:
    """The first `per_version` tasks (by id) of every version of every repository, repositories in order."""
    by_version: dict[tuple[str, str], list] = defaultdict(list)
    for task in sorted(load_tasks(dataset), key=lambda t: t.instance_id):
        if task.repo in repos:
            by_version[(task.repo, task.version)].append(task)
    return [
        t
        for repo in repos
        for (r, _v), tasks in sorted(by_version.items(), key=lambda kv: _version_key(kv[0][1]))
        if r == repo
        for t in tasks[:per_version]
    ]


def _version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in version.split("."))


def table(rows: list[TaskValidation]) -> str:
    header = ("repo", "tasks", *CLASSES, "gold rate", "s/instance")
    lines = [header]
    groups: dict[str, list[TaskValidation]] = defaultdict(list)
    for row in rows:
        groups[row.repo].append(row)
    for repo, items in [*sorted(groups.items()), ("total", rows)]:
        gold = sum(1 for r in items if r.gold == "resolved")
        seconds = sum(r.seconds for r in items) / max(1, len(items)) / 2  # two runs per task
        counts = [str(sum(1 for r in items if r.status == c)) for c in CLASSES]
        lines.append((repo, str(len(items)), *counts, f"{gold}/{len(items)}", f"{seconds:.0f}"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)) for line in lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default=str(DEFAULT_DATASET))
    ap.add_argument("--repos-dir", required=True, help="folder of owner__name[.git] mirrors")
    ap.add_argument("--repos", nargs="*", default=REPOS)
    ap.add_argument("--per-version", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--run-dir", default="runs/gold-coverage")
    args = ap.parse_args()
    config = load_config([], [f"env.repos_dir={args.repos_dir}", "env.pull=false"])
    tasks = sample(args.dataset, args.repos, args.per_version)
    run_dir = Path(args.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    print(f"{len(tasks)} tasks: " + ", ".join(f"{t.instance_id} ({t.version})" for t in tasks), flush=True)
    out = run_dir / "coverage.jsonl"

    def on_task(item: TaskValidation) -> None:
        with out.open("a") as fh:
            fh.write(item.model_dump_json() + "\n")
        mark = "ok " if item.status == VALID else "BAD"
        print(
            f"{mark} {item.instance_id} {item.version}: {item.status} {item.seconds:.0f}s {item.reason}",
            flush=True,
        )

    report = validate_tasks(tasks, config, workers=args.workers, run_dir=run_dir, on_task=on_task)
    print(table(report.tasks))


if __name__ == "__main__":
    main()
