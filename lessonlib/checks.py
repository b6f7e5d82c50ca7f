"""Exercise checkers that explain what is wrong, not a bare assert.

``compare(name, got, want, hints=...)`` returns a CheckResult: truthy when the answer is right,
and displayed in a notebook as one line of feedback (exact / close / wrong, the largest
difference, and a hint when the answer matches a known mistake).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["CheckResult", "compare", "hint_if", "hint_if_equal", "as_array", "NOT_DONE"]

#: Differences below this (relative and absolute) are floating-point noise, whose size varies from CPU to CPU.
ROUNDING = 1e-12

#: What an exercise cell starts with; a checker that sees it says "not attempted yet".
NOT_DONE = None

Hint = tuple[Callable[[np.ndarray, np.ndarray], bool], str]


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check: ``passed`` and a one-line ``message`` for the learner."""

    name: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return self.message

    def _repr_pretty_(self, p, cycle) -> None:  # IPython display
        p.text(self.message)


def as_array(value: Any) -> np.ndarray:
    """A float64 numpy array from a number, list, numpy array or torch tensor."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def hint_if(predicate: Callable[[np.ndarray, np.ndarray], bool], message: str) -> Hint:
    """A hint shown when ``predicate(got, want)`` is true for a wrong answer."""
    return (predicate, message)


def hint_if_equal(transform: Callable[[np.ndarray], np.ndarray], message: str, rtol: float = 1e-4) -> Hint:
    """A hint shown when the wrong answer equals ``transform(want)``: the signature of a known mistake."""

    def pred(got: np.ndarray, want: np.ndarray) -> bool:
        alt = np.asarray(transform(want), dtype=np.float64)
        return alt.shape == got.shape and bool(np.allclose(got, alt, rtol=rtol, atol=1e-9))

    return (pred, message)


_GENERIC_HINTS: Sequence[Hint] = (
    hint_if_equal(lambda w: -w, "Your answer has the right size but the wrong sign: check the sign of each term."),
)


def compare(
    name: str,
    got: Any,
    want: Any,
    *,
    rtol: float = 1e-6,
    atol: float = 1e-9,
    hints: Sequence[Hint] = (),
    unit: str = "",
) -> CheckResult:
    """Compare a learner's answer with the reference and explain the difference.

    Specific ``hints`` are tried first, then generic ones (sign flip). ``unit`` is shown after numbers.
    """
    if got is None or got is Ellipsis:
        return CheckResult(name, False, f"… {name}: not attempted yet. Replace the placeholder with your answer and run the cell again.")
    try:
        g = as_array(got)
    except (TypeError, ValueError):
        return CheckResult(name, False, f"❌ {name}: expected a number or an array, got {type(got).__name__}.")
    w = as_array(want)
    if g.shape != w.shape:
        if g.size == w.size:
            msg = f"shape {g.shape} but the answer has shape {w.shape}; the values may be right, reshape them."
        else:
            msg = f"shape {g.shape} but the answer has shape {w.shape}."
        return CheckResult(name, False, f"❌ {name}: your answer has {msg}")
    if not np.all(np.isfinite(g)):
        return CheckResult(name, False, f"❌ {name}: your answer contains NaN or infinity. A log of zero or a division by zero?")
    diff = float(np.max(np.abs(g - w))) if g.size else 0.0
    u = f" {unit}" if unit else ""
    if np.allclose(g, w, rtol=ROUNDING, atol=ROUNDING):
        # equal, or equal but for the last bits: which of the two depends on the CPU, so say the same thing
        return CheckResult(name, True, f"✅ {name}: correct.")
    if np.allclose(g, w, rtol=rtol, atol=atol):
        return CheckResult(name, True, f"✅ {name}: correct (largest difference {diff:.1e}{u}, within rounding).")
    for pred, message in (*hints, *_GENERIC_HINTS):
        try:
            matched = pred(g, w)
        except Exception:  # a hint that does not apply to this answer's shape simply does not match
            matched = False
        if matched:
            return CheckResult(name, False, f"❌ {name}: not yet (largest difference {diff:.3g}{u}). Hint: {message}")
    return CheckResult(name, False, f"❌ {name}: not yet (largest difference {diff:.3g}{u}). Re-read the formula and try again.")
