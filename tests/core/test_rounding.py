"""Rounding of recorded durations: distinct values, and the shares on round readings, counted by hand."""

import numpy as np
import pytest

from lessonlib.data import load_old_faithful
from lessonlib.rounding import FIVE_SECONDS_CHANCE, HALF_MINUTE_CHANCE, duration_rounding


def test_counts_match_a_hand_made_example():
    # 1:00, 1:30, 1:05, 1:01 and 1:00 again: two on a half minute or whole one, four on a multiple of 5 s
    r = duration_rounding([1.0, 1.5, 65 / 60, 61 / 60, 1.0])
    assert (r.count, r.distinct, r.to_the_second) == (5, 4, True)
    assert r.half_minutes == 3 / 5 and r.five_seconds == 4 / 5


def test_a_value_between_two_seconds_is_not_to_the_second():
    assert not duration_rounding([1.0, 1.0 + 0.5 / 60]).to_the_second  # 1 min 0.5 s
    assert duration_rounding(np.array([[3.333], [2.283]])).to_the_second  # three decimals: 3:20 and 2:17


def test_old_faithful_heaps_on_multiples_of_five_seconds_not_on_half_minutes():
    r = duration_rounding(load_old_faithful()[:, 0])
    assert (r.count, r.distinct, r.to_the_second) == (272, 126, True)
    assert round(r.half_minutes * 272) == 21 and round(r.five_seconds * 272) == 89
    assert r.five_seconds > 1.5 * FIVE_SECONDS_CHANCE and r.half_minutes < 0.1
    assert HALF_MINUTE_CHANCE == 1 / 30


@pytest.mark.parametrize(
    "bad, error, words",
    [
        ([], ValueError, "empty"),
        ([1.0, -2.0], ValueError, ">= 0"),
        ("3.5", TypeError, "numbers"),
        ([np.nan], ValueError, "NaN"),
    ],
)
def test_bad_input_is_refused_with_its_cause(bad, error, words):
    with pytest.raises(error, match=words):
        duration_rounding(bad)
