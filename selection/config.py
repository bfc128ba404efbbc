"""Configuration of selection."""

from agent.configbase import Section


class SelectionConfig(Section):
    abstain_threshold: float = 0.5
    """Confidence below which selection abstains (the best candidate is still recorded)."""
    ranking: list[str] = ["hybrid", "support", "length"]
    """Ranking keys, most important first: hybrid verifier score, cluster support, shorter patch."""
    selection_trajectory: bool = False
    """Run a selection trajectory over the top clusters (CodeMonkeys)."""
