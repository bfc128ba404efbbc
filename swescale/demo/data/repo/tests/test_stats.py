import pytest

from minimath import mean, median, mode


def test_mean():
    assert mean([1, 2, 3, 4]) == 2.5


def test_median_odd():
    assert median([3, 1, 2]) == 2


def test_median_unsorted_input_untouched():
    values = [5, 1, 4]
    median(values)
    assert values == [5, 1, 4]


def test_mode():
    assert mode([1, 2, 2, 3]) == 2


def test_empty():
    with pytest.raises(ValueError):
        median([])
