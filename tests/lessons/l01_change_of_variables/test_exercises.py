"""Notebook 01's exercise checkers: the right answer passes, the typical wrong answers get their hint."""

import math

import numpy as np

from lessonlib.cov1d import Normal
from lessonlib.lessons.l01_change_of_variables import exercises as ex

N = Normal()


def test_check_decreasing_affine_density():
    right = lambda x: N.pdf((x - 1) / -2) / 2  # noqa: E731
    assert ex.check_decreasing_affine_density(right)
    assert "not attempted" in ex.check_decreasing_affine_density(None).message
    cases = {
        "absolute value": lambda x: N.pdf((x - 1) / -2) / -2,
        "multiplied by |f'(z)| = 2": lambda x: N.pdf((x - 1) / -2) * 2,
        "factor 1/|f'(z)| is missing": lambda x: N.pdf((x - 1) / -2),
        "p_Z at x itself": lambda x: N.pdf(x) / 2,
        "x MINUS 1": lambda x: N.pdf((x + 1) / -2) / 2,
        "constant is missing": lambda x: np.exp(-(((x - 1) / -2) ** 2) / 2) / 2,
        "raised": lambda x: math.exp(x),
    }
    for words, wrong in cases.items():
        r = ex.check_decreasing_affine_density(wrong)
        assert not r and words in r.message, (words, r.message)
    r = ex.check_decreasing_affine_density(lambda x: N.pdf((x - 1) / -2) * 2)
    assert "integrates to 4" in r.message
    assert "integrates to -1" in ex.check_decreasing_affine_density(lambda x: N.pdf((x - 1) / -2) / -2).message


def test_check_lognormal_logpdf():
    assert ex.check_lognormal_logpdf(lambda x: N.logpdf(np.log(x)) - np.log(x))
    cases = {
        "wrong sign": lambda x: N.logpdf(np.log(x)) + np.log(x),
        "log-det term is missing": lambda x: N.logpdf(np.log(x)),
        "at x; first go back": lambda x: N.logpdf(x) - np.log(x),
        "asks for its logarithm": lambda x: N.pdf(np.log(x)) / x,
    }
    for words, wrong in cases.items():
        r = ex.check_lognormal_logpdf(wrong)
        assert not r and words in r.message, (words, r.message)
    assert "integrates to 1.65" in ex.check_lognormal_logpdf(lambda x: N.logpdf(np.log(x))).message


def test_check_interval_mass():
    phi = lambda t: float(N.cdf(np.array([t]))[0])  # noqa: E731
    assert ex.check_interval_mass(phi(1.0) - phi(0.0))
    assert ex.check_interval_mass(round(phi(1.0) - phi(0.0), 4))
    assert "not attempted" in ex.check_interval_mass(None).message
    assert "map the ends back" in ex.check_interval_mass(phi(math.e) - phi(1.0)).message
    assert "lower end" in ex.check_interval_mass(phi(1.0)).message
    assert "OUTSIDE" in ex.check_interval_mass(1 - (phi(1.0) - phi(0.0))).message


def test_check_inverse_cdf_map():
    assert ex.check_inverse_cdf_map(lambda u: -np.log(1 - u) / 2)
    decreasing = ex.check_inverse_cdf_map(lambda u: -np.log(u) / 2)
    assert decreasing and "decreasing" in decreasing.message
    cases = {
        "multiplied by the rate": lambda u: -2 * np.log(1 - u),
        "negative": lambda u: np.log(1 - u) / 2,
        "that is the CDF": lambda u: 1 - np.exp(-2 * u),
        "rate is missing": lambda u: -np.log(1 - u),
    }
    for words, wrong in cases.items():
        r = ex.check_inverse_cdf_map(wrong)
        assert not r and words in r.message, (words, r.message)


# --- every checker: odd answers, rounded answers, answers in other types -------------------------------


def test_check_decreasing_affine_density_reads_any_array_and_explains_bad_functions():
    right = lambda x: N.pdf((x - 1) / -2) / 2  # noqa: E731
    assert ex.check_decreasing_affine_density(lambda x: list(right(x)))
    assert ex.check_decreasing_affine_density(lambda x: right(x).astype(np.float32))
    cases = {
        "did you forget the return": lambda x: None,
        "to return one number per point, got the text": lambda x: "p",
        r"one value per point": lambda x: np.zeros(3),
        "NaN or infinity": lambda x: x * np.nan,
    }
    for words, wrong in cases.items():
        r = ex.check_decreasing_affine_density(wrong)
        assert not r and words in r.message, (words, r.message)
    for not_a_function in ("abc", 0.5, np.zeros(801)):
        r = ex.check_decreasing_affine_density(not_a_function)
        assert not r and "expected a function" in r.message and "not attempted" not in r.message, r.message
    assert "p_Z at f(x)" in ex.check_decreasing_affine_density(lambda x: N.pdf(-2 * x + 1) / 2).message
    assert "dividing by it" in ex.check_decreasing_affine_density(lambda x: N.pdf((x - 1) / -2) * 2).message


def test_check_lognormal_logpdf_more_mistakes():
    cases = {
        "applied f = exp to x": lambda x: N.logpdf(np.exp(x)) - x,
        "you subtracted x": lambda x: N.logpdf(np.log(x)) - x,
        "NaN or infinity": lambda x: np.log(x - 1.0),
    }
    for words, wrong in cases.items():
        r = ex.check_lognormal_logpdf(wrong)
        assert not r and words in r.message, (words, r.message)


def test_check_interval_mass_rounded_sign_flipped_and_other_types():
    import torch

    phi = lambda t: float(N.cdf(np.array([t]))[0])  # noqa: E731
    right = phi(1.0) - phi(0.0)
    r = ex.check_interval_mass(round(right, 2))
    assert not r and "Right idea, give more digits" in r.message and "Re-read" not in r.message
    assert ex.check_interval_mass([right]) and ex.check_interval_mass(torch.tensor(right, dtype=torch.float32))
    assert "wrong sign" in ex.check_interval_mass(-right).message
    assert "not a probability" in ex.check_interval_mass(float(N.pdf(np.array([0.5]))[0])).message
    r = ex.check_interval_mass(round(1 - right, 2))  # a known mistake, rounded
    assert "OUTSIDE" in r.message and "give more digits too" in r.message
    for odd, words in (("0.34", "without quotes"), (True, "got True"), ([0.3, 0.4], "one number")):
        r = ex.check_interval_mass(odd)
        assert not r and words in r.message, r.message


def test_check_inverse_cdf_map_more_mistakes():
    import torch

    assert ex.check_inverse_cdf_map(lambda u: -torch.log1p(-torch.as_tensor(u)) / 2)
    assert "density p(u)" in ex.check_inverse_cdf_map(lambda u: 2 * np.exp(-2 * u)).message
    assert "raised" in ex.check_inverse_cdf_map(lambda u: u.nonexistent()).message
