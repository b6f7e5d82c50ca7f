"""Checkers for notebook 01's exercises: they say what is wrong and, for the usual mistakes, why.

Each checker takes the learner's answer (a number or a function of a numpy array), compares it
with the reference through ``lessonlib.checks.compare`` and, for function answers, also reports
what the learner's density integrates to: the fastest clue to a missing or inverted factor.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from lessonlib.checks import CheckResult, Hint, checker, compare, hint_if_equal, read_number, values_of
from lessonlib.cov1d import Exponential, Normal, integrate

__all__ = [
    "check_decreasing_affine_density",
    "check_lognormal_logpdf",
    "check_interval_mass",
    "check_inverse_cdf_map",
    "EX1_SLOPE",
    "EX1_SHIFT",
    "EX4_RATE",
]

EX1_SLOPE, EX1_SHIFT = -2.0, 1.0  # exercise 1: X = -2 Z + 1, Z ~ Normal(0, 1)
EX4_RATE = 2.0  # exercise 4: Uniform(0, 1) -> Exponential(rate 2)

_N = Normal(0.0, 1.0)


def _with_integral(result: CheckResult, total: float, inverse: str, what: str = "density") -> CheckResult:
    """A wrong answer's message, with what the learner's density integrates to: a clue to a missing or inverted
    factor, or, when it integrates to 1, a sign that the probability sits in the wrong place (``inverse``)."""
    if result.passed or not math.isfinite(total):
        return result
    if abs(total - 1) < 1e-3:
        note = (
            f"Your {what} integrates to 1, as a density must: the amount of probability is right but it sits in "
            f"the wrong place, so check the inverse, {inverse}."
        )
    else:
        note = f"Your {what} integrates to {total:.3g}; a density integrates to 1."
    return CheckResult(result.name, False, f"{result.message} ({note})")


def _same(values: np.ndarray, message: str) -> Hint:
    """A hint for the mistake whose values on the exercise's grid are ``values``."""
    return hint_if_equal(lambda want: values, message)


# -- exercise 1: a decreasing affine map -----------------------------------------------------
def ex1_reference(x: np.ndarray) -> np.ndarray:
    """p_X(x) = p_Z((x - 1) / -2) / |-2|."""
    return _N.pdf((x - EX1_SHIFT) / EX1_SLOPE) / abs(EX1_SLOPE)


@checker("density of X = -2Z + 1")
def check_decreasing_affine_density(density: Callable[[np.ndarray], np.ndarray] | None) -> CheckResult:
    """Exercise 1: the density of X = -2 Z + 1 for Z ~ Normal(0, 1), as a function of x."""
    name = "density of X = -2Z + 1"
    x = np.linspace(-9.0, 11.0, 801)
    _, got = values_of(density, x)
    a, b = EX1_SLOPE, EX1_SHIFT
    z = (x - b) / a
    hints = [
        hint_if_equal(
            lambda want: -want,
            "your density is negative everywhere: f'(z) = -2 is negative, and the formula divides by |f'(z)|, its absolute value.",
        ),
        hint_if_equal(
            lambda want: want * a * a,
            "you multiplied by |f'(z)| = 2 instead of dividing by it: stretching by 2 must dilute the density.",
        ),
        hint_if_equal(lambda want: -want * a * a, "you multiplied by f'(z) = -2 instead of dividing by |f'(z)|."),
        hint_if_equal(
            lambda want: want * abs(a),
            "the factor 1/|f'(z)| is missing: the map stretches the axis by 2, so the density must be halved.",
        ),
        _same(_N.pdf(x) / abs(a), "you evaluated p_Z at x itself; first go back to z = f⁻¹(x) = (x - 1) / (-2)."),
        _same(
            _N.pdf(a * x + b) / abs(a),
            "you evaluated p_Z at f(x) = -2x + 1; the density needs the inverse, z = (x - 1) / (-2).",
        ),
        _same(
            _N.pdf((x + b) / a) / abs(a),
            "check the inverse: from x = -2z + 1 you get z = (x - 1) / (-2), with x MINUS 1.",
        ),
        _same(
            _N.pdf(x / a + b) / abs(a),
            "check the inverse: undo the map in reverse order, first subtract the shift, then divide by the slope: "
            "z = (x - 1) / (-2), not x / (-2) + 1.",
        ),
        _same(_N.pdf(z) / a, "your density is negative: divide by |f'(z)| = 2, not by f'(z) = -2."),
        _same(
            np.exp(-(z**2) / 2) / abs(a),
            "the normal density's constant is missing: p_Z(z) = exp(-z^2 / 2) / sqrt(2 pi), so the area under yours is sqrt(2 pi).",
        ),
        _same(
            _N.pdf(x),
            "that is p_Z(x), the base density itself, as if the map were the identity: go back to "
            "z = f⁻¹(x) = (x - 1) / (-2), then divide by |f'(z)| = 2.",
        ),
    ]
    result = compare(name, got, ex1_reference(x), rtol=1e-6, hints=hints)
    total = float(np.sum(got) * (x[1] - x[0])) if np.all(np.isfinite(got)) else float("nan")
    return _with_integral(result, total, "z = f⁻¹(x) = (x - 1) / (-2)")


# -- exercise 2: the log-normal's log-density -------------------------------------------------
def ex2_reference(x: np.ndarray) -> np.ndarray:
    """log p_X(x) = log p_Z(log x) - log x, for X = exp(Z), Z ~ Normal(0, 1)."""
    return _N.logpdf(np.log(x)) - np.log(x)


@checker("log p_X(x) for X = exp(Z)")
def check_lognormal_logpdf(log_density: Callable[[np.ndarray], np.ndarray] | None) -> CheckResult:
    """Exercise 2: log p_X(x) for X = exp(Z), Z ~ Normal(0, 1), written with the log-det term."""
    name = "log p_X(x) for X = exp(Z)"
    x = np.geomspace(0.05, 20.0, 400)
    _, got = values_of(log_density, x)
    lx = np.log(x)
    with np.errstate(over="ignore"):
        applied_f = _N.logpdf(np.exp(x)) - x
    hints = [
        _same(
            _N.logpdf(lx) + lx,
            "the log-det has the wrong sign: log p_X(x) = log p_Z(z) MINUS log|f'(z)|, and log|f'(z)| = log x here.",
        ),
        _same(_N.logpdf(lx), "the log-det term is missing: subtract log|f'(z)| = z = log x."),
        _same(_N.logpdf(x) - lx, "you evaluated log p_Z at x; first go back to z = f⁻¹(x) = log x."),
        _same(applied_f, "you applied f = exp to x; the density needs the inverse, z = log x."),
        _same(_N.pdf(lx) / x, "that is p_X(x) itself; the exercise asks for its logarithm."),
        _same(_N.logpdf(lx) - x, "you subtracted x; the log-det is log|f'(z)| = log e^z = z = log x."),
        _same(
            _N.logpdf(x),
            "that is log p_Z(x), the base's log-density itself, as if the map were the identity: go back "
            "to z = log x, then subtract the log-det log|f'(z)| = log x.",
        ),
    ]
    result = compare(name, got, ex2_reference(x), rtol=1e-6, atol=1e-8, hints=hints)
    if result.passed or not np.all(np.isfinite(got)):
        return result
    try:
        with np.errstate(all="ignore"):
            total = integrate(lambda t: np.exp(values_of(log_density, t)[1]), 1e-6, 1e4, pieces=60, log_spaced=True)
    except Exception:  # noqa: BLE001 - only the extra clue is lost
        return result
    return _with_integral(result, total, "z = f⁻¹(x) = log x", "density exp(log p_X)")


# -- exercise 3: an interval and its image ----------------------------------------------------
def ex3_reference() -> float:
    """P(1 < X < e) for X = exp(Z) equals P(0 < Z < 1) = Phi(1) - Phi(0)."""
    return float(_N.cdf(np.array([1.0]))[0] - _N.cdf(np.array([0.0]))[0])


@checker("P(1 < X < e)")
def check_interval_mass(p: float | None) -> CheckResult:
    """Exercise 3: P(1 < X < e) for X = exp(Z), Z ~ Normal(0, 1)."""
    name = "P(1 < X < e)"
    want = ex3_reference()
    cdf = lambda t: float(_N.cdf(np.array([t]))[0])  # noqa: E731
    hints = [
        hint_if_equal(
            lambda w: cdf(math.e) - cdf(1.0),
            "you put the x-interval [1, e] into the CDF of Z; map the ends back first: z = log 1 = 0 and z = log e = 1.",
        ),
        hint_if_equal(lambda w: cdf(1.0), "that is P(Z < 1); the interval also has a lower end, z = log 1 = 0."),
        hint_if_equal(lambda w: 1.0 - w, "that is the probability of being OUTSIDE the interval."),
        hint_if_equal(
            lambda w: float(_N.pdf(np.array([0.5]))[0]) * (math.e - 1) / math.exp(0.5),
            "a density times a width is only an approximation; use the CDF of Z at the mapped ends.",
        ),
        hint_if_equal(
            lambda w: float(_N.pdf(np.array([0.5]))[0]),
            "a density value is not a probability; use the CDF of Z at the mapped ends.",
        ),
    ]
    return compare(name, read_number(p), want, rtol=2e-4, atol=1e-6, hints=hints)  # four decimals are enough


# -- exercise 4: the inverse-CDF map ----------------------------------------------------------
@checker("map from Uniform(0, 1) to Exponential(2)")
def check_inverse_cdf_map(g: Callable[[np.ndarray], np.ndarray] | None) -> CheckResult:
    """Exercise 4: a map g with g(U) ~ Exponential(rate 2) for U ~ Uniform(0, 1)."""
    name = "map from Uniform(0, 1) to Exponential(2)"
    target = Exponential(EX4_RATE)
    u = np.linspace(0.001, 0.999, 999)
    _, got = values_of(g, u, what="a function of u (def ... or lambda u: ...)")
    want = target.ppf(u)
    if got.shape == want.shape and np.allclose(got, want[::-1], rtol=1e-6, atol=1e-9):
        return CheckResult(
            name,
            True,
            "✅ " + name + ": correct, and decreasing: 1 - U is Uniform too, so -log(U) / 2 works as well; "
            "a decreasing map is as good as an increasing one, the absolute value in the formula takes care of it.",
        )
    r = EX4_RATE
    hints = [
        _same(
            -r * np.log1p(-u),
            "you multiplied by the rate; F⁻¹(u) = -log(1 - u) / rate divides by it (a rate of 2 means a mean of 1/2).",
        ),
        _same(
            np.log1p(-u) / r,
            "your values are negative: an exponential variable is positive, -log(1 - u) / rate has a minus sign.",
        ),
        _same(-np.expm1(-r * u), "that is the CDF F(u) = 1 - exp(-rate u); the sampler needs its inverse, F⁻¹(u)."),
        _same(
            r * np.exp(-r * u),
            "that is the density p(u); the sampler needs the inverse of the CDF, F⁻¹(u) = -log(1 - u) / rate.",
        ),
        _same(-np.log1p(-u), "the rate is missing: that samples Exponential(1), whose mean is 1, not 1/2."),
        _same(
            u,
            "that is u itself, the identity map: it leaves Uniform(0, 1) as it is. Apply the inverse CDF of the "
            "target, F⁻¹(u) = -log(1 - u) / rate.",
        ),
    ]
    return compare(name, got, want, rtol=1e-6, hints=hints)
