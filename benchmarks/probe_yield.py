"""How many instances of a pool yield issue-example probes (verifiers/probes), by repository; no Docker.

    python benchmarks/probe_yield.py --pool ../shared/data/pools/lite_candidates.jsonl \\
        --dataset ../shared/data/swebench_lite/test.jsonl \\
        --repos sympy pytest flask requests sphinx pylint [--show]

Per repository: instances, instances with at least one probe, with an expected value read from the issue,
with a statement whose shown output or exception the issue gives (a reported reproduction), and probes in
all. What probes add to selection is measured by running them: `benchmarks/selection_quality.py` runs them
with the verifiers (`verifier.probes`, on by default) and `--replay DIR selection.probe_weight=...` weighs
them.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from selection_pools import order_tasks, real_pool  # noqa: E402

from envs.datasets import load_tasks  # noqa: E402
from verifiers.config import VerifierConfig  # noqa: E402
from verifiers.probes.commands import is_command  # noqa: E402
from verifiers.probes.extract import extract_probes, package_of  # noqa: E402

COLUMNS = (
    "instances",
    "with a probe",
    "with a command",
    "with an expected value",
    "with a shown result",
    "probes",
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pool", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--repos", nargs="*", default=[])
    ap.add_argument("--show", action="store_true", help="Print each instance's probes.")
    args = ap.parse_args()

    tasks = order_tasks(load_tasks(args.dataset, sorted(real_pool(args.pool))), args.repos, [])
    limit = VerifierConfig().max_probes
    counts: dict[str, Counter] = {}
    for task in sorted(tasks, key=lambda t: t.instance_id):
        probes = extract_probes(task.problem_statement, package_of(task.repo), limit)
        steps = [s for p in probes for s in p.steps]
        commands = any(is_command(p) for p in probes)
        row = [
            1,
            bool(probes),
            commands,
            any(s.expected for s in steps),
            any(s.shown for s in steps),
            len(probes),
        ]
        for repo in ("all", task.repo.split("/")[-1]):
            counts.setdefault(repo, Counter()).update(dict(zip(COLUMNS, row, strict=True)))
        if args.show:
            print(f"{task.instance_id}: {len(probes)} probe(s)")
            for probe in probes:
                expected = [s.expected for s in probe.steps if s.expected]
                print(
                    f"  {probe.probe_id} {probe.source}, {len(probe.steps)} statement(s), expected {expected}"
                )
    names = ["all", *sorted(k for k in counts if k != "all")]
    print(f"{'':<24}" + "".join(f"{n:>10}" for n in names))
    for key in COLUMNS:
        print(f"{key:<24}" + "".join(f"{counts[n][key]:>10}" for n in names))


if __name__ == "__main__":
    main()
