"""What a solve run reports while it runs (Progress) and what it leaves (SolveOutcome, GenerationStats)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from pydantic import BaseModel, Field

from agent.result import ExitStatus, TrajectoryResult
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


def model_failure(results: list[TrajectoryResult]) -> str | None:
    """Why a run is an error and not an abstention: every trajectory that ran (fix and test-writing, not
    cancelled) ended `model_error`. Returns the message, or None."""
    ran = [r for r in results if r.exit_status != ExitStatus.cancelled]
    if not ran or any(r.exit_status != ExitStatus.model_error for r in ran):
        return None
    detail = (ran[0].error or "").strip().splitlines()
    first = detail[0][:500] if detail else "no detail"
    return f"the model server failed: all {len(ran)} trajectories ended model_error ({first})"


class SolveOutcome(BaseModel):
    """What `solve` leaves: the decision, the chosen patch, and why the run stopped."""

    instance_id: str
    decision: Decision | None = None
    patch: str = ""
    """The chosen patch; empty when abstaining or interrupted."""
    abstained: bool = True
    reason: str = ""
    error_class: str = ""
    """Set when the run failed rather than abstained: `model-server` when every trajectory (fix and
    test-writing) ended `model_error` and no patch was chosen (the model never got to try)."""
    error: str = ""
    """What failed, with the first trajectory's error (empty unless `error_class` is set)."""
    trajectory_stops: dict[str, str] = Field(default_factory=dict)
    """Why each trajectory ended, by id: its exit status and, unless it submitted, the limit or error."""
    judge_failures: int = 0
    """Candidates the judge was asked about and gave no judgement for (a failed request, no verdict),
    summed over generations; such a decision keeps the judged threshold."""
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
