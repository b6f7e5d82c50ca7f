"""The 1D change of variables: closed forms, both forms of the formula, mass, refusals."""

import math

import numpy as np
import pytest

from lessonlib.cov1d import (
    AffineMap,
    CDFMap,
    Composed,
    ExpMap,
    Exponential,
    InverseCDFMap,
    Logistic,
    LogNormal,
    MonotoneSpline,
    Normal,
    TanhMap,
    Uniform,
    check_invertible,
    density_without_abs,
    integrate,
    interval_mass_x,
    interval_mass_z,
    pushforward_density,
    pushforward_density_via_forward,
    pushforward_density_via_inverse,
    pushforward_log_density,
    square_density_all_preimages,
    square_density_single_preimage,
)

BASES = [Normal(0.3, 1.2), Logistic(-0.2, 0.7), Uniform(-1.0, 2.0)]
MAPS = [
    AffineMap(3.0, 1.0),
    AffineMap(-2.0, 0.5),
    ExpMap(),
    TanhMap(0.8),
    TanhMap(-0.9, 1.0),
    TanhMap(1.5, 2.0),
    MonotoneSpline(np.linspace(-3, 3, 7), [-4.0, -2.5, -1.0, 0.0, 2.0, 3.0, 5.0]),
    MonotoneSpline([-2.0, -0.5, 0.0, 2.5], [3.0, 2.0, -1.0, -1.5]),
    Composed(CDFMap(Normal()), InverseCDFMap(Logistic())),
]
Z = np.linspace(-2.8, 2.8, 57)


@pytest.mark.parametrize("base", BASES, ids=repr)
def test_base_densities_integrate_to_one_and_cdf_ppf_agree(base):
    lo, hi = (-40.0, 40.0)
    assert integrate(base.pdf, lo, hi, breaks=base.breakpoints(), pieces=40) == pytest.approx(1.0, abs=1e-10)
    u = np.linspace(0.001, 0.999, 99)
    np.testing.assert_allclose(base.cdf(base.ppf(u)), u, atol=1e-12)
    x = base.ppf(u)
    np.testing.assert_allclose(np.log(base.pdf(x)), base.logpdf(x), atol=1e-12)
    # the CDF is the integral of the pdf
    assert integrate(base.pdf, lo, float(x[40]), breaks=base.breakpoints(), pieces=40) == pytest.approx(u[40], abs=1e-9)


def test_known_closed_forms():
    assert Normal().pdf(np.array([0.0]))[0] == pytest.approx(1 / math.sqrt(2 * math.pi))
    assert Normal().cdf(np.array([1.0]))[0] == pytest.approx(0.8413447460685429, abs=1e-14)
    assert Normal().ppf(np.array([0.975]))[0] == pytest.approx(1.959963984540054, abs=1e-12)
    assert Logistic(0, 1).pdf(np.array([0.0]))[0] == pytest.approx(0.25)
    assert Exponential(2.0).ppf(np.array([0.5]))[0] == pytest.approx(math.log(2) / 2)
    assert LogNormal().pdf(np.array([1.0]))[0] == pytest.approx(1 / math.sqrt(2 * math.pi))


@pytest.mark.parametrize("fmap", MAPS, ids=repr)
def test_inverse_of_forward_is_identity_and_derivative_matches_differences(fmap):
    z = Z if fmap.domain == (-math.inf, math.inf) else np.linspace(0.05, 0.95, 19)
    x = fmap.forward(z)
    np.testing.assert_allclose(fmap.inverse(x), z, atol=1e-10)
    h = 1e-6
    numeric = (fmap.forward(z + h) - fmap.forward(z - h)) / (2 * h)
    np.testing.assert_allclose(fmap.derivative(z), numeric, rtol=1e-4, atol=1e-7)  # O(h) at spline knots
    np.testing.assert_allclose(fmap.log_abs_derivative(z), np.log(np.abs(numeric)), atol=1e-4)
    assert np.all(fmap.derivative(z) > 0) == fmap.increasing()
    assert np.all(np.diff(x) > 0) if fmap.increasing() else np.all(np.diff(x) < 0)


@pytest.mark.parametrize("fmap", MAPS, ids=repr)
@pytest.mark.parametrize("base", BASES, ids=repr)
def test_both_forms_agree_and_mass_is_conserved(base, fmap):
    if fmap.domain != (-math.inf, math.inf):
        base = Uniform(0.0, 1.0)
    zs = (
        np.linspace(-0.9, 1.9, 15)
        if isinstance(base, Uniform) and base.a == -1.0
        else base.ppf(np.linspace(0.05, 0.95, 15))
    )
    x = fmap.forward(zs)
    a = pushforward_density_via_inverse(base, fmap, x)
    b = pushforward_density_via_forward(base, fmap, x)
    # the inverse's derivative is a central difference: O(h) accurate where a spline's f'' jumps
    np.testing.assert_allclose(a, b, rtol=1e-4 if isinstance(fmap, MonotoneSpline) else 1e-6)
    np.testing.assert_allclose(b, base.pdf(zs) / np.abs(fmap.derivative(zs)), rtol=1e-12)
    np.testing.assert_allclose(np.log(b), pushforward_log_density(base, fmap, x), atol=1e-10)
    za, zb = float(zs[2]), float(zs[11])
    xa, xb = (float(v) for v in fmap.forward(np.array([za, zb])))
    assert interval_mass_x(base, fmap, xa, xb) == pytest.approx(interval_mass_z(base, za, zb), abs=1e-8)


def test_worked_example_uniform_times_three_plus_one():
    f, base = AffineMap(3.0, 1.0), Uniform(0.0, 1.0)
    x = np.linspace(1.01, 3.99, 50)
    np.testing.assert_allclose(pushforward_density(base, f, x), 1 / 3)
    assert pushforward_density(base, f, np.array([0.5, 4.5])).tolist() == [0.0, 0.0]
    assert integrate(lambda t: pushforward_density(base, f, t), 0.0, 5.0, breaks=[1.0, 4.0]) == pytest.approx(
        1.0, abs=1e-12
    )


def test_exp_of_normal_is_lognormal():
    x = np.geomspace(0.01, 50, 200)
    np.testing.assert_allclose(pushforward_density(Normal(), ExpMap(), x), LogNormal().pdf(x), rtol=1e-12)
    assert pushforward_density(Normal(), ExpMap(), np.array([-1.0, 0.0])).tolist() == [0.0, 0.0]


def test_inverse_cdf_map_pushes_uniform_onto_the_target():
    for target in (Logistic(0.5, 2.0), Exponential(2.0), Normal(1.0, 0.5)):
        f = InverseCDFMap(target)
        x = target.ppf(np.linspace(0.02, 0.98, 30))
        np.testing.assert_allclose(pushforward_density(Uniform(0, 1), f, x), target.pdf(x), rtol=1e-8)


def test_without_abs_a_decreasing_map_gives_minus_one():
    f, base = AffineMap(-2.0, 1.0), Normal()
    bad = integrate(lambda t: density_without_abs(base, f, t), -15, 15)
    good = integrate(lambda t: pushforward_density(base, f, t), -15, 15)
    assert bad == pytest.approx(-1.0, abs=1e-9) and good == pytest.approx(1.0, abs=1e-9)


def test_square_map_single_preimage_loses_half():
    base = Normal()
    one = integrate(lambda t: square_density_single_preimage(base, t), 1e-12, 80, pieces=60, log_spaced=True)
    both = integrate(lambda t: square_density_all_preimages(base, t), 1e-12, 80, pieces=60, log_spaced=True)
    assert one == pytest.approx(0.5, abs=1e-5) and both == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: AffineMap(0.0), "zero slope"),
        (lambda: TanhMap(-1.0), "f'(0) = 1 + a·b = 0"),
        (lambda: TanhMap(-2.0), "folds back"),
        (lambda: MonotoneSpline([0, 1, 2], [0, 1, 1]), "strictly increasing (or strictly decreasing)"),
        (lambda: MonotoneSpline([0, 1, 2], [0, 2, 1]), "turn back or go flat"),
        (lambda: MonotoneSpline([0, 2, 1], [0, 1, 2]), "z positions"),
        (lambda: MonotoneSpline([0, 1], [0, float("nan")]), "finite"),
        (lambda: Uniform(1.0, 1.0), "a < b"),
        (lambda: Normal(0.0, -1.0), "sigma > 0"),
        (lambda: Normal().pdf(np.array([0.0, np.nan])), "NaN"),
        (lambda: check_invertible(np.square), "not one-to-one"),
        (lambda: check_invertible(lambda z: np.minimum(z, 1.0)), "flat"),
    ],
)
def test_bad_input_is_refused_with_the_maths(make, words):
    with pytest.raises(ValueError, match=None) as info:
        make()
    assert words in str(info.value)


def test_check_invertible_accepts_monotone_maps():
    check_invertible(np.exp)
    check_invertible(lambda z: -(z**3) - z)


# --- bad input names its real cause ------------------------------------------------------------------
from lessonlib import cov1d as C  # noqa: E402


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: C.AffineMap(float("nan")), ValueError, "slope must be a finite number, got nan"),
        (lambda: C.AffineMap(float("inf")), ValueError, "slope must be a finite number, got inf"),
        (lambda: C.AffineMap(1.0, float("nan")), ValueError, "shift must be a finite number"),
        (lambda: C.AffineMap("2"), TypeError, "the text '2'"),
        (lambda: C.AffineMap(1j), TypeError, "complex"),
        (lambda: C.Normal(float("nan"), 1.0), ValueError, "mu must be a finite number"),
        (lambda: C.LogNormal(0.0, float("inf")), ValueError, "sigma must be a finite number"),
        (lambda: C.Uniform(float("nan"), 1.0), ValueError, "a must be a finite number"),
        (lambda: C.TanhMap("a"), TypeError, "a must be a number"),
        (lambda: C.pushforward_density(None, C.AffineMap(2.0), np.zeros(3)), TypeError, "base must be a density"),
        (lambda: C.pushforward_density(C.Normal(), np.exp, np.zeros(3)), TypeError, "MonotoneMap"),
        (lambda: C.pushforward_density(C.Normal(), C.AffineMap(2.0), np.array([1j])), ValueError, "complex"),
        (lambda: C.integrate(np.exp, 0.0, 1.0, pieces=0), ValueError, "pieces must be at least 1"),
        (lambda: C.integrate(lambda x: x * np.nan, 0.0, 1.0), ValueError, "the integrand is NaN at x = "),
        (lambda: C.interval_mass_z(C.Normal(), float("nan"), 1.0), ValueError, "a must be a finite number"),
    ],
)
def test_bad_input_gets_a_message_that_names_the_cause(make, error, words):
    with pytest.raises(error, match=words):
        make()


@pytest.mark.parametrize(
    "fn, words",
    [
        (np.log, r"f is NaN at z = -3 \(for instance the log of a negative number"),
        (lambda z: 1 / 0, "calling f on a numpy array of 2001 points raised ZeroDivisionError"),
        (lambda z: z[:10], r"f returned shape \(10,\) for an input of shape \(2001,\)"),
        (lambda z: np.where(z > 0, np.inf, z), "f is infinite at z = "),
    ],
)
def test_check_invertible_says_what_is_wrong_with_the_function_before_calling_it_not_one_to_one(fn, words):
    with pytest.raises(ValueError, match=words) as info:
        C.check_invertible(fn)
    assert "not one-to-one" not in str(info.value)
    with pytest.raises(ValueError, match="lo < hi"):
        C.check_invertible(np.tanh, 3.0, -3.0)
