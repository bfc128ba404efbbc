"""What a solve run reports while it runs (Progress) and what it leaves (SolveOutcome, GenerationStats)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from pydantic import BaseModel, Field

from agent.result import TrajectoryResult
from agent.usage import Usage
from selection.select import Decision
from swescale.serve.metrics import ServerMetrics
from verifiers.table import Candidate, VerifierTable

log = logging.getLogger(__name__)


class Progress(Protocol):
    """What the pipeline reports while it runs (the live display implements it)."""

    def run_started(self, usage: Callable[[], Usage]) -> None: ...
    def stage(self, text: str) -> None: ...
    def trajectory_started(self, trajectory_id: str, generation: int) -> None: ...
    def trajectory_step(self, trajectory_id: str, steps: int, usage: Usage) -> None: ...
    def trajectory_finished(self, result: TrajectoryResult) -> None: ...
    def generation_scored(self, stats: GenerationStats) -> None: ...


class NullProgress:
    def run_started(self, usage: Callable[[], Usage]) -> None:
        pass

    def stage(self, text: str) -> None:
        log.info(text)

    def trajectory_started(self, trajectory_id: str, generation: int) -> None:
        pass

    def trajectory_step(self, trajectory_id: str, steps: int, usage: Usage) -> None:
        pass

    def trajectory_finished(self, result: TrajectoryResult) -> None:
        pass

    def generation_scored(self, stats: GenerationStats) -> None:
        pass


class RunDirError(ValueError):
    """The run directory cannot be used (it holds a run of another task)."""


class GenerationStats(BaseModel):
    generation: int
    trajectories: int = 0
    """Fix trajectories that ran in this generation."""
    candidates: int = 0
    """Non-empty candidate patches this generation added."""
    tests: int = 0
    """Generated tests known after this generation."""
    best_candidate: str | None = None
    best_score: float = 0.0
    """Hybrid score of the best candidate after this generation."""
    tokens: int = 0
    """Tokens spent by the run up to the end of this generation."""
    stop_reasons: list[str] = Field(default_factory=list)


class StageCost(BaseModel):
    """Wall time and tokens one stage of a run spent."""

    seconds: float = 0.0
    tokens: int = 0


class SolveOutcome(BaseModel):
    """What `solve` leaves: the decision, the chosen patch, and why the run stopped."""

    instance_id: str
    decision: Decision | None = None
    patch: str = ""
    """The chosen patch; empty when abstaining or interrupted."""
    abstained: bool = True
    reason: str = ""
    stop_reasons: list[str] = Field(default_factory=list)
    generations: list[GenerationStats] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    interrupted: bool = False
    resumed: int = 0
    """Finished trajectories kept from an earlier, interrupted run in the same run directory."""
    run_dir: str = ""
    usage_by_server: dict[str, Usage] = Field(default_factory=dict)
    """Calls and tokens per model server URL (which replica served what)."""
    server_metrics: list[ServerMetrics] = Field(default_factory=list)
    """Per model server that exposes Prometheus /metrics (vLLM): prefix-cache hit rate, load, throughput."""
    stages: dict[str, StageCost] = Field(default_factory=dict)
    """Wall time and tokens per stage (`fix` trajectories, `tests` writing, `verification`, `judge`,
    `selection`), summed over generations, of what this process ran (a resumed run counts its own part)."""
    table: VerifierTable | None = Field(default=None, exclude=True)
    """The latest verifier table (saved per generation in the run directory, not in run.json)."""
    candidates: dict[str, Candidate] = Field(default_factory=dict, exclude=True)
    """Every candidate of the run, by id (also in candidates.jsonl)."""
