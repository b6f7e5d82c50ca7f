"""Claims about trained models: asserted with a margin, and recorded so their spread can be measured.

A number computed by training (a KL gap, a loss, a sample statistic) differs in its last bits from one
CPU to another, and training amplifies those bits. A notebook therefore never quotes such a number
exactly; it states a range the number must fall in and keeps it with ``claim``::

    claim("KL gap of the 8-layer flow (nats)", kl8, low=0.1, high=0.7)

``claim`` raises an AssertionError that names the claim when the value leaves its range, and returns
None otherwise, so a cell that ends with a claim prints nothing extra. When the environment variable
``LESSONLIB_CLAIMS_LOG`` names a file, every claim is appended to it as one JSON line:
``python3 course.py spread`` runs the notebooks under several simulated CPUs and reports, per claim,
the smallest and largest value seen and how far they stay from the asserted bounds.
"""

from __future__ import annotations

import json
import math
import os

from lessonlib.inputs import real_number

__all__ = ["claim", "CLAIMS_LOG_ENV"]

#: Environment variable naming the JSON-lines file that claims are recorded in (unset: not recorded).
CLAIMS_LOG_ENV = "LESSONLIB_CLAIMS_LOG"


def _record(name: str, value: float, low: float | None, high: float | None) -> None:
    path = os.environ.get(CLAIMS_LOG_ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"name": name, "value": value, "low": low, "high": high}) + "\n")


def claim(name: str, value: float, low: float | None = None, high: float | None = None) -> None:
    """Assert low < value < high for a machine-dependent number; record it for the spread tool.

    ``low`` or ``high`` may be None (no bound on that side).
    """
    if low is None and high is None:
        raise ValueError(f"claim {name!r} needs a bound: give low, high or both.")
    low = None if low is None else real_number(low, "low", allow_inf=True)
    high = None if high is None else real_number(high, "high", allow_inf=True)
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"claim {name!r}: the value must be a number, got {type(value).__name__}.") from None
    _record(name, v, low, high)
    bounds = f"{'-inf' if low is None else low} < value < {'inf' if high is None else high}"
    if math.isnan(v) or (low is not None and not v > low) or (high is not None and not v < high):
        raise AssertionError(
            f"claim {name!r} does not hold: the value is {v:.6g}, the text relies on {bounds}. "
            "If the model changed, re-measure the spread (python3 course.py spread) and update the text and bounds."
        )
