"""The change of variables in one dimension, in numpy: base densities, monotone maps, pushed densities.

Convention of the course: ``z`` is the base variable, ``x = f(z)`` the data variable, and

    p_X(x) = p_Z(f^-1(x)) |d f^-1 / dx| = p_Z(z) / |f'(z)|,   z = f^-1(x).

Every map here is strictly monotone on the whole real line (or on the interval it is defined on),
because the formula needs exactly one ``z`` for each ``x``. A map that is not strictly monotone,
or whose derivative vanishes, is refused with a ValueError that says why.

Besides the formula itself the module has what a lesson needs to *show* it: quadrature, interval
masses, the wrong formulas (no absolute value; a single preimage for a two-to-one map) and an
invertibility check that names a pair of points a map sends to the same place.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lessonlib.inputs import MAX_SIZE, check_scale_range, count, describe, numpy_generator, real_array, real_number

__all__ = [
    "Density1D",
    "Uniform",
    "Normal",
    "Logistic",
    "Exponential",
    "LogNormal",
    "MonotoneMap",
    "AffineMap",
    "ExpMap",
    "TanhMap",
    "MonotoneSpline",
    "InverseCDFMap",
    "CDFMap",
    "Composed",
    "pushforward_density",
    "pushforward_density_via_inverse",
    "pushforward_density_via_forward",
    "pushforward_log_density",
    "density_without_abs",
    "integrate",
    "interval_mass_z",
    "interval_mass_x",
    "check_invertible",
    "square_density_single_preimage",
    "square_density_all_preimages",
]

Array = NDArray[np.float64]
_LOG_2PI = math.log(2.0 * math.pi)


def _arr(x: ArrayLike) -> Array:
    a = real_array(x, "the input", finite=False)
    if np.any(np.isnan(a)):
        raise ValueError("the input contains NaN: a density or a map has no value at 'not a number'.")
    return a


def _overflow_checked(out: Array, given: Array, name: str) -> Array:
    """``out``, the image of ``given``, unless a finite input gave an infinite value (float64 overflow): ValueError."""
    bad = np.isinf(out) & np.isfinite(given)
    if bad.any():
        raise ValueError(
            f"{name} overflows float64 at z = {given[bad].reshape(-1)[:3].tolist()}: the image is beyond about "
            "1.8e308. Keep z in the range the lesson plots, or work with logarithms."
        )
    return out


def _probabilities(u: ArrayLike) -> Array:
    """``u`` as an array of probabilities in [0, 1], where an inverse CDF is defined; ValueError otherwise."""
    u = _arr(u)
    outside = (u < 0) | (u > 1)
    if outside.any():
        raise ValueError(
            f"the inverse CDF F^-1(u) takes probabilities u between 0 and 1, got {u[outside].reshape(-1)[:3].tolist()}: "
            "no x has a CDF value outside [0, 1]."
        )
    return u


def _draws(rng: object, n: object) -> tuple[np.random.Generator, int]:
    """(rng, n) checked: a numpy Generator and a count of draws."""
    return numpy_generator(rng, "rng"), count(n, "n", maximum=10**8, why="draw large samples in batches")


def _check_base(base: object) -> None:
    """TypeError unless ``base`` is a Density1D."""
    if not isinstance(base, Density1D):
        raise TypeError(f"base must be a density of this module (Normal(), Uniform(0, 1), ...), got {describe(base)}.")


def _check_pair(base: object, fmap: object) -> None:
    """TypeError unless ``base`` is a Density1D and ``fmap`` a MonotoneMap (the formula's two ingredients)."""
    _check_base(base)
    if not isinstance(fmap, MonotoneMap):
        raise TypeError(f"the map must be a MonotoneMap (AffineMap(2, 1), ExpMap(), ...), got {describe(fmap)}.")


def _erf(x: Array) -> Array:
    """Vectorised error function (math.erf is exact to double precision)."""
    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _ndtri(u: Array) -> Array:
    """Inverse of the standard normal CDF: Acklam's rational start, two Halley steps (double precision)."""
    u = np.asarray(u, dtype=np.float64)
    a = [
        -3.969683028665376e01,
        2.209460984245205e02,
        -2.759285104469687e02,
        1.383577518672690e02,
        -3.066479806614716e01,
        2.506628277459239e00,
    ]
    b = [
        -5.447609879822406e01,
        1.615858368580409e02,
        -1.556989798598866e02,
        6.680131188771972e01,
        -1.328068155288572e01,
    ]
    c = [
        -7.784894002430293e-03,
        -3.223964580411365e-01,
        -2.400758277161838e00,
        -2.549732539343734e00,
        4.374664141464968e00,
        2.938163982698783e00,
    ]
    d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00]
    out = np.full(u.shape, np.nan)
    lo, hi = u < 0.02425, u > 1 - 0.02425
    mid = ~lo & ~hi & (u > 0) & (u < 1)
    q = np.sqrt(-2 * np.log(np.where(lo, u, 0.5)))
    out = np.where(
        lo,
        (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
        / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1),
        out,
    )
    q = np.sqrt(-2 * np.log(np.where(hi, 1 - u, 0.5)))
    out = np.where(
        hi,
        -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
        / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1),
        out,
    )
    q = u - 0.5
    r = q * q
    out = np.where(
        mid,
        (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5])
        * q
        / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1),
        out,
    )
    for _ in range(2):  # Halley refinement on Phi(x) - u
        e = 0.5 * (1 + _erf(out / math.sqrt(2))) - u
        g = e * math.sqrt(2 * math.pi) * np.exp(out * out / 2)
        out = out - g / (1 + out * g / 2)
    out = np.where(u == 0, -np.inf, np.where(u == 1, np.inf, out))
    return np.where((u < 0) | (u > 1), np.nan, out)


# ---------------------------------------------------------------------------------------------
# Densities
# ---------------------------------------------------------------------------------------------
class Density1D:
    """A 1D distribution with pdf, logpdf, cdf, ppf (inverse CDF) and sample.

    Shapes: every method maps an array of shape S to an array of shape S.
    """

    name: str = "density"
    #: where the density is positive, (lo, hi); infinite ends allowed
    support: tuple[float, float] = (-math.inf, math.inf)

    def logpdf(self, x: ArrayLike) -> Array:
        raise NotImplementedError

    def pdf(self, x: ArrayLike) -> Array:
        """p(x) = exp(log p(x))."""
        return np.exp(self.logpdf(x))

    def cdf(self, x: ArrayLike) -> Array:
        raise NotImplementedError

    def ppf(self, u: ArrayLike) -> Array:
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, n: int) -> Array:
        """n draws by the inverse-CDF method: x = F^-1(u), u ~ Uniform(0, 1).  Shapes: () -> (n,)."""
        rng, n = _draws(rng, n)
        return self.ppf(rng.uniform(0.0, 1.0, size=n))

    def breakpoints(self) -> list[float]:
        """Points where the density jumps (finite ends of the support); quadrature splits there."""
        return [b for b in self.support if math.isfinite(b)]

    def __repr__(self) -> str:
        return self.name


class Uniform(Density1D):
    """p(x) = 1 / (b - a) on [a, b], 0 elsewhere."""

    def __init__(self, a: float = 0.0, b: float = 1.0) -> None:
        a, b = real_number(a, "a"), real_number(b, "b")
        if not b > a:
            raise ValueError(
                f"Uniform(a, b) needs a < b; got a = {a}, b = {b}: an interval of width {b - a} holds no density that integrates to one."
            )
        if not math.isfinite(b - a):
            raise ValueError(
                f"Uniform({a:g}, {b:g}) is wider than float64 can hold: its density 1 / (b - a) would be 0."
            )
        self.a, self.b = float(a), float(b)
        self.support = (self.a, self.b)
        self.name = f"Uniform({self.a:g}, {self.b:g})"

    def pdf(self, x: ArrayLike) -> Array:
        x = _arr(x)
        return np.where((x >= self.a) & (x <= self.b), 1.0 / (self.b - self.a), 0.0)

    def logpdf(self, x: ArrayLike) -> Array:
        x = _arr(x)
        return np.where((x >= self.a) & (x <= self.b), -math.log(self.b - self.a), -np.inf)

    def cdf(self, x: ArrayLike) -> Array:
        return np.clip((_arr(x) - self.a) / (self.b - self.a), 0.0, 1.0)

    def ppf(self, u: ArrayLike) -> Array:
        return self.a + (self.b - self.a) * _probabilities(u)


class Normal(Density1D):
    """p(x) = exp(-(x - mu)^2 / (2 sigma^2)) / (sigma sqrt(2 pi))."""

    def __init__(self, mu: float = 0.0, sigma: float = 1.0) -> None:
        mu, sigma = real_number(mu, "mu"), real_number(sigma, "sigma")
        if not sigma > 0:
            raise ValueError(f"Normal(mu, sigma) needs sigma > 0; got sigma = {sigma}.")
        self.mu, self.sigma = mu, sigma
        self.name = f"Normal({self.mu:g}, {self.sigma:g})"

    def logpdf(self, x: ArrayLike) -> Array:
        t = (_arr(x) - self.mu) / self.sigma
        return -0.5 * t * t - math.log(self.sigma) - 0.5 * _LOG_2PI

    def cdf(self, x: ArrayLike) -> Array:
        return 0.5 * (1.0 + _erf((_arr(x) - self.mu) / (self.sigma * math.sqrt(2.0))))

    def ppf(self, u: ArrayLike) -> Array:
        return self.mu + self.sigma * _ndtri(_probabilities(u))

    def sample(self, rng: np.random.Generator, n: int) -> Array:
        rng, n = _draws(rng, n)
        return self.mu + self.sigma * rng.standard_normal(n)


class Logistic(Density1D):
    """p(x) = e^{-t} / (s (1 + e^{-t})^2), t = (x - mu) / s; F(x) = 1 / (1 + e^{-t})."""

    def __init__(self, mu: float = 0.0, s: float = 1.0) -> None:
        mu, s = real_number(mu, "mu"), real_number(s, "s")
        if not s > 0:
            raise ValueError(f"Logistic(mu, s) needs s > 0; got s = {s}.")
        self.mu, self.s = float(mu), float(s)
        self.name = f"Logistic({self.mu:g}, {self.s:g})"

    def logpdf(self, x: ArrayLike) -> Array:
        t = (_arr(x) - self.mu) / self.s
        return -np.abs(t) - 2.0 * np.log1p(np.exp(-np.abs(t))) - math.log(self.s)

    def cdf(self, x: ArrayLike) -> Array:
        t = (_arr(x) - self.mu) / self.s
        return 0.5 * (1.0 + np.tanh(0.5 * t))

    def ppf(self, u: ArrayLike) -> Array:
        u = _probabilities(u)
        with np.errstate(divide="ignore"):
            return self.mu + self.s * (np.log(u) - np.log1p(-u))


class Exponential(Density1D):
    """p(x) = rate e^{-rate x} for x >= 0; F(x) = 1 - e^{-rate x}; F^-1(u) = -log(1 - u) / rate."""

    def __init__(self, rate: float = 1.0) -> None:
        rate = real_number(rate, "rate")
        if not rate > 0:
            raise ValueError(f"Exponential(rate) needs rate > 0; got {rate}.")
        self.rate = float(rate)
        self.support = (0.0, math.inf)
        self.name = f"Exponential({self.rate:g})"

    def logpdf(self, x: ArrayLike) -> Array:
        x = _arr(x)
        return np.where(x >= 0, math.log(self.rate) - self.rate * np.maximum(x, 0.0), -np.inf)

    def cdf(self, x: ArrayLike) -> Array:
        return -np.expm1(-self.rate * np.maximum(_arr(x), 0.0))

    def ppf(self, u: ArrayLike) -> Array:
        with np.errstate(divide="ignore"):
            return -np.log1p(-_probabilities(u)) / self.rate


class LogNormal(Density1D):
    """The law of exp(Z), Z ~ Normal(mu, sigma): p(x) = exp(-(log x - mu)^2 / (2 sigma^2)) / (x sigma sqrt(2 pi)), x > 0.

    Written from its textbook closed form, not from the change of variables, so it can check it.
    """

    def __init__(self, mu: float = 0.0, sigma: float = 1.0) -> None:
        mu, sigma = real_number(mu, "mu"), real_number(sigma, "sigma")
        if not sigma > 0:
            raise ValueError(f"LogNormal(mu, sigma) needs sigma > 0; got sigma = {sigma}.")
        self.mu, self.sigma = mu, sigma
        self.support = (0.0, math.inf)
        self.name = f"LogNormal({self.mu:g}, {self.sigma:g})"

    def logpdf(self, x: ArrayLike) -> Array:
        x = _arr(x)
        pos = x > 0
        lx = np.log(np.where(pos, x, 1.0))
        val = -((lx - self.mu) ** 2) / (2 * self.sigma**2) - lx - math.log(self.sigma) - 0.5 * _LOG_2PI
        return np.where(pos, val, -np.inf)

    def cdf(self, x: ArrayLike) -> Array:
        x = _arr(x)
        lx = np.log(np.where(x > 0, x, 1.0))
        return np.where(x > 0, 0.5 * (1 + _erf((lx - self.mu) / (self.sigma * math.sqrt(2)))), 0.0)

    def ppf(self, u: ArrayLike) -> Array:
        return np.exp(self.mu + self.sigma * _ndtri(_probabilities(u)))


# ---------------------------------------------------------------------------------------------
# Monotone maps
# ---------------------------------------------------------------------------------------------
class MonotoneMap:
    """A strictly monotone, differentiable map x = f(z) with its inverse and derivatives.

    Subclasses give ``forward``, ``inverse`` and ``derivative``; ``inverse_derivative`` defaults to a
    central difference of ``inverse`` (independent of ``derivative``, so the two forms of the
    formula are a real check of each other). ``domain`` is where z may live, ``image`` = f(domain).

    Shapes: every method maps an array of shape S to an array of shape S.
    """

    name: str = "f"
    domain: tuple[float, float] = (-math.inf, math.inf)
    image: tuple[float, float] = (-math.inf, math.inf)

    def forward(self, z: ArrayLike) -> Array:
        raise NotImplementedError

    def inverse(self, x: ArrayLike) -> Array:
        raise NotImplementedError

    def derivative(self, z: ArrayLike) -> Array:
        """f'(z)."""
        raise NotImplementedError

    def log_abs_derivative(self, z: ArrayLike) -> Array:
        """log |f'(z)|: the 1D log_det of the forward direction."""
        return np.log(np.abs(self.derivative(z)))

    def inverse_derivative(self, x: ArrayLike) -> Array:
        """d f^-1 / dx at x, by a central difference of ``inverse`` (step 1e-6 (1 + |x|))."""
        x = _arr(x)
        h = 1e-6 * (1.0 + np.abs(x))
        lo, hi = self.image
        left = np.maximum(x - h, lo + 0.5 * (x - lo)) if math.isfinite(lo) else x - h
        right = np.minimum(x + h, hi - 0.5 * (hi - x)) if math.isfinite(hi) else x + h
        return (self.inverse(right) - self.inverse(left)) / (right - left)

    def _from_image(self, x: ArrayLike) -> Array:
        """x, if every point lies in the (closed) image; a ValueError naming the image otherwise (for ``inverse``)."""
        x = _arr(x)
        lo, hi = self.image
        outside = (x < lo) | (x > hi)
        if outside.any():
            raise ValueError(
                f"x = {x[outside].reshape(-1)[:3].tolist()} lies outside the image ({lo:g}, {hi:g}) of {self.name}: "
                "no z maps there, so f^-1(x) does not exist (the pushed density is 0 there; pushforward_density "
                "says so)."
            )
        return x

    def in_image(self, x: ArrayLike) -> NDArray[np.bool_]:
        """True where some z maps to x."""
        x = _arr(x)
        lo, hi = self.image
        return (x > lo) & (x < hi) if (math.isfinite(lo) or math.isfinite(hi)) else np.ones(x.shape, dtype=bool)

    def breakpoints(self) -> list[float]:
        """z-points where the map is less smooth (spline knots); quadrature splits at their images."""
        return []

    def increasing(self) -> bool:
        """True for an increasing map, False for a decreasing one (the sign of f' anywhere)."""
        lo, hi = self.domain
        if math.isfinite(lo) and math.isfinite(hi):
            z0 = 0.5 * (lo + hi)
        else:
            z0 = lo + 1.0 if math.isfinite(lo) else (hi - 1.0 if math.isfinite(hi) else 0.0)
        return bool(self.derivative(np.array([z0]))[0] > 0)

    def __repr__(self) -> str:
        return self.name


class AffineMap(MonotoneMap):
    """f(z) = slope z + shift; f'(z) = slope. A negative slope is fine (decreasing), zero is not."""

    def __init__(self, slope: float, shift: float = 0.0) -> None:
        slope, shift = real_number(slope, "slope"), real_number(shift, "shift")
        if slope == 0:
            raise ValueError(
                f"slope = {slope}: a zero slope sends every z to the same x, so x has no unique z to come "
                "back to and p_Z(z) / |f'(z)| would divide by zero. The formula needs an invertible map."
            )
        check_scale_range(np.array([slope]), np.float64, "slope", "use a slope nearer 1 and rescale the data")
        self.slope, self.shift = float(slope), float(shift)
        self.name = f"{self.slope:g} z + {self.shift:g}"

    def forward(self, z: ArrayLike) -> Array:
        z = _arr(z)
        with np.errstate(over="ignore"):
            return _overflow_checked(self.slope * z + self.shift, z, self.name)

    def inverse(self, x: ArrayLike) -> Array:
        return (_arr(x) - self.shift) / self.slope

    def derivative(self, z: ArrayLike) -> Array:
        return np.full(np.shape(z), self.slope)

    def inverse_derivative(self, x: ArrayLike) -> Array:
        return np.full(np.shape(x), 1.0 / self.slope)


class ExpMap(MonotoneMap):
    """f(z) = exp(z), f^-1(x) = log x on x > 0; f'(z) = exp(z), d f^-1/dx = 1 / x."""

    name = "exp(z)"
    image = (0.0, math.inf)

    def forward(self, z: ArrayLike) -> Array:
        z = _arr(z)
        with np.errstate(over="ignore"):
            return _overflow_checked(np.exp(z), z, self.name)

    def inverse(self, x: ArrayLike) -> Array:
        x = self._from_image(x)
        with np.errstate(divide="ignore"):
            return np.log(x)  # -inf at x = 0, the image's end

    def derivative(self, z: ArrayLike) -> Array:
        return np.exp(_arr(z))

    def log_abs_derivative(self, z: ArrayLike) -> Array:
        return _arr(z).copy()

    def inverse_derivative(self, x: ArrayLike) -> Array:
        x = _arr(x)
        return np.where(x > 0, 1.0 / np.where(x > 0, x, 1.0), np.nan)


class TanhMap(MonotoneMap):
    """f(z) = z + a tanh(b z); f'(z) = 1 + a b sech^2(b z), strictly positive exactly when a b > -1.

    The inverse has no closed form: bisection on [x - |a|, x + |a|], where |f(z) - z| <= |a| puts it.
    """

    def __init__(self, a: float, b: float = 1.0) -> None:
        a, b = real_number(a, "a"), real_number(b, "b")
        if a * b <= -1:
            raise ValueError(
                f"a·b = {a * b:g} ≤ -1: f'(0) = 1 + a·b = {1 + a * b:g}, so the map is flat"
                + (" at z = 0" if a * b == -1 else " and folds back around z = 0 (some x have three z)")
                + ". Where f' = 0 the density p_Z(z) / |f'(z)| is infinite; the formula needs f' ≠ 0 everywhere."
            )
        self.a, self.b = float(a), float(b)
        self.name = f"z + {self.a:g} tanh({self.b:g} z)"

    def forward(self, z: ArrayLike) -> Array:
        z = _arr(z)
        return z + self.a * np.tanh(self.b * z)

    def derivative(self, z: ArrayLike) -> Array:
        z = _arr(z)
        return 1.0 + self.a * self.b / np.cosh(self.b * z) ** 2

    def inverse(self, x: ArrayLike) -> Array:
        x = _arr(x)
        lo, hi = x - abs(self.a) - 1e-12, x + abs(self.a) + 1e-12
        for _ in range(64):  # each step halves the bracket; 64 steps reach double precision
            mid = 0.5 * (lo + hi)
            below = self.forward(mid) < x
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        return 0.5 * (lo + hi)


class MonotoneSpline(MonotoneMap):
    """A monotone rational-quadratic spline through knots (z_k, x_k), linear beyond the end knots.

    f is C^1, strictly monotone, with f' > 0 (or < 0) everywhere and a closed-form inverse
    (Gregory & Delbourgo 1982; the spline of Neural Spline Flows, Durkan et al. 2019). Knot slopes:
    the harmonic mean of the neighbouring secant slopes; the end secant slope outside the knots.
    Both ``z_knots`` and ``x_knots`` must be strictly monotone (x may decrease: a decreasing map).

    Shapes: z_knots (K,), x_knots (K,), K >= 2.
    """

    def __init__(self, z_knots: ArrayLike, x_knots: ArrayLike) -> None:
        zk, xk = real_array(z_knots, "z_knots", finite=False), real_array(x_knots, "x_knots", finite=False)
        if zk.ndim != 1 or zk.shape != xk.shape or zk.size < 2:
            raise ValueError(
                f"knots must be two 1D arrays of the same length >= 2; got shapes {zk.shape} and {xk.shape}."
            )
        if not (np.all(np.isfinite(zk)) and np.all(np.isfinite(xk))):
            raise ValueError("knots must be finite numbers (no NaN or infinity).")
        if np.any(np.diff(zk) <= 0):
            raise ValueError("the z positions of the knots must be strictly increasing.")
        dx = np.diff(xk)
        if not (np.all(dx > 0) or np.all(dx < 0)):
            k = int(np.argmax(dx <= 0) if dx[0] > 0 else np.argmax(dx >= 0))
            raise ValueError(
                f"the knots at z = {zk[k]:.2f} and z = {zk[k + 1]:.2f} have x = {xk[k]:.2f} and {xk[k + 1]:.2f}: "
                "the curve would turn back or go flat there, so some x would have two z (or a whole interval of z) "
                "and f'(z) would be 0 somewhere. The formula p_X(x) = p_Z(f⁻¹(x)) / |f'(z)| needs one z per x: "
                "keep the knots strictly increasing (or strictly decreasing)."
            )
        self.z_knots, self.x_knots = zk, xk
        self.sign = 1.0 if dx[0] > 0 else -1.0
        self._y = self.sign * xk  # internally an increasing spline through (zk, _y)
        s = np.diff(self._y) / np.diff(zk)
        d = np.empty_like(zk)
        d[0], d[-1] = s[0], s[-1]
        d[1:-1] = 2.0 / (1.0 / s[:-1] + 1.0 / s[1:])
        self._s, self._d = s, d
        self.name = f"spline through {zk.size} knots"

    def breakpoints(self) -> list[float]:
        return [float(v) for v in self.z_knots]

    def _forward_inc(self, z: Array) -> tuple[Array, Array]:
        zk, y, s, d = self.z_knots, self._y, self._s, self._d
        k = np.clip(np.searchsorted(zk, z, side="right") - 1, 0, zk.size - 2)
        w = zk[k + 1] - zk[k]
        t = np.clip((z - zk[k]) / w, 0.0, 1.0)
        sk, d0, d1, dy = s[k], d[k], d[k + 1], y[k + 1] - y[k]
        tt = t * (1 - t)
        den = sk + (d1 + d0 - 2 * sk) * tt
        val = y[k] + dy * (sk * t * t + d0 * tt) / den
        der = sk * sk * (d1 * t * t + 2 * sk * tt + d0 * (1 - t) ** 2) / den**2
        left, right = z < zk[0], z > zk[-1]
        val = np.where(left, y[0] + s[0] * (z - zk[0]), np.where(right, y[-1] + s[-1] * (z - zk[-1]), val))
        der = np.where(left, s[0], np.where(right, s[-1], der))
        return val, der

    def forward(self, z: ArrayLike) -> Array:
        return self.sign * self._forward_inc(_arr(z))[0]

    def derivative(self, z: ArrayLike) -> Array:
        return self.sign * self._forward_inc(_arr(z))[1]

    def inverse(self, x: ArrayLike) -> Array:
        yv = self.sign * _arr(x)
        zk, y, s, d = self.z_knots, self._y, self._s, self._d
        k = np.clip(np.searchsorted(y, yv, side="right") - 1, 0, zk.size - 2)
        sk, d0, d1, dy = s[k], d[k], d[k + 1], y[k + 1] - y[k]
        r = yv - y[k]
        a = dy * (sk - d0) + r * (d1 + d0 - 2 * sk)
        b = dy * d0 - r * (d1 + d0 - 2 * sk)
        c = -sk * r
        disc = np.maximum(b * b - 4 * a * c, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = 2 * c / (-b - np.sqrt(disc))
        t = np.where(np.isfinite(t), t, r / dy)
        val = zk[k] + t * (zk[k + 1] - zk[k])
        left, right = yv < y[0], yv > y[-1]
        return np.where(left, zk[0] + (yv - y[0]) / s[0], np.where(right, zk[-1] + (yv - y[-1]) / s[-1], val))


class InverseCDFMap(MonotoneMap):
    """f(u) = F^-1(u) for a target with CDF F: pushes Uniform(0, 1) onto the target exactly.

    f'(u) = 1 / p(F^-1(u)); the inverse is F itself and d f^-1/dx = p(x), the target density.
    """

    domain = (0.0, 1.0)

    def __init__(self, target: Density1D) -> None:
        _check_pair(target, self)
        self.target = target
        self.image = target.support
        self.name = f"F⁻¹ of {target.name}"

    def forward(self, z: ArrayLike) -> Array:
        return self.target.ppf(z)

    def inverse(self, x: ArrayLike) -> Array:
        return self.target.cdf(self._from_image(x))

    def derivative(self, z: ArrayLike) -> Array:
        return 1.0 / self.target.pdf(self.target.ppf(z))

    def inverse_derivative(self, x: ArrayLike) -> Array:
        return self.target.pdf(x)

    def increasing(self) -> bool:
        return True


# CDFMap mirrors InverseCDFMap line for line, with F and F^-1 swapped. Kept apart on purpose: notebook 01
# reads each as one formula (f = F, f = F^-1), and one class with a direction flag would hide that.
class CDFMap(MonotoneMap):
    """f(z) = F(z), the CDF of a distribution: pushes that distribution onto Uniform(0, 1)."""

    image = (0.0, 1.0)

    def __init__(self, dist: Density1D) -> None:
        _check_pair(dist, self)
        self.dist = dist
        self.domain = dist.support
        self.name = f"F of {dist.name}"

    def forward(self, z: ArrayLike) -> Array:
        z = _arr(z)
        lo, hi = self.domain
        if ((z < lo) | (z > hi)).any():
            raise ValueError(
                f"z = {z[(z < lo) | (z > hi)][:3].tolist()} lies outside the domain ({lo:g}, {hi:g}) of {self.name}, "
                f"the support of {self.dist.name}: the map is a bijection from that interval onto (0, 1) only."
            )
        return self.dist.cdf(z)

    def inverse(self, x: ArrayLike) -> Array:
        return self.dist.ppf(x)

    def derivative(self, z: ArrayLike) -> Array:
        return self.dist.pdf(z)

    def increasing(self) -> bool:
        return True


class Composed(MonotoneMap):
    """f(z) = second(first(z)); f'(z) = second'(first(z)) first'(z) (chain rule; log_dets add)."""

    def __init__(self, first: MonotoneMap, second: MonotoneMap) -> None:
        for which, m in (("first", first), ("second", second)):
            if not isinstance(m, MonotoneMap):
                raise TypeError(f"Composed needs two MonotoneMaps; the {which} is {describe(m)}.")
        (lo, hi), (dlo, dhi) = first.image, second.domain
        if lo < dlo or hi > dhi:
            raise ValueError(
                f"the first map's image ({lo:g}, {hi:g}) is not inside the second map's domain ({dlo:g}, {dhi:g}): "
                f"{second.name} is undefined at some of first's values, so the composition is not defined everywhere."
            )
        self.first, self.second = first, second
        self.domain = first.domain
        with np.errstate(all="ignore"):  # the image: first's image through second (its ends may be infinite)
            ends = second.forward(np.array([lo, hi]))
        self.image = (float(ends.min()), float(ends.max())) if not np.isnan(ends).any() else second.image
        self.name = f"({second.name}) ∘ ({first.name})"

    def forward(self, z: ArrayLike) -> Array:
        return self.second.forward(self.first.forward(z))

    def inverse(self, x: ArrayLike) -> Array:
        return self.first.inverse(self.second.inverse(self._from_image(x)))

    def derivative(self, z: ArrayLike) -> Array:
        return self.second.derivative(self.first.forward(z)) * self.first.derivative(z)

    def log_abs_derivative(self, z: ArrayLike) -> Array:
        return self.second.log_abs_derivative(self.first.forward(z)) + self.first.log_abs_derivative(z)


# ---------------------------------------------------------------------------------------------
# The formula, both ways, and its wrong versions
# ---------------------------------------------------------------------------------------------
def pushforward_density_via_inverse(base: Density1D, fmap: MonotoneMap, x: ArrayLike) -> Array:
    """p_X(x) = p_Z(f^-1(x)) |d f^-1/dx|, and 0 where no z maps to x.  Shapes: (N,) -> (N,)."""
    _check_pair(base, fmap)
    x = _arr(x)
    inside = fmap.in_image(x)
    xs = np.where(inside, x, _inside_point(fmap))
    out = base.pdf(fmap.inverse(xs)) * np.abs(fmap.inverse_derivative(xs))
    return np.where(inside, out, 0.0)


def pushforward_density_via_forward(base: Density1D, fmap: MonotoneMap, x: ArrayLike) -> Array:
    """p_X(x) = p_Z(z) / |f'(z)| with z = f^-1(x), and 0 where no z maps to x.  Shapes: (N,) -> (N,)."""
    _check_pair(base, fmap)
    x = _arr(x)
    inside = fmap.in_image(x)
    z = fmap.inverse(np.where(inside, x, _inside_point(fmap)))
    out = base.pdf(z) / np.abs(fmap.derivative(z))
    return np.where(inside, out, 0.0)


def pushforward_density(base: Density1D, fmap: MonotoneMap, x: ArrayLike) -> Array:
    """p_X(x) = p_Z(z) / |f'(z)|, z = f^-1(x) (the form flows use).  Shapes: (N,) -> (N,)."""
    return pushforward_density_via_forward(base, fmap, x)


def pushforward_log_density(base: Density1D, fmap: MonotoneMap, x: ArrayLike) -> Array:
    """log p_X(x) = log p_Z(z) - log|f'(z)|, z = f^-1(x); -inf where no z maps to x.  Shapes: (N,) -> (N,)."""
    _check_pair(base, fmap)
    x = _arr(x)
    inside = fmap.in_image(x)
    z = fmap.inverse(np.where(inside, x, _inside_point(fmap)))
    return np.where(inside, base.logpdf(z) - fmap.log_abs_derivative(z), -np.inf)


def density_without_abs(base: Density1D, fmap: MonotoneMap, x: ArrayLike) -> Array:
    """The WRONG formula p_Z(f^-1(x)) · (d f^-1/dx) with no absolute value: negative for a decreasing map."""
    _check_pair(base, fmap)
    x = _arr(x)
    inside = fmap.in_image(x)
    xs = np.where(inside, x, _inside_point(fmap))
    return np.where(inside, base.pdf(fmap.inverse(xs)) * fmap.inverse_derivative(xs), 0.0)


def _inside_point(fmap: MonotoneMap) -> float:
    lo, hi = fmap.image
    if math.isfinite(lo) and math.isfinite(hi):
        return 0.5 * (lo + hi)
    if math.isfinite(lo):
        return lo + 1.0
    if math.isfinite(hi):
        return hi - 1.0
    return 0.0


_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(48)


def integrate(
    fn: Callable[[Array], Array],
    lo: float,
    hi: float,
    breaks: Sequence[float] = (),
    pieces: int = 8,
    log_spaced: bool = False,
) -> float:
    """∫_lo^hi fn(x) dx by composite 48-point Gauss-Legendre, split at ``breaks`` (jumps, kinks).

    ``pieces`` equal (or, with ``log_spaced``, geometric) pieces between breaks. Accurate to about
    1e-12 for smooth pieces; a jump inside a piece costs accuracy, so pass it in ``breaks``.
    Shapes: fn maps (M,) -> (M,).
    """
    lo, hi = real_number(lo, "lo", allow_inf=True), real_number(hi, "hi", allow_inf=True)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError("integrate needs finite limits: cut the tails where the density is negligible.")
    pieces = count(pieces, "pieces", minimum=1, maximum=MAX_SIZE)
    if hi < lo:
        return -integrate(fn, hi, lo, breaks, pieces, log_spaced)
    if log_spaced and lo <= 0:
        raise ValueError("log-spaced pieces need lo > 0.")
    edges = np.geomspace(lo, hi, pieces + 1) if log_spaced else np.linspace(lo, hi, pieces + 1)
    breaks = real_array(breaks, "breaks").reshape(-1)
    edges = np.unique(np.concatenate([edges, breaks[(breaks > lo) & (breaks < hi)]]))
    a, b = edges[:-1, None], edges[1:, None]
    pts = 0.5 * (a + b) + 0.5 * (b - a) * _GL_NODES[None, :]
    vals = _grid_values(fn, pts.ravel(), "the integrand").reshape(pts.shape)
    return float(np.sum(0.5 * (b - a) * vals * _GL_WEIGHTS[None, :]))


def _grid_values(fn: Callable[[Array], Array], grid: Array, what: str, var: str = "x") -> Array:
    """fn(grid) as a float64 array of grid's shape; ValueError naming the cause if fn fails, has the wrong
    shape or is NaN or infinite somewhere. Shapes: grid (M,) -> (M,)."""
    if not callable(fn):
        raise TypeError(f"{what} must be a function of a numpy array, got {describe(fn)}.")
    try:
        with np.errstate(all="ignore"):
            out = real_array(fn(grid.copy()), what, finite=False)
    except Exception as e:  # noqa: BLE001 - the caller's function may fail in any way; say how
        raise ValueError(
            f"calling {what} on a numpy array of {grid.size} points raised {type(e).__name__}: {e}. "
            "It must accept an array (use np.exp, np.log, not math.exp, math.log)."
        ) from e
    if out.shape != grid.shape:
        if out.size != 1:
            raise ValueError(
                f"{what} returned shape {out.shape} for an input of shape {grid.shape}: it must act on "
                "each point and return one value per point."
            )
        out = np.full(grid.shape, float(out.reshape(-1)[0]))
    bad = ~np.isfinite(out)
    if bad.any():
        k = int(np.argmax(bad))
        value = "NaN" if np.isnan(out[k]) else "infinite"
        raise ValueError(
            f"{what} is {value} at {var} = {grid[k]:.4g} (for instance the log of a negative number, or a "
            "division by zero): it needs a finite real value at every point of the range."
        )
    return out


def interval_mass_z(base: Density1D, a: float, b: float) -> float:
    """P(a < Z < b) = F_Z(b) - F_Z(a), from the base CDF."""
    _check_base(base)
    a, b = real_number(a, "a", allow_inf=True), real_number(b, "b", allow_inf=True)
    lo, hi = min(a, b), max(a, b)
    return float(base.cdf(np.array([hi]))[0] - base.cdf(np.array([lo]))[0])


def interval_mass_x(base: Density1D, fmap: MonotoneMap, xa: float, xb: float) -> float:
    """P(xa < X < xb) = ∫ p_X(x) dx, by quadrature of the pushed density (split where it may jump or kink)."""
    _check_pair(base, fmap)
    xa, xb = real_number(xa, "xa"), real_number(xb, "xb")
    lo, hi = min(xa, xb), max(xa, xb)
    breaks = (
        [float(v) for v in fmap.forward(np.array(base.breakpoints() + fmap.breakpoints(), dtype=np.float64))]
        if (base.breakpoints() or fmap.breakpoints())
        else []
    )
    return integrate(lambda x: pushforward_density(base, fmap, x), lo, hi, breaks=breaks, pieces=8)


def check_invertible(fn: Callable[[Array], Array], lo: float = -3.0, hi: float = 3.0, n: int = 2001) -> None:
    """Raise ValueError, naming two z with the same x, if fn is not strictly monotone on [lo, hi].

    A grid test: it can miss a fold narrower than the grid step, so it proves non-invertibility,
    never invertibility.
    """
    lo, hi, n = real_number(lo, "lo"), real_number(hi, "hi"), count(n, "n", minimum=3, maximum=100 * MAX_SIZE)
    if not lo < hi:
        raise ValueError(f"check_invertible needs lo < hi, got lo = {lo:g}, hi = {hi:g}.")
    z = np.linspace(lo, hi, n)
    x = _grid_values(fn, z, "f", "z")
    dx = np.diff(x)
    if np.all(dx > 0) or np.all(dx < 0):
        return
    if np.any(dx == 0):
        k = int(np.argmax(dx == 0))
        raise ValueError(
            f"f is flat near z = {z[k]:.3f}: f'(z) = 0 there, so p_Z(z) / |f'(z)| divides by zero and a whole "
            "stretch of z lands on one x. The change of variables needs a strictly monotone map."
        )
    rising = dx[0] > 0
    k = int(np.argmax((dx < 0) if rising else (dx > 0)))  # the grid step where f first turns back
    # the monotone stretch after the turn, and in it the point farthest from the turn whose value
    # was already taken before the turn: a clear pair of points with one image
    after = (dx[k:] < 0) if rising else (dx[k:] > 0)
    end = k + (int(np.argmin(after)) if not np.all(after) else after.size)
    seg = np.arange(k + 1, end + 1)
    before = x[: k + 1]
    ok = seg[(x[seg] >= before.min()) & (x[seg] <= before.max())]
    j = int(ok[-1]) if ok.size else k + 1
    i = int(np.argmin(np.abs(before - x[j])))
    raise ValueError(
        f"f is not one-to-one: f({z[i]:.3f}) ≈ f({z[j]:.3f}) ≈ {x[j]:.3f}, and f turns back near z = {z[k]:.3f} "
        "(where f'(z) = 0). That x has two z, so the single-preimage formula p_Z(f⁻¹(x)) |d f⁻¹/dx| counts only "
        "one of them and loses probability. The formula needs an invertible (strictly monotone) map."
    )


def square_density_single_preimage(base: Density1D, x: ArrayLike) -> Array:
    """The WRONG density of X = Z^2 from one preimage only: p_Z(√x) / (2√x) for x > 0."""
    _check_base(base)
    x = _arr(x)
    r = np.sqrt(np.where(x > 0, x, 1.0))
    return np.where(x > 0, base.pdf(r) / (2 * r), 0.0)


def square_density_all_preimages(base: Density1D, x: ArrayLike) -> Array:
    """The right density of X = Z^2, summing over both preimages: (p_Z(√x) + p_Z(-√x)) / (2√x), x > 0."""
    _check_base(base)
    x = _arr(x)
    r = np.sqrt(np.where(x > 0, x, 1.0))
    return np.where(x > 0, (base.pdf(r) + base.pdf(-r)) / (2 * r), 0.0)
