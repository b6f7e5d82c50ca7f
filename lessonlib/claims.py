"""Claims about trained models: a number the text relies on, with the range it must fall in.

A number computed by training (a KL gap, a loss, a sample statistic) changes with the training seed, and
it differs in its last bits from one CPU to another, which training amplifies as a different seed would.
A notebook therefore never quotes such a number exactly; it states a range, measured over many seeds
and simulated CPUs (``python3 course.py spread --seeds 10``), and keeps it with ``claim``::

    claim("KL gap of the 8-layer flow (nats)", kl8, low=0.1, high=0.7)

When the value is in its range, ``claim`` returns None, so a cell that ends with a claim prints nothing.
When it is not, what happens depends on who runs the notebook:

* in a learner's kernel, ``claim`` prints a note (what the text relies on, what this run got, why runs
  differ) and returns, so the notebook goes on to its end;
* under the test command, CI, ``regenerate`` and the hub tests, which set ``LESSONLIB_STRICT_CLAIMS=1``,
  it raises an AssertionError that names the claim, and the run fails.

When ``LESSONLIB_CLAIMS_LOG`` names a file, every claim is appended to it as one JSON line, for the
spread tool, which reports each claim's smallest and largest value against its bounds.
"""

from __future__ import annotations

import json
import math
import os

from lessonlib.inputs import describe, real_number

__all__ = ["claim", "CLAIMS_LOG_ENV", "STRICT_ENV"]

#: Environment variable naming the JSON-lines file that claims are recorded in (unset: not recorded).
CLAIMS_LOG_ENV = "LESSONLIB_CLAIMS_LOG"
#: Environment variable that makes a missed claim raise (the test command sets it to 1).
STRICT_ENV = "LESSONLIB_STRICT_CLAIMS"


def _record(name: str, value: float, low: float | None, high: float | None) -> None:
    path = os.environ.get(CLAIMS_LOG_ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"name": name, "value": value, "low": low, "high": high}) + "\n")


def _note(name: str, value: float, bounds: str) -> str:
    """What a learner reads when a claim misses: the claim, this run's value, why, and that the lesson goes on."""
    return (
        "⚠ Note: this run's number differs from what the text says.\n"
        f"  {name}: the text relies on {bounds}; this run got {value:.4g}.\n"
        "  Numbers that come out of training move from run to run: another computer rounds the last digits\n"
        "  of its sums differently, and training amplifies that, as a different random seed would. The\n"
        "  range in the text was measured over many seeds and machines, and this run fell outside it.\n"
        "  Nothing is broken: read the text with this run's number in mind. The notebook goes on."
    )


def claim(name: str, value: float, low: float | None = None, high: float | None = None) -> None:
    """Check low < value < high for a number that depends on training; record it for the spread tool.

    ``low`` or ``high`` may be None (no bound on that side). A miss prints a note, or raises an
    AssertionError when ``LESSONLIB_STRICT_CLAIMS`` is set (the test command sets it).
    """
    if low is None and high is None:
        raise ValueError(f"claim {name!r} needs a bound: give low, high or both.")
    low = None if low is None else real_number(low, "low", allow_inf=True)
    high = None if high is None else real_number(high, "high", allow_inf=True)
    if low is not None and high is not None and not low < high:
        raise ValueError(f"claim {name!r}: low must be below high, got low = {low:g} and high = {high:g}.")
    try:
        if isinstance(value, (str, bytes)):  # float("0.5") would read text as a number
            raise TypeError
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"claim {name!r}: the value must be a number, got {describe(value)}.") from None
    _record(name, v, low, high)
    if not (math.isnan(v) or (low is not None and not v > low) or (high is not None and not v < high)):
        return
    if low is not None and high is not None:
        bounds = f"a value between {low:g} and {high:g}"
    else:
        bounds = f"a value above {low:g}" if high is None else f"a value below {high:g}"
    if os.environ.get(STRICT_ENV, "") not in ("", "0"):
        raise AssertionError(
            f"claim {name!r} does not hold: the value is {v:.6g}, the text relies on {bounds}. "
            "Re-measure its spread over seeds and CPUs (python3 course.py spread --seeds 10 NOTEBOOK) and "
            "change the experiment, the bounds or the text."
        )
    print(_note(name, v, bounds))
