"""Configuration of selection."""

from typing import Literal, Protocol

from pydantic import ValidationInfo, field_validator

from sandbox.configbase import Section
from verifiers.config import VerifierSettings

RANKING_KEYS = (
    "hybrid",
    "support",
    "length",
    "judge",
    "generated",
    "regression",
    "agreement",
    "issue",
    "probes",
)
TIE_BREAK_KEYS = ("agreement", "issue", "length")


class SelectionConfig(Section):
    abstain_threshold: float = 0.5
    """Confidence below which a decision with a judge score abstains (the best candidate is still recorded).
    Not measured on labelled pools yet (no verifier model here): a prior."""
    abstain_threshold_unjudged: float = 0.16
    """The same for decisions where no judge was asked (no verifier model, or `verifier.judge` off; a judge
    that was asked and failed keeps `abstain_threshold`): agreement, the candidates' own tests
    and regression evidence only), whose confidence has fewer signals. Chosen on SWE-bench Lite's real pool
    from the risk-coverage curve of benchmarks/selection_quality.py for precision 0.6 (docs/selection.md)."""
    ranking: list[str] = ["hybrid", "support", "length"]
    """Ranking keys of behavioural clusters, most important first: `hybrid` verifier score, cluster
    `support` (candidates voting for it), shorter patch (`length`); also `judge`, `generated`,
    `regression` (weighted regression pass rate), `agreement` (candidates with the representative's
    normalized patch), `issue` (code the issue names) and `probes` (the issue's examples: expected values
    met, else behaviour changed; verifiers.probes.signals)."""
    score_tolerance: float = 0.02
    """Scores closer than this count as equal in the ranking (so support and length can break ties)."""
    margin_scale: float = 0.25
    """Hybrid-score margin over the runner-up cluster that counts as a full margin in the confidence."""
    margin_weight: float = 0.5
    """How much a zero margin lowers the confidence: confidence = evidence * (1 - margin_weight * (1 - M))."""
    evidence_floor: float = 0.01
    """Lower bound of each evidence signal before the geometric mean (so one zero does not hide the rest)."""
    probe_weight: float = 0.0
    """Weight of the probe score (the issue's own examples run on each candidate, verifiers/probes: the
    share of the issue's expected values a cluster gives that the original does not, else half the share
    of examples whose behaviour it changes) added to the hybrid score where clusters are ranked and
    margins taken; above 0 the met share also joins the confidence's evidence. 0 (default): recorded and
    explained, not used, until measured on held-out halves (docs/selection.md)."""
    probe_clusters: bool = False
    """Probe outcomes are part of the behaviour signature: candidates join a cluster only when the issue's
    examples also behave alike (and, with no test at all, different patches that behave alike on them
    join). Off by default: equivalent fixes can print a value differently (docs/selection.md)."""
    candidate_tests: bool = True
    """Run the tests candidates bring themselves (new scripts and test functions in their patches) against
    every candidate as extra generated tests (selection/candidate_tests.py)."""
    abstain_output: Literal["empty", "omit", "best"] = "empty"
    """What `swescale select` writes for an abstained instance: an empty model_patch, no line at all,
    or the best candidate anyway (for leaderboards that do not reward abstention)."""
    selection_trajectory: bool = False
    """Run a selection trajectory over the top clusters (CodeMonkeys); needs a model."""
    trajectory_top_k: int = 3
    """Top clusters whose representative diffs the selection trajectory sees."""
    trajectory_max_steps: int = 20
    """Step limit of the selection trajectory."""
    trajectory_test_timeout: float = 120.0
    """Timeout of one command or test run of the selection trajectory, in seconds."""

    tie_breaks: list[str] = ["agreement", "length", "issue"]
    """Inside a behavioural cluster (same outcome on every test), the representative is the member with the
    highest hybrid score, then by these keys in order: `agreement` (most candidates with the same
    normalized patch), `length` (smallest change), `issue` (most functions, classes and modules the issue
    names; measured on the Lite pool it hurt before `length`, see docs/selection.md)."""

    @field_validator("ranking", "tie_breaks")
    @classmethod
    def _known_keys(cls, value: list[str], info: ValidationInfo) -> list[str]:
        known = RANKING_KEYS if info.field_name == "ranking" else TIE_BREAK_KEYS
        unknown = [key for key in value if key not in known]
        if unknown:
            raise ValueError(f"unknown {info.field_name} keys {unknown}; choose from {list(known)}")
        return value


class SelectionSettings(VerifierSettings, Protocol):
    """What selection reads of the root config: its own section and everything verification reads."""

    selection: SelectionConfig
