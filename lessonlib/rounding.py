"""How recorded numbers were rounded: how many distinct values there are, and where the values heap.

A clock read by a person is rounded, and not evenly: values pile up on "round" readings. For the Old
Faithful durations (minutes, recorded to the second) the piles sit on multiples of five seconds, where
about a third of the eruptions lie, against the fifth that evenly spread seconds would put there.
Notebooks 03 and 05 print these numbers; a continuous density fitted to such data can hug the repeated
values, which is why held-out data and dequantisation matter.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lessonlib.inputs import real_array

__all__ = ["DurationRounding", "duration_rounding", "HALF_MINUTE_CHANCE", "FIVE_SECONDS_CHANCE"]

#: Share of whole numbers of seconds that fall on a whole or half minute, if the seconds were spread evenly.
HALF_MINUTE_CHANCE = 1 / 30
#: Share of whole numbers of seconds that fall on a multiple of 5 seconds, if the seconds were spread evenly.
FIVE_SECONDS_CHANCE = 1 / 5


class DurationRounding(NamedTuple):
    """What ``duration_rounding`` measured. Shares are fractions of all the durations, in [0, 1]."""

    count: int  # durations
    distinct: int  # distinct values among them
    to_the_second: bool  # every duration is a whole number of seconds (to within 0.001 minutes)
    half_minutes: float  # share on a whole or half minute (evenly spread seconds: HALF_MINUTE_CHANCE)
    five_seconds: float  # share on a multiple of 5 seconds (evenly spread seconds: FIVE_SECONDS_CHANCE)


def duration_rounding(minutes) -> DurationRounding:
    """Distinct values and heaping of durations given in minutes.

    Shapes: minutes (N,) or any shape holding N >= 1 durations. A file that stores minutes with three
    decimals (3.333 for 3 min 20 s) is "to the second" when every value lies within 0.001 of a whole second.
    """
    m = real_array(minutes, "minutes").reshape(-1)
    if m.size == 0:
        raise ValueError("minutes is empty: give at least one duration.")
    if np.any(m < 0):
        raise ValueError(f"minutes must be durations, >= 0; the smallest is {m.min():g}.")
    seconds = np.round(m * 60)  # the nearest whole second
    return DurationRounding(
        count=int(m.size),
        distinct=int(np.unique(m).size),
        to_the_second=bool(np.all(np.abs(seconds / 60 - m) < 1e-3)),
        half_minutes=float(np.mean(seconds % 30 == 0)),
        five_seconds=float(np.mean(seconds % 5 == 0)),
    )
