"""Test collection: reproduction scripts, test-writing trajectories and regression-test selection.

Never uses a dataset's test_patch, FAIL_TO_PASS or PASS_TO_PASS.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from agent.result import TrajectoryResult
from sandbox.patch import changed_paths
from verifiers.protocols import EnvLike, PoolLike
from verifiers.table import Candidate, GeneratedTest

if TYPE_CHECKING:
    import threading

    from agent.agent import Model
    from envs.task import Task
    from verifiers.config import VerifierSettings

log = logging.getLogger(__name__)


def _unique(tests: Iterable[GeneratedTest]) -> list[GeneratedTest]:
    """Drop tests whose script repeats an earlier one's (same path and content)."""
    seen: set[str] = set()
    out = []
    for test in tests:
        if test.test_hash not in seen:
            seen.add(test.test_hash)
            out.append(test)
    return out


def _test_path(path: str | None) -> str:
    # Keep the agent's path when it is a plain relative .py path, else a fixed name at the repo root.
    if path and path.endswith(".py") and not path.startswith(("/", "..")) and ".." not in path.split("/"):
        return path
    return "swescale_generated_test.py"


def tests_from_trajectories(
    results: Iterable[TrajectoryResult], prefix: str = "repro"
) -> list[GeneratedTest]:
    """One GeneratedTest per trajectory that left a reproduction script (identical scripts once)."""
    tests = [
        GeneratedTest(
            test_id=f"{prefix}:{r.trajectory_id}",
            script=r.repro_test,
            source=f"{prefix}:{r.trajectory_id}",
            path=_test_path(r.repro_path),
        )
        for r in sorted(results, key=lambda r: r.trajectory_id)
        if r.repro_test and r.repro_test.strip()
    ]
    return _unique(tests)


def tests_from_candidates(candidates: Iterable[Candidate]) -> list[GeneratedTest]:
    """The candidates' own reproduction scripts (Candidate.repro_test), identical scripts once."""
    tests = [
        GeneratedTest(
            test_id=f"repro:{c.candidate_id}",
            script=c.repro_test,
            source=f"repro:{c.candidate_id}",
            path=_test_path(c.meta.get("repro_path")),
        )
        for c in sorted(candidates, key=lambda c: c.candidate_id)
        if c.repro_test and c.repro_test.strip()
    ]
    return _unique(tests)


def merge_tests(*groups: Iterable[GeneratedTest]) -> list[GeneratedTest]:
    """All tests, duplicates (same script) and repeated ids dropped, first occurrence kept."""
    seen_ids: set[str] = set()
    out = []
    for test in _unique(t for group in groups for t in group):
        if test.test_id not in seen_ids:
            seen_ids.add(test.test_id)
            out.append(test)
    return out


def run_test_trajectories(
    task: Task,
    env: EnvLike,
    model: Model,
    pool: PoolLike,
    config: VerifierSettings,
    out_dir: str | Path,
    count: int | None = None,
    cancel: threading.Event | None = None,
    on_result: Callable[[TrajectoryResult], None] | None = None,
) -> list[GeneratedTest]:
    """Run `config.verifier.test_trajectories` test-writing trajectories (agent mode="test") concurrently.

    Each runs in its own sandbox of `env.image`; the scripts they leave become GeneratedTests
    `testgen:<trajectory id>`; `on_result` is given each trajectory's result as it ends. Failed
    trajectories are logged and skipped.
    """
    from agent.agent import run_trajectory

    count = config.verifier.test_trajectories if count is None else count
    out_dir = Path(out_dir)

    def one(index: int) -> TrajectoryResult | None:
        trajectory_id = f"testgen-{index}"
        try:
            with pool.sandbox(env.image, workdir="/testbed") as sandbox:
                result = run_trajectory(
                    task, sandbox, model, config, out_dir, trajectory_id, mode="test", cancel=cancel
                )
        except Exception as exc:  # noqa: BLE001 - one broken trajectory must not stop the others
            log.warning("test trajectory %s failed: %s", trajectory_id, exc)
            return None
        if on_result is not None:
            on_result(result)
        return result

    if count <= 0:
        return []
    with ThreadPoolExecutor(max_workers=min(count, max(1, config.verifier.max_parallel))) as executor:
        results = [r for r in executor.map(one, range(count)) if r is not None]
    return tests_from_trajectories(results, prefix="testgen")


def touched_files(patches: Iterable[str]) -> list[str]:
    """Paths (new side) changed by any of the patches, sorted."""
    return sorted({path for patch in patches for path in changed_paths(patch)})
