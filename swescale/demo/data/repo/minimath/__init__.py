"""Small statistics helpers."""

from minimath.stats import mean, median, mode

__all__ = ["mean", "median", "mode"]
