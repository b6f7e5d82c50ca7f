"""Notebook 08's checkers: right answers pass, and each plausible wrong answer gets its own hint."""

import math

import numpy as np
import pytest

from lessonlib.lessons.l08_images.exercises import (
    ALPHA,
    HONEST,
    LEVELS,
    NLL_NATS,
    PIXELS,
    bits_per_dim_answer,
    check_bits_per_dim,
    check_honest_number,
    check_preprocessing_log_det,
    preprocessing_log_det,
)


def test_check_bits_per_dim_accepts_the_answer():
    assert bits_per_dim_answer() == pytest.approx(2.2204, abs=1e-4)
    assert check_bits_per_dim(NLL_NATS / (64 * math.log(2)))
    assert check_bits_per_dim(2.2204)  # rounded to 4 decimals
    assert "not attempted" in check_bits_per_dim(None).message


@pytest.mark.parametrize(
    "wrong,hint",
    [
        (NLL_NATS / math.log(2), "bits per IMAGE"),
        (NLL_NATS / 64, "nats per pixel"),
        (NLL_NATS * math.log(2) / 64, "multiplied by ln 2"),
        (NLL_NATS / (64 * math.log(10)), "ln 10"),
        (NLL_NATS / 63 / math.log(2), "64 dimensions"),
        (-NLL_NATS / (64 * math.log(2)), "wrong sign"),
        (3.0, "Re-read the formula"),
        ("two point two", "expected a number"),
    ],
)
def test_check_bits_per_dim_explains_wrong_answers(wrong, hint):
    result = check_bits_per_dim(wrong)
    assert not result and hint in result.message and "Traceback" not in result.message


def _per_pixel(levels=LEVELS, alpha=ALPHA, scale=True, sign=-1.0):
    y = np.array(PIXELS)
    s = alpha + (1 - 2 * alpha) * y / levels
    return (math.log((1 - 2 * alpha) / levels) if scale else 0.0) + sign * (np.log(s) + np.log1p(-s))


def test_check_preprocessing_log_det_accepts_the_answer():
    want = float(_per_pixel().sum())
    assert preprocessing_log_det() == pytest.approx(want) == pytest.approx(-1.6638, abs=1e-4)
    assert check_preprocessing_log_det(want)
    assert check_preprocessing_log_det(round(want, 3))
    assert "not attempted" in check_preprocessing_log_det(None).message


def _one_sided(levels=LEVELS, alpha=ALPHA):
    """RealNVP's logit(alpha + (1 - alpha) y / L), per pixel: log|dz/dy|."""
    s = alpha + (1 - alpha) * np.array(PIXELS) / levels
    return math.log((1 - alpha) / levels) - np.log(s) - np.log1p(-s)


@pytest.mark.parametrize(
    "wrong,hint",
    [
        (_per_pixel(), "right terms, one per pixel"),  # per pixel, not summed
        (list(_per_pixel() + 1), "one per pixel: the log-det of the whole image is their sum"),
        (float(_per_pixel(scale=False).sum()), "has a log-det too"),  # the scaling forgotten
        (2 * math.log(0.9 / 17), "only the scaling"),  # the logit forgotten
        (float(_per_pixel(alpha=0.0).sum()), "left out alpha"),
        (float(_per_pixel(levels=16).sum()), "L = 17"),
        (-float(_per_pixel().sum()), "other direction"),
        (float(_per_pixel(sign=1.0).sum()), "MINUS"),
        (float(_one_sided().sum()), "RealNVP's one-sided form"),  # the form section 4 sets beside it
        (0.0, "Re-read the formula"),
    ],
)
def test_check_preprocessing_log_det_explains_wrong_answers(wrong, hint):
    result = check_preprocessing_log_det(wrong)
    assert not result and hint in result.message, result.message


def test_check_honest_number():
    assert check_honest_number(HONEST) and check_honest_number(" c ")
    assert "not attempted" in check_honest_number(None).message
    a, b = check_honest_number("A"), check_honest_number("b")
    assert not a and "measures fit" in a.message
    assert not b and "chose the model" in b.message or "used to decide" in b.message
    for nonsense in ("D", 3, "test", ["C"]):
        r = check_honest_number(nonsense)
        assert not r and '"A", "B" or "C"' in r.message
