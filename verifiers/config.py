"""Configuration of the verifiers (see docs/verifiers.md for the scores)."""

from typing import Literal, Protocol

from agent.config import AgentSettings
from envs.config import EnvSettings
from sandbox.configbase import Section


class VerifierConfig(Section):
    test_trajectories: int = 2
    """Number of dedicated test-writing trajectories per task."""
    regression: bool = True
    """Run the repository's existing tests relevant to the touched files."""
    judge: bool = True
    """Ask the judge model for P(YES) when a verifier model is configured."""
    judge_samples: int = 5
    """Sampled verdicts per candidate when the server returns no logprobs."""
    judge_method: Literal["auto", "logprobs", "samples"] = "auto"
    """How every candidate of a table is judged: `auto` decides once per table by one probe request
    (`logprobs` when the answer token's top logprobs hold YES or NO, else `samples`)."""
    test_timeout: float = 120.0
    """Timeout of one generated or regression test run, in seconds."""

    # execution
    regression_timeout: float = 600.0
    """Timeout of one regression run (all selected test files of one code version), in seconds."""
    max_parallel: int = 2
    """Sandboxes (one per distinct candidate patch) run at the same time."""
    cache_dir: str = ""
    """Directory of an outcome cache (sqlite) shared by every run on this machine (outcomes are keyed by
    image id, patch, test and timeout). Empty: one cache per run, in its run directory (every generation
    reuses the earlier ones' cells), or in `out_dir` for a bare `verify`."""
    regression_max_files: int = 10
    """At most this many existing test files are selected as regression tests."""
    excerpt_chars: int = 2000
    """Characters of output kept (the tail) in each outcome cell."""

    # test weights
    rarity_bonus: float = 0.0
    """A distinguishing test weighs `1 + rarity_bonus * (1 - passing/applying)` over distinct candidates.
    0 (default): all distinguishing tests weigh 1, since a test only one candidate passes is as likely
    over-fitted to that candidate as it is sharp."""

    # judge
    judge_top_logprobs: int = 20
    """top_logprobs requested for the answer token."""
    judge_temperature: float = 1.0
    """Temperature of sampled verdicts (fallback without logprobs)."""
    judge_concurrency: int = 8
    """Judge requests in flight at once."""
    judge_trajectory: bool = False
    """Show the judge a condensed trajectory (from the candidate's `meta['trajectory_file']`)."""
    judge_max_diff_chars: int = 30_000
    """Longer diffs are cut in the judge prompt (head kept)."""

    # hybrid score
    hybrid: Literal["weighted", "r2egym"] = "weighted"
    """`weighted`: test_weight * generated_score + judge_weight * judge - regression penalty.
    `r2egym`: an approximation of R2E-Gym's rule, built from the paper's description, not their code: top-n
    by the judge, then by the count of passed tests (docs/verifiers.md)."""
    test_weight: float = 1.0
    """Weight of the weighted generated-test score (in [0, 1]) in the `weighted` hybrid."""
    judge_weight: float = 0.3
    """Weight of the judge probability in the `weighted` hybrid (keep < test_weight so tests dominate)."""
    judge_default: float = 0.5
    """Judge value used when a candidate has no judge score (judge off or unanswered)."""
    regression_penalty: float = 1.0
    """Subtracted from the hybrid score when a candidate breaks at least one regression test."""
    regression_veto: bool = False
    """Instead of the penalty, rank every candidate that breaks a regression test after all others."""
    r2egym_top_n: int = 5
    """`r2egym` hybrid: candidates outside the judge's top n rank after those inside."""


class VerifierSettings(AgentSettings, EnvSettings, Protocol):
    """What verification reads of the root config: its own section, the agent's (test-writing
    trajectories), environments and sandboxes."""

    verifier: VerifierConfig
