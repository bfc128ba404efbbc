"""Descriptive statistics of sequences of numbers."""

from collections import Counter


def mean(values):
    """Arithmetic mean of a non-empty sequence."""
    if not values:
        raise ValueError("mean() of an empty sequence")
    return sum(values) / len(values)


def median(values):
    """Middle value of a non-empty sequence."""
    if not values:
        raise ValueError("median() of an empty sequence")
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def mode(values):
    """Most common value of a non-empty sequence (the first one seen on ties)."""
    if not values:
        raise ValueError("mode() of an empty sequence")
    return Counter(values).most_common(1)[0][0]
