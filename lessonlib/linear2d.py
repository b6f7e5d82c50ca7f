"""2D maps in numpy: determinants as area factors, pushed densities, Jacobians, and what determinants cost.

Direction convention of the course: z is the base space, x the data space, x = A z (or x = f(z)).
A density pushed through an invertible map is divided by the area factor:

    p_X(x) = p_Z(A^-1 x) / |det A|        (linear)
    p_X(x) = p_Z(f^-1(x)) / |det J_f(z)|  (nonlinear, z = f^-1(x))

Singular matrices (det A = 0, or so close that A^-1 is meaningless in float64) raise ValueError
with a sentence explaining the collapse. This module does not import torch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lessonlib.inputs import (
    MAX_SIZE,
    count,
    describe,
    flag,
    function,
    positive_number,
    real_array,
    real_number,
    to_numpy,
)
from lessonlib.inputs import seed as seed_count

__all__ = [
    "as_matrix",
    "det2",
    "is_singular",
    "check_invertible",
    "apply_linear",
    "unit_square",
    "unit_square_image",
    "polygon_area",
    "grid_lines",
    "warp_lines",
    "gaussian_density",
    "uniform_square_density",
    "pushed_density_linear",
    "pushed_density_grid",
    "grid_points",
    "collapse_sentence",
    "Map2D",
    "MAPS",
    "get_map",
    "pushed_density_map",
    "finite_difference_jacobian",
    "bin_probabilities",
    "cell_area_ratios",
    "time_log_dets",
    "growth_ratio",
    "det_overflow_table",
    "rotation",
]

Points = np.ndarray  # (N, 2)

#: |det A| below this fraction of the matrix's size squared counts as a collapse (det = 0 up to rounding).
SINGULAR_RTOL = 1e-12


# --------------------------------------------------------------------------------------
# Linear maps
# --------------------------------------------------------------------------------------
def as_matrix(A: np.ndarray | list) -> np.ndarray:
    """A as a finite float64 (2, 2) array; ValueError otherwise.

    Shapes: A (2, 2).
    """
    M = real_array(A, "the matrix", finite=False)
    if M.shape != (2, 2):
        raise ValueError(
            f"a map of the plane needs a 2x2 matrix, got shape {M.shape}. A non-square matrix changes the "
            "number of dimensions, so it cannot be invertible and has no determinant."
        )
    if not np.all(np.isfinite(M)):
        raise ValueError("the matrix contains NaN or infinity: a map with undefined entries sends points nowhere.")
    return M


def rotation(theta: float) -> np.ndarray:
    """R(theta) = [[cos, -sin], [sin, cos]], a counter-clockwise turn by theta radians; det R = 1.

    Shapes: returns (2, 2).
    """
    theta = real_number(theta, "theta")
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s], [s, c]])


def det2(A: np.ndarray | list) -> float:
    """det A = a11 a22 - a12 a21, the signed area of the image of the unit square.

    Shapes: A (2, 2) -> float.
    """
    M = as_matrix(A)
    return float(M[0, 0] * M[1, 1] - M[0, 1] * M[1, 0])


def is_singular(A: np.ndarray | list, rtol: float = SINGULAR_RTOL) -> bool:
    """True when |det A| <= rtol * max|a_ij|^2: the map squashes the plane onto a line or a point.

    Computed on A / max|a_ij|, so that a tiny or huge but invertible matrix (1e-200 I) is not called
    singular because its determinant underflows. Shapes: A (2, 2) -> bool.
    """
    M, rtol = as_matrix(A), real_number(rtol, "rtol")
    if not 0 <= rtol < 1:
        raise ValueError(
            f"rtol must be in [0, 1), got {rtol:g}: it is the |det| (of A scaled to entries <= 1) called 0."
        )
    size = float(np.max(np.abs(M)))
    return size == 0.0 or abs(det2(M / size)) <= rtol


def collapse_sentence(A: np.ndarray | list) -> str:
    """One sentence saying what a singular A does to the plane (a line or a point)."""
    M = as_matrix(A)
    if np.max(np.abs(M)) == 0.0:
        return (
            "det A = 0: A is the zero matrix, it sends the whole plane to the single point 0. "
            "Every z lands on the same x, so there is no inverse and no density."
        )
    d = det2(M)
    value = "det A = 0" if d == 0.0 else f"det A = {d:.3g}, which is 0 up to rounding"
    return (
        f"{value}: the two columns of A point along the same line, so A squashes the whole "
        "plane onto that line. The unit square becomes a segment of area 0, many z land on the same x, "
        "there is no inverse, and no density: p_Z(A^-1 x) / |det A| would need A^-1 and a division by 0."
    )


def check_invertible(A: np.ndarray | list, rtol: float = SINGULAR_RTOL) -> np.ndarray:
    """Return A as a (2, 2) array, or raise ValueError explaining the collapse when det A = 0.

    Shapes: A (2, 2).
    """
    M = as_matrix(A)
    if is_singular(M, rtol):
        raise ValueError(collapse_sentence(M))
    with np.errstate(over="ignore", under="ignore"):
        d = det2(M)
    if d == 0.0 or not np.isfinite(d):
        size = float(np.max(np.abs(M)))
        raise ValueError(
            f"A is invertible, but its entries are about {size:.1g}, so det A (about {size:.1g}^2) "
            f"{'underflows to 0' if d == 0.0 else 'overflows'} in float64 and the density p_Z(A^-1 x) / |det A| cannot "
            "be represented. Use a matrix with entries nearer 1 (and rescale the data to match)."
        )
    return M


def apply_linear(A: np.ndarray | list, z: Points) -> Points:
    """x = A z for every row z.

    Shapes: A (2, 2); z (N, 2) -> x (N, 2).
    """
    M = as_matrix(A)
    z = _points(z, "z")
    return z @ M.T


def unit_square() -> Points:
    """The corners of [0, 1]^2, counter-clockwise, the first repeated to close the outline.

    Shapes: returns (5, 2).
    """
    return np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]])


def unit_square_image(A: np.ndarray | list) -> Points:
    """The parallelogram A [0, 1]^2 with corners 0, a1, a1 + a2, a2 (a1, a2 the columns of A).

    Shapes: A (2, 2) -> (5, 2) closed outline.
    """
    return apply_linear(A, unit_square())


def polygon_area(P: Points, signed: bool = False) -> float:
    """Shoelace area (1/2) sum(x_i y_{i+1} - x_{i+1} y_i); positive for counter-clockwise outlines.

    Shapes: P (N, 2), closed or not -> float.
    """
    P = _points(P, "P")
    x, y = P[:, 0], P[:, 1]
    a = 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))
    return a if flag(signed, "signed") else abs(a)


def grid_lines(lo: float = -2.0, hi: float = 2.0, n_lines: int = 9, n_points: int = 41) -> list[Points]:
    """Horizontal and vertical lines of a square grid, each as a polyline.

    Shapes: returns 2 * n_lines arrays of shape (n_points, 2).
    """
    lo, hi = real_number(lo, "lo"), real_number(hi, "hi")
    n_lines, n_points = (
        count(n_lines, "n_lines", minimum=1, maximum=MAX_SIZE),
        count(n_points, "n_points", minimum=2, maximum=MAX_SIZE),
    )
    if not lo < hi:
        raise ValueError(f"grid_lines needs lo < hi, got lo = {lo:g}, hi = {hi:g}.")
    t = np.linspace(lo, hi, n_points)
    lines = []
    for c in np.linspace(lo, hi, n_lines):
        lines.append(np.column_stack([t, np.full_like(t, c)]))
        lines.append(np.column_stack([np.full_like(t, c), t]))
    return lines


def warp_lines(f: Callable[[Points], Points] | np.ndarray, lines: list[Points]) -> list[Points]:
    """Each polyline pushed through f (a function of (N, 2) points, or a 2x2 matrix).

    Shapes: lines: list of (n, 2) -> list of (n, 2).
    """
    if isinstance(lines, (str, bytes)) or not hasattr(lines, "__iter__"):
        raise TypeError(f"lines must be a list of (n, 2) polylines, e.g. grid_lines(), got {describe(lines)}.")
    lines = [_points(L, "each of lines") for L in lines]
    if not callable(f):
        if isinstance(f, (str, bytes)) or f is None:
            raise TypeError(f"f must be a function of (N, 2) points or a 2x2 matrix, got {describe(f)}.")
        M = as_matrix(f)
        return [L @ M.T for L in lines]
    return [_mapped(f, L, "f") for L in lines]


def _mapped(f: Callable[[Points], Points], z: Points, what: str) -> Points:
    """f(z) as a float64 array of z's shape; a ValueError naming the cause when f fails or returns another shape."""
    if not callable(f):
        raise TypeError(f"{what} must be a function of (N, 2) points, got {describe(f)}.")
    try:
        with np.errstate(all="ignore"):
            out = np.asarray(to_numpy(f(z.copy())), dtype=np.float64)
    except Exception as e:  # noqa: BLE001 - the caller's function may fail in any way; say how
        raise ValueError(f"calling {what} on points of shape {z.shape} raised {type(e).__name__}: {e}") from e
    if out.shape != z.shape:
        raise ValueError(
            f"{what} returned shape {out.shape} for points of shape {z.shape}: a map of the plane takes each "
            "point (x1, x2) to a point, (N, 2) to (N, 2)."
        )
    return out


# --------------------------------------------------------------------------------------
# Densities
# --------------------------------------------------------------------------------------
def gaussian_density(z: Points) -> np.ndarray:
    """p_Z(z) = exp(-|z|^2 / 2) / (2 pi), the standard normal on the plane.

    Shapes: z (N, 2) -> (N,).
    """
    z = _points(z, "z")
    return np.exp(-0.5 * np.sum(z * z, axis=-1)) / (2.0 * np.pi)


def uniform_square_density(z: Points) -> np.ndarray:
    """p_Z(z) = 1 on [0, 1]^2 and 0 elsewhere.

    Shapes: z (N, 2) -> (N,).
    """
    z = _points(z, "z")
    inside = np.all((z >= 0.0) & (z <= 1.0), axis=-1)
    return inside.astype(np.float64)


_BASES: dict[str, Callable[[Points], np.ndarray]] = {"gaussian": gaussian_density, "uniform": uniform_square_density}


def _base(base: str) -> Callable[[Points], np.ndarray]:
    if not isinstance(base, str) or base not in _BASES:
        raise ValueError(f"base must be one of {sorted(_BASES)}, got {base!r}")
    return _BASES[base]


def pushed_density_linear(A: np.ndarray | list, x: Points, base: str = "gaussian") -> np.ndarray:
    """p_X(x) = p_Z(A^-1 x) / |det A|.

    Shapes: A (2, 2); x (N, 2) -> (N,).
    """
    M = check_invertible(A)
    x = _points(x, "x")
    z = np.linalg.solve(M, x.T).T
    return _base(base)(z) / abs(det2(M))


def grid_points(lo: float, hi: float, n: int) -> tuple[np.ndarray, np.ndarray, Points]:
    """Cell centres of an n x n grid on [lo, hi]^2: (xs, ys, points), points in row-major (y, x) order.

    Shapes: xs, ys (n,); points (n * n, 2).
    """
    lo, hi, n = (
        real_number(lo, "lo"),
        real_number(hi, "hi"),
        count(n, "n", minimum=1, maximum=4000, why="an n x n grid of 16 million points is the most that fits"),
    )
    if not lo < hi:
        raise ValueError(f"the grid needs lo < hi, got lo = {lo:g}, hi = {hi:g}.")
    h = (hi - lo) / n
    xs = lo + h * (np.arange(n) + 0.5)
    X, Y = np.meshgrid(xs, xs)
    return xs, xs.copy(), np.column_stack([X.ravel(), Y.ravel()])


def pushed_density_grid(
    A: np.ndarray | list, lo: float = -3.0, hi: float = 3.0, n: int = 100, base: str = "gaussian"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """p_X on the cell centres of an n x n grid over [lo, hi]^2, for x = A z: (xs, ys, density).

    Shapes: xs, ys (n,); density (n, n), rows along y (for imshow with origin='lower').
    """
    xs, ys, pts = grid_points(lo, hi, n)
    return xs, ys, pushed_density_linear(A, pts, base).reshape(n, n)


# --------------------------------------------------------------------------------------
# Nonlinear maps with analytic Jacobians and inverses
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Map2D:
    """An invertible map of the plane with its analytic Jacobian: x = f(z), J_f(z) = dx/dz.

    ``forward(z, xp=torch)`` evaluates the same formula with torch operations (``xp`` is the array
    module), so autograd can check the analytic Jacobian; this module itself never imports torch.
    Shapes: forward, inverse: (N, 2) -> (N, 2); jacobian: (N, 2) -> (N, 2, 2); det, log_det: (N, 2) -> (N,).
    """

    name: str
    description: str
    forward_fn: Callable[[Points, object], Points]
    inverse_fn: Callable[[Points], Points]
    jacobian_fn: Callable[[Points], np.ndarray]

    def forward(self, z: Points, xp: object = np) -> Points:
        """x = f(z), computed with the array module ``xp`` (numpy by default, or torch, whose tensors pass unchecked
        so that autograd can follow them)."""
        if xp is not np and getattr(xp, "__name__", None) != "torch":
            raise TypeError(f"xp must be the array module numpy or torch, got {describe(xp)}.")
        if xp is not np and not hasattr(z, "detach"):
            raise TypeError(
                f"with xp=torch, z must be a torch tensor (so that autograd can follow it), got {describe(z)}."
            )
        if xp is not np:
            return self.forward_fn(z, xp)
        z = _points(z, "z")
        with np.errstate(all="ignore"):
            x = self.forward_fn(z, np)
        if not np.all(np.isfinite(x)):
            raise ValueError(
                f"f(z) of the {self.name} map is not finite at z = {z[~np.isfinite(x).all(1)][0].tolist()}: "
                "the point is too far out for float64."
            )
        return x

    def inverse(self, x: Points) -> Points:
        """z = f^-1(x). Shapes: (N, 2) -> (N, 2)."""
        return self.inverse_fn(_points(x, "x"))

    def jacobian(self, z: Points) -> np.ndarray:
        """J_f(z)[n, i, j] = d x_i / d z_j at row n. Shapes: (N, 2) -> (N, 2, 2)."""
        return self.jacobian_fn(_points(z, "z"))

    def det(self, z: Points) -> np.ndarray:
        """det J_f(z) for each row z. Shapes: (N, 2) -> (N,)."""
        J = self.jacobian(z)
        return J[:, 0, 0] * J[:, 1, 1] - J[:, 0, 1] * J[:, 1, 0]

    def log_det(self, z: Points) -> np.ndarray:
        """log|det J_f(z)|. Shapes: (N, 2) -> (N,)."""
        return np.log(np.abs(self.det(z)))


# radial: x = (1 + a |z|^2) z. Stretches more the further out: a lens that dilutes the tails.
_A_RADIAL = 0.25


def _radial_forward(z: Points, xp: object = np) -> Points:
    r2 = xp.sum(z * z, axis=-1, keepdims=True)
    return (1.0 + _A_RADIAL * r2) * z


def _solve_cubic(a: float, y: np.ndarray) -> np.ndarray:
    """The real root r of r + a r^3 = y (a > 0: strictly increasing, exactly one root), by Cardano."""
    p, q = 1.0 / a, -y / a
    disc = np.sqrt(q * q / 4.0 + p**3 / 27.0)
    return np.cbrt(-q / 2.0 + disc) + np.cbrt(-q / 2.0 - disc)


def _radial_inverse(x: Points) -> Points:
    rx = np.sqrt(np.sum(x * x, axis=-1))
    r = _solve_cubic(_A_RADIAL, rx)
    scale = np.where(rx > 0, r / np.where(rx > 0, rx, 1.0), 1.0)
    return x * scale[:, None]


def _radial_jacobian(z: Points) -> np.ndarray:
    r2 = np.sum(z * z, axis=-1)
    eye = np.eye(2)[None]
    return (1.0 + _A_RADIAL * r2)[:, None, None] * eye + 2.0 * _A_RADIAL * z[:, :, None] * z[:, None, :]


# triangular: x1 = z1 + 0.3 z1^3, x2 = z2 exp(0.5 tanh z1) + 0.5 z1^2. Each x_i depends on z_1..z_i only.
def _tri_forward(z: Points, xp: object = np) -> Points:
    z1, z2 = z[:, 0], z[:, 1]
    return xp.stack([z1 + 0.3 * z1**3, z2 * xp.exp(0.5 * xp.tanh(z1)) + 0.5 * z1**2], axis=-1)


def _tri_inverse(x: Points) -> Points:
    z1 = _solve_cubic(0.3, x[:, 0])
    z2 = (x[:, 1] - 0.5 * z1**2) * np.exp(-0.5 * np.tanh(z1))
    return np.column_stack([z1, z2])


def _tri_jacobian(z: Points) -> np.ndarray:
    z1, z2 = z[:, 0], z[:, 1]
    e = np.exp(0.5 * np.tanh(z1))
    J = np.zeros((z.shape[0], 2, 2))
    J[:, 0, 0] = 1.0 + 0.9 * z1**2
    J[:, 1, 0] = z2 * e * 0.5 / np.cosh(z1) ** 2 + z1
    J[:, 1, 1] = e
    return J


# swirl: x = R(k |z|) z. Turns each circle by an angle that grows with the radius: shapes bend, areas stay.
_K_SWIRL = 0.8


def _swirl(z: Points, k: float, xp: object = np) -> Points:
    r = xp.sqrt(xp.sum(z * z, axis=-1))
    c, s = xp.cos(k * r), xp.sin(k * r)
    return xp.stack([c * z[:, 0] - s * z[:, 1], s * z[:, 0] + c * z[:, 1]], axis=-1)


def _swirl_jacobian(z: Points) -> np.ndarray:
    r = np.sqrt(np.sum(z * z, axis=-1))
    th = _K_SWIRL * r
    c, s = np.cos(th), np.sin(th)
    R = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)
    dR = np.stack([np.stack([-s, -c], -1), np.stack([c, -s], -1)], -2)
    grad_th = _K_SWIRL * z / np.where(r > 0, r, 1.0)[:, None]  # d theta / dz (0 at the origin by symmetry)
    return R + np.einsum("nij,nj,nk->nik", dR, z, grad_th)


MAPS: dict[str, Map2D] = {
    m.name: m
    for m in (
        Map2D(
            "radial",
            "x = (1 + |z|^2 / 4) z: stretches more and more towards the outside",
            _radial_forward,
            _radial_inverse,
            _radial_jacobian,
        ),
        Map2D(
            "triangular",
            "x1 = z1 + 0.3 z1^3, x2 = z2 exp(tanh(z1) / 2) + z1^2 / 2: a triangular Jacobian",
            _tri_forward,
            _tri_inverse,
            _tri_jacobian,
        ),
        Map2D(
            "swirl",
            "x = R(0.8 |z|) z: turns each circle by an angle growing with its radius; keeps areas",
            lambda z, xp=np: _swirl(z, _K_SWIRL, xp),
            lambda x: _swirl(x, -_K_SWIRL),
            _swirl_jacobian,
        ),
    )
}


def get_map(name: str) -> Map2D:
    """The nonlinear map called ``name`` (one of MAPS)."""
    if not isinstance(name, str) or name not in MAPS:
        raise ValueError(f"unknown map {name!r}; choose one of {sorted(MAPS)}")
    return MAPS[name]


def pushed_density_map(m: Map2D, x: Points, base: str = "gaussian") -> np.ndarray:
    """p_X(x) = p_Z(z) / |det J_f(z)| with z = f^-1(x).

    Shapes: x (N, 2) -> (N,).
    """
    if not isinstance(m, Map2D):
        raise TypeError(f"m must be a Map2D, e.g. get_map('swirl'), got {describe(m)}.")
    z = m.inverse(x)
    return _base(base)(z) / np.abs(m.det(z))


def bin_probabilities(
    m: Map2D, x_samples: Points, lim: float = 5.0, bins: int = 30, base: str = "gaussian"
) -> tuple[np.ndarray, np.ndarray]:
    """Probability of each square bin of [-lim, lim]^2 two ways: the fraction of samples x = f(z) in it,
    and the change-of-variables density at its centre times its area.

    Shapes: x_samples (N, 2) -> (hist, formula), each (bins, bins), rows along x2.
    """
    x_samples = _points(x_samples, "x_samples")
    if len(x_samples) == 0:
        raise ValueError("x_samples is empty: there are no samples to count in the bins.")
    lim, bins = positive_number(lim, "lim"), count(bins, "bins", minimum=1, maximum=4000)
    edges = np.linspace(-lim, lim, bins + 1)
    H, _, _ = np.histogram2d(x_samples[:, 0], x_samples[:, 1], bins=[edges, edges])
    _, _, pts = grid_points(-lim, lim, bins)
    area = (2.0 * lim / bins) ** 2
    return H.T / len(x_samples), pushed_density_map(m, pts, base).reshape(bins, bins) * area


def finite_difference_jacobian(f: Callable[[Points], Points], z: Points, eps: float = 1e-5) -> np.ndarray:
    """J[n, i, j] = (f_i(z_n + eps e_j) - f_i(z_n - eps e_j)) / (2 eps), central differences.

    Shapes: z (N, 2) -> (N, 2, 2).
    """
    z = _points(z, "z")
    if not real_number(eps, "eps") > 0:
        raise ValueError(f"eps must be a positive step, got {eps:g}: a central difference divides by 2 eps.")
    cols = []
    for j in range(2):
        e = np.zeros(2)
        e[j] = eps
        cols.append((_mapped(f, z + e, "f") - _mapped(f, z - e, "f")) / (2.0 * eps))
    return np.stack(cols, axis=-1)


def cell_area_ratios(
    f: Callable[[Points], Points], lo: float = -2.0, hi: float = 2.0, n: int = 20, sub: int = 4
) -> tuple[Points, np.ndarray]:
    """For each cell of an n x n grid on [lo, hi]^2: its centre and area(f(cell)) / area(cell).

    The image's outline is traced with ``sub`` points per side and measured by the shoelace formula.
    Shapes: returns centres (n * n, 2), ratios (n * n,).
    """
    lo, hi, n = real_number(lo, "lo"), real_number(hi, "hi"), count(n, "n", minimum=1, maximum=4000)
    sub = count(sub, "sub", minimum=1, maximum=MAX_SIZE)
    h = (hi - lo) / n
    _, _, centres = grid_points(lo, hi, n)
    t = np.linspace(-0.5, 0.5, sub + 1)[:-1]
    side = np.concatenate(
        [
            np.column_stack([t, np.full_like(t, -0.5)]),
            np.column_stack([np.full_like(t, 0.5), t]),
            np.column_stack([-t, np.full_like(t, 0.5)]),
            np.column_stack([np.full_like(t, -0.5), -t]),
        ]
    )  # (4 sub, 2) counter-clockwise outline of the unit cell centred at 0
    outline = centres[:, None, :] + h * side[None]  # (N, 4 sub, 2)
    img = _mapped(f, outline.reshape(-1, 2), "f").reshape(outline.shape)
    x, y = img[..., 0], img[..., 1]
    areas = 0.5 * np.abs(np.sum(x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y, axis=1))
    return centres, areas / (h * h)


# --------------------------------------------------------------------------------------
# What determinants cost, and why we take logs
# --------------------------------------------------------------------------------------
def _best_time(fn: Callable[[], object], repeats: int) -> float:
    """Best of ``repeats`` runs of fn(), in CPU seconds of this process (time.process_time).

    CPU time leaves out the time other programs hold the processor, which on a busy machine multiplies
    wall-clock times of a few milliseconds or more several times over. Where the CPU clock is too coarse
    to see the call at all (it reads 0 on some systems), wall-clock seconds are used instead.
    """
    for clock in (time.process_time, time.perf_counter):
        best = float("inf")
        for _ in range(repeats):
            t0 = clock()
            fn()
            best = min(best, clock() - t0)
        if best > 0:
            break
    return best


def _numpy_dense_log_det(M: np.ndarray) -> float:
    return float(np.linalg.slogdet(M)[1])


def _numpy_triangular_log_det(T: np.ndarray) -> float:
    return float(np.sum(np.log(np.abs(np.diagonal(T)))))


def time_log_dets(
    dims: list[int] | tuple[int, ...],
    repeats: int = 5,
    seed: int = 0,
    dense: Callable[[object], object] = _numpy_dense_log_det,
    triangular: Callable[[object], object] = _numpy_triangular_log_det,
    convert: Callable[[np.ndarray], object] = np.asarray,
) -> dict[str, np.ndarray]:
    """Best-of-``repeats`` CPU seconds for log|det M| of a dense d x d matrix (``dense``, LU: O(d^3)) and of a
    lower-triangular one (``triangular``, sum of log|diagonal|: O(d)), for each d in ``dims``.

    The matrices are made in numpy and passed through ``convert`` first (e.g. ``torch.from_numpy``), so
    the same function times numpy or torch. Shapes: returns {'dims', 'dense', 'triangular'}, each (K,).
    """
    rng = np.random.default_rng(seed_count(seed, for_numpy=True))
    repeats = count(repeats, "repeats", minimum=1)
    dims = [count(d, "each of dims", minimum=1, maximum=MAX_SIZE) for d in _sizes(dims)]
    dense, triangular = (
        function(fn, name, f"{name}(M) -> log|det M|", 1) for fn, name in ((dense, "dense"), (triangular, "triangular"))
    )
    dense_t, tri_t = [], []
    for d in dims:
        M = rng.standard_normal((d, d)) / np.sqrt(d) + np.eye(d)
        Mc, Tc = convert(M), convert(np.tril(M))
        dense_t.append(_best_time(lambda M=Mc: dense(M), repeats))
        tri_t.append(_best_time(lambda T=Tc: triangular(T), repeats))
    return {"dims": np.asarray(dims), "dense": np.asarray(dense_t), "triangular": np.asarray(tri_t)}


def growth_ratio(times: np.ndarray) -> float:
    """How many times longer the largest size took than the smallest: times[-1] / times[0].

    Shapes: times (K,) -> float.
    """
    times = real_array(times, "times").reshape(-1)
    if times.size == 0:
        raise ValueError("times is empty: there is no smallest or largest size to compare.")
    if not (times > 0).all():
        raise ValueError(f"times must be positive durations, got {times.min():g}: a ratio to 0 is meaningless.")
    return float(times[-1] / times[0])


def det_overflow_table(dims: list[int] | tuple[int, ...], value: float) -> list[tuple[int, float, float, float]]:
    """For M = value * I of size d: (d, det M by np.linalg.det, log|det M| by slogdet, d log|value|).

    det is value^d: it overflows to inf (|value| > 1) or underflows to 0 (|value| < 1) once d is a few
    hundred to a thousand, while the log-determinant d log|value| stays an ordinary number.
    Shapes: returns K rows of 4 numbers.
    """
    value, rows = real_number(value, "value"), []
    dims = [count(d, "each of dims", minimum=1, maximum=MAX_SIZE) for d in _sizes(dims)]
    with np.errstate(over="ignore", under="ignore"):
        for d in dims:
            M = value * np.eye(d)
            rows.append(
                (int(d), float(np.linalg.det(M)), float(np.linalg.slogdet(M)[1]), float(d * np.log(abs(value))))
            )
    return rows


def _sizes(dims: object) -> list:
    """dims as a non-empty list of sizes; TypeError or ValueError naming the problem."""
    if isinstance(dims, (str, bytes)) or not hasattr(dims, "__iter__"):
        raise TypeError(f"dims must be a list of matrix sizes, e.g. [10, 100, 1000], got {describe(dims)}.")
    dims = list(dims)
    if not dims:
        raise ValueError("dims is empty: give at least one matrix size, e.g. [10, 100, 1000].")
    return dims


def _points(p: Points, name: str) -> Points:
    p = real_array(p, name, finite=False)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"{name} must have shape (N, 2), one point of the plane per row; got shape {p.shape}.")
    if not np.all(np.isfinite(p)):
        raise ValueError(
            f"{name} contains NaN or infinity (row {int(np.argmax(~np.isfinite(p).all(axis=1)))}): "
            "a density or a map needs finite points."
        )
    return p
