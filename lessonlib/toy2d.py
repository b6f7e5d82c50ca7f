"""2D target densities with closed-form log-densities, for measuring how well a flow fits.

Because log p(x) is known exactly, the fit can be scored as a KL divergence in nats:

    KL(p || q) = E_{x~p}[log p(x) - log q(x)] = (mean NLL of the model) - (entropy of the target),

estimated by Monte Carlo with its standard error. Zero means a perfect fit; it is never negative.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from lessonlib.bijectors import check_batch, check_dtype
from lessonlib.inputs import MAX_SIZE, count, describe, function, positive_number, real_array, real_number
from lessonlib.inputs import seed as read_seed

__all__ = [
    "Target",
    "TARGETS",
    "two_moons",
    "gaussian_ring",
    "checkerboard",
    "banana",
    "kl_gap",
    "target_sampler",
    "grid_density",
]

_LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class Target:
    """A density on the plane (or, with ``dim``, on D coordinates): ``log_prob(x)`` (B, D) -> (B,) and
    ``sample(n, generator)`` -> (n, D).

    Both check what they are given (``lessonlib.inputs``): x a finite (B, D) batch, n a count, a torch.Generator.
    """

    name: str
    log_prob: Callable[[Tensor], Tensor]
    sample: Callable[[int, torch.Generator], Tensor]
    extent: tuple[float, float, float, float]  # xmin, xmax, ymin, ymax for plots
    entropy: float | None = None  # exact entropy in nats, where a closed form exists
    dim: int = 2  # coordinates per point

    def __post_init__(self) -> None:
        object.__setattr__(self, "log_prob", _checked_density(self.log_prob, self.dim))
        object.__setattr__(self, "sample", _checked_sampler(self.sample))

    def entropy_estimate(self, n: int = 200_000, seed: int = 0) -> tuple[float, float]:
        """(entropy, standard error): exact when known (error 0), else Monte Carlo -E[log p]."""
        n = count(n, "n", minimum=2, maximum=10**8, why="a Monte Carlo estimate and its error need 2 samples or more")
        seed = read_seed(seed)
        if self.entropy is not None:
            return self.entropy, 0.0
        x = self.sample(n, torch.Generator().manual_seed(seed)).double()
        lp = self.log_prob(x)
        return float(-lp.mean()), float(lp.std() / math.sqrt(n))


def _checked_density(log_prob: Callable[[Tensor], Tensor], dim: int = 2) -> Callable[[Tensor], Tensor]:
    """log_prob that first checks x (a finite (B, dim) batch; float64 unless x is a floating tensor already)."""

    def checked(x: Tensor) -> Tensor:
        keep = isinstance(x, Tensor) and x.is_floating_point()
        return log_prob(check_batch(x, dim, "x", None if keep else torch.float64))

    return checked


def _checked_sampler(sample: Callable[[int, torch.Generator], Tensor]) -> Callable[[int, torch.Generator], Tensor]:
    """sample that first checks n (a count) and gen (a torch.Generator)."""

    def checked(n: int, gen: torch.Generator) -> Tensor:
        if not isinstance(gen, torch.Generator):
            raise TypeError(f"gen must be a torch.Generator (torch.Generator().manual_seed(0)), got {describe(gen)}.")
        return sample(count(n, "n", maximum=10**8, why="draw large samples in batches"), gen)

    return checked


def _mixture(centers: Tensor, sigma: float) -> tuple[Callable, Callable]:
    """Equal-weight isotropic Gaussian mixture with the given centres (K, 2) and common sigma."""
    K = centers.shape[0]

    def log_prob(x: Tensor) -> Tensor:
        c = centers.to(x)
        d2 = ((x[:, None, :] - c[None]) ** 2).sum(-1)  # (B, K)
        comp = -0.5 * d2 / sigma**2 - 2 * math.log(sigma) - _LOG_2PI
        return torch.logsumexp(comp, dim=1) - math.log(K)

    def sample(n: int, gen: torch.Generator) -> Tensor:
        k = torch.randint(K, (n,), generator=gen)
        return centers[k] + sigma * torch.randn(n, 2, generator=gen, dtype=centers.dtype)

    return log_prob, sample


def two_moons(sigma: float = 0.1, per_arc: int = 24) -> Target:
    """Two interleaved half-circles (radius 1), each a string of Gaussians of width ``sigma``."""
    sigma, per_arc = positive_number(sigma, "sigma"), count(per_arc, "per_arc", minimum=1, maximum=MAX_SIZE)
    t = torch.linspace(0, math.pi, per_arc, dtype=torch.float64)
    upper = torch.stack([torch.cos(t) - 0.5, torch.sin(t) - 0.25], 1)
    lower = torch.stack([0.5 - torch.cos(t), 0.25 - torch.sin(t)], 1)
    lp, s = _mixture(torch.cat([upper, lower]), sigma)
    return Target("two moons", lp, s, (-2.0, 2.0, -1.6, 1.6))


def gaussian_ring(n_modes: int = 8, radius: float = 2.0, sigma: float = 0.2) -> Target:
    """``n_modes`` Gaussians evenly spaced on a circle."""
    n_modes, radius = count(n_modes, "n_modes", minimum=1, maximum=MAX_SIZE), real_number(radius, "radius")
    sigma = positive_number(sigma, "sigma")
    t = torch.arange(n_modes, dtype=torch.float64) * 2 * math.pi / n_modes
    lp, s = _mixture(radius * torch.stack([torch.cos(t), torch.sin(t)], 1), sigma)
    r = radius + 4 * sigma
    return Target("Gaussian ring", lp, s, (-r, r, -r, r))


def checkerboard(n: int = 4, size: float = 4.0) -> Target:
    """Uniform on the dark squares of an n-by-n board covering [-size/2, size/2]^2 (n even)."""
    n, size = count(n, "n", minimum=2, maximum=MAX_SIZE), positive_number(size, "size")
    if n % 2:
        raise ValueError("checkerboard needs an even number of squares per side")
    cell = size / n
    n_dark = n * n // 2
    log_density = -math.log(n_dark * cell * cell)

    def log_prob(x: Tensor) -> Tensor:
        ij = torch.floor((x + size / 2) / cell)
        inside = ((ij >= 0) & (ij < n)).all(dim=1)
        dark = (ij.sum(dim=1) % 2 == 0) & inside
        return torch.where(dark, torch.full_like(x[:, 0], log_density), torch.full_like(x[:, 0], -math.inf))

    def sample(m: int, gen: torch.Generator) -> Tensor:
        k = torch.randint(n_dark, (m,), generator=gen)
        row = k // (n // 2)
        col = 2 * (k % (n // 2)) + (row % 2)
        u = torch.rand(m, 2, generator=gen, dtype=torch.float64)
        return torch.stack([col + u[:, 0], row + u[:, 1]], 1) * cell - size / 2

    h = size / 2
    return Target("checkerboard", log_prob, sample, (-h, h, -h, h), entropy=-log_density)


def banana(curvature: float = 0.5, sigma: float = 0.5) -> Target:
    """x1 ~ N(0, 1), x2 | x1 ~ N(curvature * (x1^2 - 1), sigma^2): a bent Gaussian."""
    curvature, sigma = real_number(curvature, "curvature"), positive_number(sigma, "sigma")

    def log_prob(x: Tensor) -> Tensor:
        x1, x2 = x[:, 0], x[:, 1]
        mean2 = curvature * (x1**2 - 1)
        return -0.5 * x1**2 - 0.5 * ((x2 - mean2) / sigma) ** 2 - math.log(sigma) - _LOG_2PI

    def sample(n: int, gen: torch.Generator) -> Tensor:
        e = torch.randn(n, 2, generator=gen, dtype=torch.float64)
        x1 = e[:, 0]
        return torch.stack([x1, curvature * (x1**2 - 1) + sigma * e[:, 1]], 1)

    entropy = 0.5 * (1 + _LOG_2PI) + 0.5 * (1 + _LOG_2PI) + math.log(sigma)
    return Target("banana", log_prob, sample, (-3.5, 3.5, -2.0, 4.0), entropy=entropy)


#: name -> factory with default settings
TARGETS: dict[str, Callable[[], Target]] = {
    "two_moons": two_moons,
    "gaussian_ring": gaussian_ring,
    "checkerboard": checkerboard,
    "banana": banana,
}


def kl_gap(
    log_q: Callable[[Tensor], Tensor], target: Target, n: int = 20_000, seed: int = 1, dtype: torch.dtype | None = None
) -> tuple[float, float]:
    """Monte Carlo KL(p || q) in nats and its standard error, on fresh samples from the target.

    ``log_q`` is the model's log-density, e.g. ``flow.log_prob``; it receives the samples in ``dtype``
    (default: torch's default dtype, matching a model built with default settings). Uses the paired estimator
    mean(log p(x) - log q(x)), which has far less variance than NLL minus a separate entropy estimate.
    """
    function(log_q, "log_q", "the model's log-density log_q(x), such as flow.log_prob", 1)
    dtype = check_dtype(dtype)
    if not isinstance(target, Target):
        raise TypeError(f"target must be a lessonlib.toy2d Target (e.g. two_moons()), got {describe(target)}.")
    n = count(n, "n", minimum=2, maximum=10**8, why="a Monte Carlo estimate and its error need 2 samples or more")
    x = target.sample(n, torch.Generator().manual_seed(read_seed(seed)))
    with torch.no_grad():
        lq = log_q(x.to(dtype or torch.get_default_dtype()))
        if not isinstance(lq, Tensor) or tuple(lq.shape) != (n,):
            got = f"shape {tuple(lq.shape)}" if isinstance(lq, Tensor) else describe(lq)
            raise ValueError(
                f"log_q must return one log-density per sample, a tensor of shape ({n},); it returned {got}."
            )
        if torch.isnan(lq).any():
            raise ValueError(
                "log_q returned NaN for some samples: the model has no density there (NaN parameters after "
                "a training blow-up?), so the KL gap would be NaN."
            )
        diff = target.log_prob(x) - lq.to(x)
    return float(diff.mean()), float(diff.std() / math.sqrt(n))


def target_sampler(target: Target) -> Callable[[int, torch.Generator], Tensor]:
    """x ~ p, fresh samples of ``target`` in torch's default dtype, as ``lessonlib.training.train`` expects.

    Shapes: sampler(n, generator) -> (n, 2).
    """

    def sample(n: int, gen: torch.Generator) -> Tensor:
        return target.sample(n, gen).to(torch.get_default_dtype())

    return sample


def grid_density(
    log_prob: Callable[[Tensor], Tensor], extent: tuple[float, float, float, float], n: int = 100
) -> tuple[np.ndarray, float]:
    """The density exp(log_prob) at the centres of an n-by-n grid over ``extent``, and one cell's area.

    The sum of density * area approximates the integral over the box (midpoint rule).

    Shapes: -> density (n, n) with rows along the second coordinate, area scalar.
    """
    box = real_array(extent, "extent")
    if box.shape != (4,):
        raise ValueError(f"extent must be 4 numbers (xmin, xmax, ymin, ymax), got shape {box.shape}.")
    x0, x1, y0, y1 = (float(v) for v in box)
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"extent must be (xmin, xmax, ymin, ymax) with min < max, got {extent}.")
    n = count(n, "n", minimum=1, maximum=4000, why="an n x n grid of 16 million points is the most that fits")
    function(log_prob, "log_prob", "log_prob(x), one log-density per row of x, such as flow.log_prob", 1)
    dx, dy = (x1 - x0) / n, (y1 - y0) / n
    xs = x0 + dx * (np.arange(n) + 0.5)
    ys = y0 + dy * (np.arange(n) + 0.5)
    gx, gy = np.meshgrid(xs, ys)
    pts = torch.as_tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=torch.get_default_dtype())
    with torch.no_grad():
        lp = log_prob(pts)
    if not isinstance(lp, Tensor) or tuple(lp.shape) != (n * n,):
        got = f"shape {tuple(lp.shape)}" if isinstance(lp, Tensor) else describe(lp)
        raise ValueError(f"log_prob must return one log-density per point, shape ({n * n},); it returned {got}.")
    if torch.isnan(lp).any():
        raise ValueError("log_prob returned NaN at some grid points: the model has no density there (NaN parameters?).")
    return torch.exp(lp).double().numpy().reshape(n, n), dx * dy
