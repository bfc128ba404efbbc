"""The files of a solve run's directory, and reading back what an interrupted run finished.

`config.yaml` and `task.json` (what ran), `trajectories.jsonl` and `candidates.jsonl` (appended as
trajectories end, so a crash keeps what finished), `tests.jsonl` (the first generation's written tests),
`run.json` (the outcome). `gen<N>/` holds each generation's verifier table and decision (swescale.select).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import yaml

from agent.result import ExitStatus, TrajectoryResult
from envs.task import Task
from swescale.config import SwescaleConfig, public_dump
from swescale.outcome import RunDirError, SolveOutcome
from verifiers.table import Candidate, GeneratedTest

RERUN_ON_RESUME = (ExitStatus.cancelled, ExitStatus.model_error, ExitStatus.sandbox_error)
"""Trajectories that ended like this run again when a run resumes: they were stopped, or the model server
or their sandbox failed; they did not try and fail."""


class RunDir:
    """One run directory; appends are safe from several threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    @property
    def trajectories_dir(self) -> Path:
        """Each trajectory's JSON (agent.trajectory)."""
        return self.path / "trajectories"

    @property
    def tests_file(self) -> Path:
        return self.path / "tests.jsonl"

    def generation_dir(self, generation: int) -> Path:
        return self.path / f"gen{generation}"

    def earlier_results(self, task: Task) -> list[TrajectoryResult]:
        """The trajectories an earlier run of `task` here finished, but those in RERUN_ON_RESUME (a line a
        crash cut short is skipped). Raises RunDirError when the directory holds another task's run."""
        task_file, results_file = self.path / "task.json", self.path / "trajectories.jsonl"
        if not results_file.exists():
            return []
        earlier = Task.model_validate_json(task_file.read_text()) if task_file.exists() else None
        if earlier is None or (earlier.instance_id, earlier.base_commit) != (
            task.instance_id,
            task.base_commit,
        ):
            raise RunDirError(f"{self.path} holds a run of another task: give a new --run-dir")
        kept = []
        for line in results_file.read_text().splitlines():
            try:
                result = TrajectoryResult.model_validate_json(line)
            except ValueError:
                continue
            if result.exit_status not in RERUN_ON_RESUME:
                kept.append(result)
        return kept

    def earlier_tests(self) -> list[GeneratedTest]:
        if not self.tests_file.exists():
            return []
        return [GeneratedTest.model_validate_json(x) for x in self.tests_file.read_text().splitlines()]

    def start(self, task: Task, config: SwescaleConfig) -> None:
        """Write what this run runs (after `earlier_results` read the previous run's task)."""
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / "config.yaml").write_text(yaml.safe_dump(public_dump(config), sort_keys=False))
        (self.path / "task.json").write_text(task.model_dump_json(indent=2))

    def append_trajectory(self, result: TrajectoryResult) -> None:
        self._append("trajectories.jsonl", result.model_dump_json())

    def append_candidate(self, instance_id: str, candidate: Candidate) -> None:
        """A candidate as a SWE-bench prediction line plus its own fields."""
        line = {
            "instance_id": instance_id,
            "model_name_or_path": "swescale",
            "model_patch": candidate.patch,
            **candidate.model_dump(mode="json"),
        }
        self._append("candidates.jsonl", json.dumps(line))

    def save_tests(self, tests: list[GeneratedTest]) -> None:
        self.tests_file.write_text("".join(t.model_dump_json() + "\n" for t in tests))

    def save_outcome(self, outcome: SolveOutcome) -> None:
        (self.path / "run.json").write_text(outcome.model_dump_json(indent=2))

    def _append(self, name: str, line: str) -> None:
        with self._lock, (self.path / name).open("a") as fh:
            fh.write(line + "\n")
