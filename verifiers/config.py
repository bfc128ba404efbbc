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
    """Timeout of one regression run (`files` mode: all selected test files of one code version;
    `targeted` mode: one file, and the ceiling of the relative timeouts), in seconds."""
    regression_mode: Literal["targeted", "files"] = "targeted"
    """`targeted`: the original runs each regression file once with a call tracer; each candidate runs
    only the tests that called a function it changes, with relative timeouts (verifiers/regression.py).
    `files`: every candidate runs every selected file whole under one flat `regression_timeout`."""
    regression_timeout_factor: float = 3.0
    """`targeted` mode: a candidate's timeout for a file is factor x the original's run time of it + margin."""
    regression_timeout_margin: float = 30.0
    """`targeted` mode: seconds added to the relative timeout of each file."""
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

    # the issue's own examples (verifiers/probes)
    probes: bool = True
    """Run the examples of the issue text (code blocks, `>>>` and IPython sessions) as probes on the original
    and on every candidate, in the candidate's sandbox; selection reads them as `selection.probe_weight`
    and `selection.probe_clusters` say."""
    max_probes: int = 4
    """Probes per task at most (those with an expected value first, then in the issue's order)."""
    probe_timeout: float = 30.0
    """Time limit of one probe run (all its statements), in seconds."""

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
    judge_chat_template_kwargs: dict = {"enable_thinking": False}
    """Sent with every judge request as `chat_template_kwargs` (vLLM, SGLang and llama.cpp pass them to the
    chat template): Qwen3's template then skips the reasoning a one-token verdict has no room for. Servers
    and templates that do not know them ignore them; `{}` sends nothing (for a server that refuses them)."""
    judge_reasoning_tokens: int = 2048
    """When the answer token opens a reasoning block all the same, the request is made again with this many
    tokens and the verdict is read from the first token after the reasoning."""

    # hybrid score
    hybrid: Literal["weighted", "r2egym"] = "weighted"
    """`weighted`: test_weight * generated_score + judge_weight * judge - regression penalty.
    `r2egym`: R2E-Gym's cascade (get_hybrid_aggregation): judge top k, then regression pass rate, then
    generated-test pass rate, then judge (docs/verifiers.md)."""
    test_weight: float = 1.0
    """Weight of the weighted generated-test score (in [0, 1]) in the `weighted` hybrid."""
    judge_weight: float = 0.3
    """Weight of the judge probability in the `weighted` hybrid (keep < test_weight so tests dominate)."""
    judge_default: float = 0.5
    """Judge value used when a candidate has no judge score (judge off or unanswered)."""
    regression_penalty: float = 1.0
    """Weight of the regression loss log(1 + broken) / log(1 + tests) (weighted counts) in the hybrid score."""
    regression_degree: Literal["log", "flat"] = "log"
    """`log`: the regression loss grows with the weighted number of broken tests (hybrid.regression_loss);
    `flat`: 1 when anything breaks (the earlier "breaks a regression test" penalty, kept to measure)."""
    regression_veto: bool = False
    """Instead of the penalty, rank every candidate that breaks a regression test after all others."""
    r2egym_top_min: int = 3
    """`r2egym` hybrid: the judge's top k = max(r2egym_top_min, int(r2egym_top_fraction * n)) candidates
    go through the cascade first (R2E-Gym: 3)."""
    r2egym_top_fraction: float = 0.5
    """`r2egym` hybrid: fraction of the candidates in the judge's top k (R2E-Gym: 0.5)."""

    # regression evidence
    shared_regression_share: float = 0.5
    """A regression test that more than this share of the distinct applying candidates break is probably
    one the issue is meant to change: its failures weigh `shared_regression_weight`."""
    shared_regression_weight: float = 0.25
    """Weight of a failure of a regression test most candidates break (a failure a single candidate causes
    weighs 1); see weights.weigh_regressions."""
    obsolete_tests: bool = True
    """With a verifier model: ask it which failing regression tests the issue makes obsolete (Agentless);
    their failures weigh 0 (templates/obsolete*.j2)."""


class VerifierSettings(AgentSettings, EnvSettings, Protocol):
    """What verification reads of the root config: its own section, the agent's (test-writing
    trajectories), environments and sandboxes."""

    verifier: VerifierConfig
