"""Exercise checkers for notebook 08 (flows on images), with hints for the usual mistakes.

1. ``check_bits_per_dim``: an NLL in nats per image, as bits per dimension.
2. ``check_preprocessing_log_det``: the log-det the scaling + logit preprocessing adds to log p(y).
3. ``check_honest_number``: which of three bits/dim numbers a paper should report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from lessonlib.checks import (
    AnswerProblem,
    CheckResult,
    checker,
    compare,
    hint_if,
    hint_if_equal,
    read_array,
    read_choice,
    read_number,
)

__all__ = [
    "NLL_NATS",
    "N_PIXELS",
    "bits_per_dim_answer",
    "check_bits_per_dim",
    "PIXELS",
    "LEVELS",
    "ALPHA",
    "preprocessing_log_det",
    "check_preprocessing_log_det",
    "HONEST",
    "check_honest_number",
]

# ----------------------------------------------------------------------------------------------
# Exercise 1: nats per image -> bits per dimension
# ----------------------------------------------------------------------------------------------

#: The NLL of the exercise, in nats per 8x8 image, and the number of pixels.
NLL_NATS: float = 98.5
N_PIXELS: int = 64


def bits_per_dim_answer(nll_nats: float = NLL_NATS, n_pixels: int = N_PIXELS) -> float:
    """bits/dim = NLL / (D ln 2)."""
    return nll_nats / (n_pixels * math.log(2))


@checker("bits per dimension")
def check_bits_per_dim(answer: Any, nll_nats: float = NLL_NATS, n_pixels: int = N_PIXELS) -> CheckResult:
    """Check the bits per dimension of an NLL of ``nll_nats`` nats per image of ``n_pixels`` pixels."""
    ln2, d = math.log(2), n_pixels
    hints = [
        hint_if_equal(
            lambda _: nll_nats / ln2,
            "that is bits per IMAGE: divide by the number of pixels too, "
            f"so models of images of different sizes can be compared ({d} pixels here).",
        ),
        hint_if_equal(
            lambda _: nll_nats / d,
            "that is nats per pixel: one more step, a nat is 1/ln 2 = 1.443 bits, so divide by ln 2.",
        ),
        hint_if_equal(
            lambda _: nll_nats * ln2 / d,
            "you multiplied by ln 2: a bit is the smaller unit "
            "(ln 2 = 0.693 nats), so a length in bits is the larger number; divide by ln 2.",
        ),
        hint_if_equal(
            lambda _: nll_nats / (d * math.log(10)), "ln 10 turns nats into digits (bans), not bits: use ln 2."
        ),
        hint_if_equal(
            lambda _: nll_nats / (d * math.log2(math.e)),
            "log2(e) = 1/ln 2: dividing by it multiplies by ln 2. Divide by ln 2 itself.",
        ),
        hint_if_equal(lambda _: nll_nats / ((d - 1) * ln2), "count every pixel: an 8x8 image has 64 dimensions."),
    ]
    want = bits_per_dim_answer(nll_nats, n_pixels)
    return compare("bits per dimension", read_number(answer), want, rtol=0, atol=5e-3, hints=hints, unit="bits/dim")


# ----------------------------------------------------------------------------------------------
# Exercise 2: the log-det of the scaling + logit preprocessing
# ----------------------------------------------------------------------------------------------

#: A two-pixel dequantised image, the number of grey levels and RealNVP's alpha.
PIXELS: tuple[float, float] = (0.5, 12.3)
LEVELS: int = 17
ALPHA: float = 0.05


def _per_pixel(
    y: np.ndarray, levels: float, alpha: float, scale: bool = True, use_alpha: bool = True, logit_sign: float = -1.0
) -> np.ndarray:
    """log|dz/dy| per pixel for z = logit(s), s = alpha + (1 - 2 alpha) y / levels (or a mistaken variant)."""
    a = alpha if use_alpha else 0.0
    s = a + (1 - 2 * a) * y / levels
    return (np.log((1 - 2 * a) / levels) if scale else 0.0) + logit_sign * (np.log(s) + np.log1p(-s))


def preprocessing_log_det(pixels: Sequence[float] = PIXELS, levels: int = LEVELS, alpha: float = ALPHA) -> float:
    """log|det J| of y -> z = logit(alpha + (1 - 2 alpha) y / L), summed over the pixels (the density direction)."""
    return float(_per_pixel(np.asarray(pixels, dtype=np.float64), levels, alpha).sum())


@checker("log-det of the preprocessing")
def check_preprocessing_log_det(
    answer: Any, pixels: Sequence[float] = PIXELS, levels: int = LEVELS, alpha: float = ALPHA
) -> CheckResult:
    """Check the log-det the preprocessing adds to log p(y) for the image ``pixels`` (one number)."""
    name = "log-det of the preprocessing"
    y = np.asarray(pixels, dtype=np.float64)
    per = _per_pixel(y, levels, alpha)
    one_sided = alpha + (1 - alpha) * y / levels  # RealNVP's s, which section 4 sets beside this one
    if (
        (isinstance(answer, (list, tuple)) or hasattr(answer, "shape"))
        and getattr(answer, "ndim", 1) == 1
        and len(answer) == len(y)
    ):
        terms = read_array(answer)  # one term per pixel (a ragged list is refused here, by name)
        right = np.allclose(terms, per, atol=5e-3)
        what = "these are the right terms, one per pixel" if right else f"you gave {len(y)} numbers, one per pixel"
        raise AnswerProblem(f"{what}: the log-det of the whole image is their sum, one number.")
    answer = read_number(answer)
    hints = [
        hint_if_equal(
            lambda _: _per_pixel(y, levels, alpha, scale=False).sum(),
            "the logit's part is right, but the scaling y -> alpha + (1 - 2 alpha) y / L has a log-det too: "
            "add log((1 - 2 alpha) / L) for every pixel.",
        ),
        hint_if_equal(
            lambda _: float(len(y) * np.log((1 - 2 * alpha) / levels)),
            "that is only the scaling's part: the logit stretches too, by 1 / (s (1 - s)) at s.",
        ),
        hint_if_equal(
            lambda _: _per_pixel(y, levels, alpha, use_alpha=False).sum(),
            "you left out alpha: s = alpha + (1 - 2 alpha) y / L, which keeps s away from 0 and 1.",
        ),
        hint_if_equal(
            lambda _: _per_pixel(y, levels - 1, alpha).sum(),
            "grey levels 0..16 are 17 values: after dequantisation y lies in [0, 17), so divide by L = 17.",
        ),
        hint_if_equal(
            lambda w: -w,
            "that is the log-det of the other direction, from logit space back to pixels. "
            "log p(y) needs the direction the density takes, y -> z: log|dz/dy|, where the logit "
            "stretches (1 / (s (1 - s)) >= 4) and the scaling shrinks ((1 - 2 alpha) / L).",
        ),
        hint_if_equal(
            lambda _: float(np.sum(np.log((1 - alpha) / levels) - np.log(one_sided) - np.log1p(-one_sided))),
            "that is RealNVP's one-sided form, s = alpha + (1 - alpha) y / L. This notebook's PixelLogit keeps away "
            "from both ends: s = alpha + (1 - 2 alpha) y / L, whose scaling has the factor (1 - 2 alpha) / L.",
        ),
        hint_if_equal(
            lambda _: _per_pixel(y, levels, alpha, logit_sign=1.0).sum(),
            "the logit's derivative is 1 / (s (1 - s)), so its log is MINUS (log s + log(1 - s)).",
        ),
    ]
    return compare(name, answer, float(per.sum()), rtol=0, atol=5e-3, hints=hints, unit="nats")


# ----------------------------------------------------------------------------------------------
# Exercise 3: which number is honest?
# ----------------------------------------------------------------------------------------------

#: The honest choice among the three of the exercise.
HONEST: str = "C"

_WHY_NOT = {
    "A": "the training images are the ones the parameters were fitted to: a model that memorised them would "
    "score wonderfully there and say nothing about new digits. The training number measures fit, not "
    "generalisation.",
    "B": "the validation images chose the model (the step to keep). Picking the best of many checkpoints on "
    "a set makes that set's number optimistic: it was used to decide. An untouched set, measured once, "
    "is the honest estimate.",
}


@checker("the honest number")
def check_honest_number(answer: Any, honest: str = HONEST) -> CheckResult:
    """Answer "A", "B" or "C": which bits/dim estimates how the model does on digits it has never seen."""
    name = "the honest number"
    got = read_choice(answer, ("A", "B", "C"))
    hint = _WHY_NOT.get(got, "")
    return compare(name, float(got == honest), 1.0, hints=[hint_if(lambda g, w: True, hint)])
