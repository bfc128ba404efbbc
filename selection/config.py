"""Configuration of selection."""

from typing import Literal, Protocol

from pydantic import ValidationInfo, field_validator

from sandbox.configbase import Section
from verifiers.config import VerifierSettings

RANKING_KEYS = (
    "evidence",
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
TIE_BREAK_KEYS = ("agreement", "issue", "length", "similarity")
RANKINGS = {
    "verifier": ["hybrid", "probes", "support", "length"],
    "agreement": ["evidence", "support", "length"],
}
"""Named rankings (`selection.ranking=NAME`): `verifier` ranks by the hybrid verifier score, then by the
issue's examples (probes: they only separate clusters the tests score alike, since a candidate can
special-case an example), then by support; `agreement` by the evidence score, where the share of
candidates behind a cluster weighs against its execution evidence (selection.select.evidence_score)."""


class SelectionConfig(Section):
    abstain_threshold: float = 0.5
    """Confidence below which a decision with a judge score abstains (the best candidate is still recorded).
    Not measured on labelled pools yet (no verifier model here): a prior."""
    abstain_threshold_unjudged: float = 0.16
    """The same for decisions where no judge was asked (no verifier model, or `verifier.judge` off; a judge
    that was asked and failed keeps `abstain_threshold`): agreement, the candidates' own tests and regression
    evidence only. Provisional: the value chosen on the first 60 instances of the Lite pool for precision 0.6
    (issue #16, the former confidence); benchmarks/selection_fit.py chooses it on one half of the pool for
    precision 0.9 once the whole pool is verified (docs/selection.md: on 16 instances no threshold reaches
    0.9 on either half)."""
    answer_share: float = 0.75
    """Never abstain when the top behavioural cluster holds at least this share of the viable candidates
    (they agree on every test, and no test ranked another cluster above them), at least
    `answer_min_support` of them, and no judge said no (its mean P(YES) below 0.5)."""
    answer_min_support: int = 3
    """Candidates the agreement of `answer_share` needs at least: one or two trajectories agreeing with
    themselves are no evidence."""
    ranking: list[str] = list(RANKINGS["verifier"])
    """Ranking keys of behavioural clusters, most important first, or the name of one of `RANKINGS`:
    `evidence` score (hybrid + weighted agreement, see `support_weight`), `hybrid` verifier score, cluster
    `support` (candidates voting for it), shorter patch (`length`); also `judge`, `generated`,
    `regression` (weighted regression pass rate), `agreement` (candidates with the representative's
    normalized patch), `issue` (code the issue names) and `probes` (the issue's examples: expected values
    met, else behaviour changed; verifiers.probes.signals). Default `verifier`: the held-out fit on the
    instances verified so far does as well with it as with any point (docs/selection.md), and under
    `agreement` two copies of a patch that breaks a regression test outvote a clean one (tests/hostile)."""
    support_weight: float = 2.0
    """`evidence` score: weight of the cluster's share of the viable candidates (behaviour agreement). At 2.0
    a cluster with 1/2 more of the candidates outweighs passing every distinguishing generated test."""
    patch_weight: float = 0.0
    """`evidence` score: weight of the share of viable candidates with the representative's normalized
    patch (independent systems writing the same code)."""
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
    margins taken; above 0 the met share also joins the confidence's evidence. 0 (default): the probes
    rank only after the hybrid score (the `probes` key of the `verifier` ranking), so they never outweigh
    a test; on the Lite pool that chooses as well as 0.5 does (docs/selection.md section 7)."""
    probe_clusters: bool = True
    """Probe outcomes are part of the behaviour signature: candidates join a cluster only when the issue's
    examples also behave alike (and, with no test at all, different patches that behave alike on them
    join). On: candidates no test tells apart split by the issue's examples, which is where the command
    probes gained (docs/selection.md); equivalent fixes that print a value differently split too."""
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

    tie_breaks: list[str] = ["similarity", "length", "issue"]
    """Inside a behavioural cluster (same outcome on every test), the representative is the member with the
    highest hybrid score, then by these keys in order: `similarity` (the member whose changed lines are
    closest to the other members': minimum Bayes risk, selection.cluster.similarity; the fit chooses it on
    both halves of the Lite pool, docs/selection.md), `agreement` (most candidates with the same normalized
    patch), `length` (smallest change), `issue` (most functions, classes and modules the issue names;
    measured on the Lite pool it hurt before `length`)."""

    @field_validator("ranking", mode="before")
    @classmethod
    def _named_ranking(cls, value: object) -> object:
        if isinstance(value, str):
            if value not in RANKINGS:
                raise ValueError(
                    f"unknown ranking {value!r}; choose from {list(RANKINGS)} or give a list of keys"
                )
            return list(RANKINGS[value])
        return value

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
