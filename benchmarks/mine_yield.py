"""Mining yield and speed on real repositories, compared with the tasks of ../shared/data/mined.

    python benchmarks/mine_yield.py --repo /path/to/sqlparse.git --theirs ../shared/data/mined/sqlparse.jsonl \
        [--repo ... --theirs ...] [--limit 40] [--workers 2] [--run-root runs/bench-mine]

Per repository: the funnel, yield (tasks per commit scanned and per candidate), seconds per commit, and
against the reference tasks whose fix commit lies in the scanned slice: how many we reproduce (same fix
commit validated; same FAIL_TO_PASS exactly, or once ids are cut at their first space as swebench's
pytest parser cuts them), which we miss and why, and how many tasks are new. Speed ratio: mean seconds of
a full environment build vs a shared (derived) image, both measured in this run. Resumable: the run
directories are kept, a second call only reports.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from sandbox.cleanup import install_signal_handlers
from swescale.config import load_config
from swescale.mine.run import mine


def _cut(test: str) -> str:
    """A test id as swebench's pytest parser reports it: up to the first space."""
    return test.split(" ", 1)[0]


def compare(ours: list[dict], theirs: list[dict], scanned: list[str], reasons: dict[str, str]) -> dict:
    by_fix = {t["fix_commit"]: t for t in ours}
    in_slice = [t for t in theirs if t["fix_commit"] in set(scanned)]
    reproduced, same, same_cut, missed = [], 0, 0, []
    for ref in in_slice:
        mine_row = by_fix.get(ref["fix_commit"])
        if mine_row is None:
            missed.append({"fix_commit": ref["fix_commit"][:10], "why": reasons.get(ref["fix_commit"], "?")})
            continue
        reproduced.append(ref["fix_commit"])
        a, b = set(json.loads(mine_row["FAIL_TO_PASS"])), set(json.loads(ref["FAIL_TO_PASS"]))
        same += a == b
        same_cut += {_cut(t) for t in a} == {_cut(t) for t in b}
    spaced = sum(any(" " in t for t in json.loads(ref["FAIL_TO_PASS"])) for ref in in_slice)
    return {
        "theirs_in_slice": len(in_slice),
        "reproduced": len(reproduced),
        "same_fail_to_pass": same,
        "same_fail_to_pass_after_cut": same_cut,
        "theirs_with_spaced_ids": spaced,
        "missed": missed,
        "new": len([t for t in ours if t["fix_commit"] not in {r["fix_commit"] for r in theirs}]),
    }


def run_repo(repo: str, theirs_path: Path, args: argparse.Namespace) -> dict:
    config = load_config([], ["env.pull=false", *args.overrides])
    run_dir = Path(args.run_root) / Path(theirs_path).stem
    start = time.monotonic()
    result = mine(
        repo, config, run_dir, run_dir / "tasks.jsonl", limit=args.limit, workers=args.workers, say=print
    )
    wall = time.monotonic() - start
    rows = [r for r in result.rows if r.done]
    scanned = [r.candidate.sha for r in rows]
    theirs = [json.loads(line) for line in Path(theirs_path).read_text().splitlines() if line.strip()]
    env = {}
    for source in ("built", "derived", "cached"):
        times = [r.detail["env_seconds"] for r in rows if r.detail.get("env_source") == source]
        env[source] = {"n": len(times), "median_s": round(statistics.median(times), 1) if times else None}
    candidates = result.funnel["stages"]["touching"]
    out = {
        "repo": result.repo,
        "funnel": result.funnel["stages"],
        "yield_per_commit": round(len(result.tasks) / max(1, len(scanned)), 3),
        "yield_per_candidate": round(len(result.tasks) / max(1, candidates), 3),
        "validation_seconds_per_candidate": round(
            sum(r.seconds for r in rows if r.stage != "scanned") / max(1, candidates), 1
        ),
        "seconds_per_commit_this_call": round(wall / max(1, len(scanned)), 2),
        "env": env,
        "build_vs_shared_ratio": round(env["built"]["median_s"] / env["derived"]["median_s"], 1)
        if env["built"]["n"] and env["derived"]["n"]
        else None,
        "statement_sources": _count(t["statement_source"] for t in result.tasks),
        "vs_shared": compare(result.tasks, theirs, scanned, {r.candidate.sha: r.reason for r in rows}),
    }
    return out


def _count(items) -> dict:
    out: dict = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", action="append", required=True)
    ap.add_argument("--theirs", action="append", required=True, help="reference tasks, one per --repo")
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--run-root", default="runs/bench-mine")
    ap.add_argument("overrides", nargs="*", help="key=value config overrides")
    args = ap.parse_args()
    if len(args.repo) != len(args.theirs):
        ap.error("give one --theirs per --repo")
    install_signal_handlers()  # Ctrl-C or SIGTERM removes the live sandboxes
    report = [run_repo(repo, Path(theirs), args) for repo, theirs in zip(args.repo, args.theirs, strict=True)]
    print(json.dumps(report, indent=2))
    for r in report:
        v = r["vs_shared"]
        print(
            f"{r['repo']}: {r['funnel']['validated']} tasks from {r['funnel']['scanned']} commits "
            f"(yield {r['yield_per_commit']:.1%} per commit, {r['yield_per_candidate']:.0%} per candidate), "
            f"{r['validation_seconds_per_candidate']}s per candidate; reference: {v['reproduced']}/"
            f"{v['theirs_in_slice']} reproduced, {v['new']} new; full build vs shared image: "
            f"{r['build_vs_shared_ratio']}x"
        )


if __name__ == "__main__":
    main()
