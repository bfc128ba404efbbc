"""Configuration of the verifiers."""

from agent.configbase import Section


class VerifierConfig(Section):
    test_trajectories: int = 2
    """Number of dedicated test-writing trajectories per task."""
    regression: bool = True
    """Run the repository's existing tests relevant to the touched files."""
    judge: bool = True
    """Ask the judge model for P(YES) when a verifier model is configured."""
    judge_samples: int = 5
    """Sampled verdicts per candidate when the server returns no logprobs."""
    test_timeout: float = 120.0
    """Timeout of one generated or regression test run, in seconds."""
