"""Exercise checkers of notebook 07 accept the right answers and name the typical wrong ones."""

import math

import pytest
import torch

from lessonlib.lessons.l07_splines.exercises import (
    BIN,
    COUNT_SETUP,
    bin_density_reference,
    bin_inverse_reference,
    check_bin_density,
    check_bin_inverse,
    check_spline_parameters,
    spline_parameters_reference,
)
from lessonlib.splines import SplineCoupling

S = 1.5  # the bin's average slope h / w
PZ = math.exp(-2.0) / math.sqrt(2 * math.pi)  # the base density at the midpoint z = 2
SLOPE = 4 * S**2 / (2 * S + BIN["d_k"] + BIN["d_k1"])  # f' at the midpoint, by hand: 1.2


def by_hand_root() -> tuple[float, float]:
    """The bin's quadratic at x = 2, by hand: (xi in [0, 1], the other root)."""
    h, d0, d1, dx = 3.0, BIN["d_k"], BIN["d_k1"], 2.0 - BIN["x_k"]
    a, b, c = h * (S - d0) + dx * (d0 + d1 - 2 * S), h * d0 - dx * (d0 + d1 - 2 * S), -S * dx
    r = math.sqrt(b * b - 4 * a * c)
    return 2 * c / (-b - r), (-b - r) / (2 * a)


# --- exercise 1: a bin's density by hand ------------------------------------------------------------


def test_check_bin_density_accepts_the_hand_computation():
    assert math.isclose(bin_density_reference(), PZ / SLOPE, rel_tol=1e-12)
    r = check_bin_density(PZ / SLOPE)
    assert r and "correct" in r.message
    assert check_bin_density(round(PZ / SLOPE, 5)), "five decimals are enough"


def test_check_bin_density_not_attempted():
    r = check_bin_density(None)
    assert not r and "not attempted" in r.message


@pytest.mark.parametrize(
    "wrong,words",
    [
        (PZ * SLOPE, "multiplied by f'"),
        (PZ / S, "average slope h / w"),
        (PZ / (0.5 * (BIN["d_k"] + BIN["d_k1"])), "mean of the two knot derivatives"),
        (math.exp(-0.5 * 1.3**2) / math.sqrt(2 * math.pi) / SLOPE, "base density at x"),  # x = f(2) = 1.3
        (math.log(PZ / SLOPE), "log p_X"),
        (PZ, "p_Z(2), the base density"),
    ],
)
def test_check_bin_density_names_the_mistake(wrong, words):
    r = check_bin_density(wrong)
    assert not r and words in r.message, r.message


def test_check_bin_density_other_wrong_answers_get_the_generic_advice():
    assert "Re-read the formula" in check_bin_density(0.1).message
    assert "wrong sign" in check_bin_density(-PZ / SLOPE).message
    assert "NaN" in check_bin_density(float("nan")).message
    assert "expected a number" in check_bin_density({"p": 0.04}).message


# --- exercise 2: inverting one bin ----------------------------------------------------------------


def test_check_bin_inverse_accepts_the_hand_computation():
    xi, _ = by_hand_root()
    assert math.isclose(bin_inverse_reference(), BIN["z_k"] + 2.0 * xi, rel_tol=1e-12)
    assert check_bin_inverse(BIN["z_k"] + 2.0 * xi)
    assert not check_bin_inverse(None) and "not attempted" in check_bin_inverse(None).message


@pytest.mark.parametrize(
    "wrong,words",
    [
        (by_hand_root()[0], "that is xi"),
        (2.0 * by_hand_root()[0], "forgot the bin's left end"),
        (BIN["z_k"] + 2.0 * by_hand_root()[1], "other root"),
        (by_hand_root()[1], "other root"),
        (BIN["z_k"] + (2.0 - BIN["x_k"]) / S, "straight line between the knots"),
        (1.3, "forward map"),  # f(2.0)
    ],
)
def test_check_bin_inverse_names_the_mistake(wrong, words):
    r = check_bin_inverse(wrong)
    assert not r and words in r.message, r.message


def test_check_bin_inverse_round_trips_through_the_library():
    from lessonlib.lessons.l07_splines.exercises import bin_knots
    from lessonlib.splines import rq_spline

    x, _ = rq_spline(torch.tensor(bin_inverse_reference(), dtype=torch.float64), bin_knots())
    assert math.isclose(float(x), 2.0, rel_tol=1e-12)


# --- exercise 3: counting parameters --------------------------------------------------------------


def test_check_spline_parameters_accepts_the_count():
    n = (2 * 32 + 32) + (32 * 32 + 32) + (32 * 4 * 29 + 4 * 29)
    assert spline_parameters_reference() == n == 4980
    layer = SplineCoupling(
        torch.tensor([1.0, 1, 0, 0, 0, 0]), hidden=COUNT_SETUP["hidden"], n_bins=COUNT_SETUP["n_bins"]
    )
    assert sum(p.numel() for p in layer.parameters()) == n
    assert check_spline_parameters(n) and not check_spline_parameters(None)


@pytest.mark.parametrize(
    "wrong,words",
    [
        (96 + 1056 + 32 * 4 * 31 + 4 * 31, "3K + 1"),
        (96 + 1056 + 32 * 4 * 30 + 4 * 30, "3K numbers"),
        (64 + 1024 + 32 * 4 * 29, "weights only"),
        (6 * 32 + 32 + 1056 + 32 * 4 * 29 + 4 * 29, "whole masked vector"),
        (6 * 32 + 32 + 1056 + 32 * 6 * 29 + 6 * 29, "notebook 04's style"),
        (96 + 1056 + 32 * 6 * 29 + 6 * 29, "outputs spline numbers for all 6"),
        (96 + 32 * 4 * 29 + 4 * 29, "left out a hidden layer"),
    ],
)
def test_check_spline_parameters_names_the_mistake(wrong, words):
    r = check_spline_parameters(wrong)
    assert not r and words in r.message, r.message
