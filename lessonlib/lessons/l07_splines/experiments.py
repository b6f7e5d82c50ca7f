"""Notebook 07's own computations: one spline in 1D (what the widget shows), spline coupling against affine
coupling at equal parameter count and equal steps, and what goes wrong (tails, too few bins, unconstrained
derivatives, float32 next to knots).

Everything here computes; nothing draws (the widget and the figures import from here).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from lessonlib.cov1d import Density1D
from lessonlib.flows import Flow, make_flow, standard_normal
from lessonlib.splines import (
    Knots,
    RationalQuadraticSpline,
    SplineCoupling,
    bin_quadratic,
    check_knots,
    rq_spline,
    rq_spline_inverse,
    spline_parameter_count,
)
from lessonlib.toy2d import Target, kl_gap, target_sampler
from lessonlib.training import Diverged, Trainer, train

__all__ = [
    "BOUND",
    "spline_knots",
    "push",
    "pull",
    "pushed_density",
    "bin_masses",
    "resample_knots",
    "WaveConditioner",
    "wave_coupling",
    "affine_parameter_count",
    "matched_affine_width",
    "FamilyRun",
    "train_family",
    "train_depths",
    "trimodal_1d",
    "fit_1d_spline",
    "unconstrained_derivative",
    "float32_next_to_knots",
]

#: The widget's spline acts on [-BOUND, BOUND]; beyond, its tails are straight lines.
BOUND = 3.0


# ------------------------------------------------------------------------------------------
# One spline in 1D, as the widget shows it (float64 numpy in, numpy out)
# ------------------------------------------------------------------------------------------


def spline_knots(z, x, d) -> Knots:
    """Knots through (z_k, x_k) with derivatives d_k, checked (ValueError in words if not monotone).

    Shapes: z, x, d (K + 1,) -> Knots of (K + 1,), float64.
    """
    return check_knots(Knots(*(torch.as_tensor(np.asarray(t, dtype=np.float64)) for t in (z, x, d))))


def _batched(knots: Knots, n: int) -> Knots:
    return Knots(*(t.expand(n, -1) for t in knots))


def push(z: np.ndarray, knots: Knots) -> tuple[np.ndarray, np.ndarray]:
    """x = f(z) and log f'(z) for the spline through ``knots``. Shapes: z (N,) -> (N,), (N,)."""
    zt = torch.as_tensor(np.asarray(z, dtype=np.float64))
    x, log_d = rq_spline(zt, _batched(knots, zt.shape[0]))
    return x.numpy(), log_d.numpy()


def pull(x: np.ndarray, knots: Knots) -> tuple[np.ndarray, np.ndarray]:
    """z = f^-1(x) and log (f^-1)'(x) in closed form. Shapes: x (N,) -> (N,), (N,)."""
    xt = torch.as_tensor(np.asarray(x, dtype=np.float64))
    z, log_d = rq_spline_inverse(xt, _batched(knots, xt.shape[0]))
    return z.numpy(), log_d.numpy()


def pushed_density(base: Density1D, knots: Knots, x: np.ndarray) -> np.ndarray:
    """p_X(x) = p_Z(f^-1(x)) |(f^-1)'(x)| = p_Z(z) / f'(z). Shapes: x (N,) -> (N,)."""
    z, log_d = pull(x, knots)
    return base.pdf(z) * np.exp(log_d)


_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(12)
_PANELS = 16


def bin_masses(base: Density1D, knots: Knots) -> dict[str, np.ndarray]:
    """The probability in each bin, counted twice: in z from the base's CDF, F_Z(z_{k+1}) - F_Z(z_k), and in x
    by quadrature of the pushed density over [x_k, x_{k+1}]: 16 panels, 12 Gauss-Legendre points in x each.
    The panels end at the images of equally spaced z, so they are short where the spline is flat and p_X peaks
    (the nodes and the integrand are in x: the quadrature never uses F_Z). The two counts agree because a
    monotone map carries each bin's probability along (mass conservation).

    Returns "z" and "x" (K,), and "below", "above" (the base's mass in the tails, beyond the end knots).
    """
    z = knots.u.numpy()
    z_cuts = z[:-1, None] + (z[1:] - z[:-1])[:, None] * np.linspace(0.0, 1.0, _PANELS + 1)  # (K, P + 1)
    cuts = push(z_cuts.ravel(), knots)[0].reshape(z_cuts.shape)
    lo, hi = cuts[:, :-1, None], cuts[:, 1:, None]
    pts = 0.5 * (hi + lo) + 0.5 * (hi - lo) * _NODES  # (K, P, 12)
    dens = pushed_density(base, knots, pts.ravel()).reshape(pts.shape)
    cdf = base.cdf(z)
    return {
        "z": np.diff(cdf),
        "x": (0.5 * (hi - lo)[..., 0] * (dens @ _WEIGHTS)).sum(-1),
        "below": float(cdf[0]),
        "above": float(1.0 - cdf[-1]),
    }


def resample_knots(knots: Knots, n_bins: int, bound: float = BOUND) -> Knots:
    """The same map seen through n_bins equal bins in z on [-bound, bound]: x_k = f(z_k), d_k = f'(z_k).

    A monotone f gives increasing x_k and positive d_k, so the new knots are valid. Shapes: -> Knots of (n_bins + 1,).
    """
    z = np.linspace(-bound, bound, n_bins + 1)
    x, log_d = push(z, knots)
    return spline_knots(z, x, np.exp(log_d))


# ------------------------------------------------------------------------------------------
# The 2D view: one spline coupling layer whose knots move with the kept coordinate
# ------------------------------------------------------------------------------------------


class WaveConditioner(nn.Module):
    """A hand-made conditioner for a 2D spline coupling: raw heights and derivatives that wave with x1.

    raw height_k = bend sin(x1 + 2 pi k / K), raw derivative_j = bend cos(x1 + 2 pi j / K), raw widths 0:
    with bend = 0 every bin is straight and the layer is the identity.

    Shapes: (B, 1) -> (B, 3K - 1).
    """

    def __init__(self, bend: float, n_bins: int):
        super().__init__()
        self.bend, self.n_bins = float(bend), int(n_bins)

    def forward(self, kept: Tensor) -> Tensor:
        K = self.n_bins
        phase = kept + 2 * math.pi * torch.arange(K, dtype=kept.dtype) / K  # (B, K)
        zeros = torch.zeros_like(phase)
        return torch.cat([zeros, self.bend * torch.sin(phase), self.bend * torch.cos(phase[:, 1:])], dim=1)


def wave_coupling(bend: float, n_bins: int, bound: float = BOUND) -> SplineCoupling:
    """The library's SplineCoupling with mask (1, 0) and a WaveConditioner: x1 = z1, z2 = g(x2; knots(x1))."""
    return SplineCoupling(
        torch.tensor([1.0, 0.0], dtype=torch.float64), WaveConditioner(bend, n_bins), n_bins=n_bins, bound=bound
    )


# ------------------------------------------------------------------------------------------
# Affine against spline coupling, at equal parameter count and equal steps
# ------------------------------------------------------------------------------------------


def affine_parameter_count(dim: int, hidden: tuple[int, ...]) -> int:
    """Trainable numbers in one AffineCoupling: its MLP from all D coordinates (masked) to D log-scales and D shifts."""
    sizes = (dim, *hidden, 2 * dim)
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


def matched_affine_width(spline_hidden: tuple[int, int], n_bins: int, dim: int = 2) -> int:
    """The width h of an affine coupling's two hidden layers (h, h) whose parameter count comes closest to (and
    not below) a spline coupling's with ``spline_hidden`` and ``n_bins``, both with half the coordinates kept."""
    want = spline_parameter_count(dim // 2, dim - dim // 2, n_bins, spline_hidden)
    return next(h for h in range(1, 10_000) if affine_parameter_count(dim, (h, h)) >= want)


@dataclass
class FamilyRun:
    """One trained flow: its layer kind, depth, seed, parameter count, KL gap (nats) with its Monte Carlo
    standard error, and the CPU seconds per training step."""

    layer: str
    n_layers: int
    seed: int
    parameters: int
    kl: float
    kl_se: float
    seconds_per_step: float
    flow: Flow


def train_family(
    layer: str,
    n_layers: int,
    seed: int,
    target: Target,
    steps: int,
    hidden: tuple[int, ...],
    lr: float = 5e-3,
    batch_size: int = 256,
    bound: float = 4.0,
    n_bins: int = 8,
) -> FamilyRun:
    """make_flow(layer=...) trained by the course's Trainer on fresh target samples, the last quarter of the steps
    at a fifth of the learning rate; KL gap on 20,000 fresh samples.

    At a fixed learning rate the minibatch noise keeps a fit jittering around its best; the smaller last steps
    let it settle, which makes the KL gap steadier from seed to seed. A run that diverges in the first part (8 affine
    layers did in 1 of 16 runs at 5e-3) goes on from the step before, at the smaller rate, to the same number of
    steps. The time per step is the process's CPU time over the steps, so other programs on the machine do not count.
    """
    flow = make_flow(2, n_layers, layer=layer, hidden=hidden, seed=seed, bound=bound, n_bins=n_bins)
    trainer = Trainer(flow, target_sampler(target), lr=lr, batch_size=batch_size, seed=seed)
    t0 = time.process_time()
    try:
        trainer.run(steps - steps // 4)
    except Diverged:  # the Trainer has put the flow back as it was before the step that blew up: go on, smaller
        pass
    trainer.lr = lr / 5
    trainer.run(steps - trainer.steps)
    per_step = (time.process_time() - t0) / steps
    kl, se = kl_gap(flow.log_prob, target)
    return FamilyRun(layer, n_layers, seed, sum(p.numel() for p in flow.parameters()), kl, se, per_step, flow)


def train_depths(
    layer: str,
    depths: tuple[int, ...],
    target: Target,
    steps: int,
    hidden: tuple[int, ...],
    known: FamilyRun | None = None,
    seed: int = 0,
) -> dict[int, FamilyRun]:
    """One run of ``layer`` at each depth, same seed, steps and hidden sizes, together with ``known`` (a run of the
    same layer and seed already trained at another depth); sorted by depth."""
    if known is not None and (known.layer, known.seed) != (layer, seed):
        raise ValueError(
            f"the known run is {known.layer!r} with seed {known.seed}, not {layer!r} with seed {seed}: "
            "a depth curve compares one recipe at several depths."
        )
    runs = {known.n_layers: known} if known is not None else {}
    for depth in depths:
        runs[depth] = train_family(layer, depth, seed, target, steps, hidden=hidden)
    return dict(sorted(runs.items()))


# ------------------------------------------------------------------------------------------
# What goes wrong
# ------------------------------------------------------------------------------------------


def trimodal_1d() -> Target:
    """Three Gaussian bumps on the line (centres -2, 0.2, 2; widths 0.3, 0.45, 0.3), a 1D target with exact log p.

    Shapes: log_prob (B, 1) -> (B,); sample(n, generator) -> (n, 1).
    """
    centres, widths = torch.tensor([-2.0, 0.2, 2.0]), torch.tensor([0.3, 0.45, 0.3])

    def log_prob(x: Tensor) -> Tensor:
        c, w = centres.to(x), widths.to(x)
        comp = -0.5 * ((x - c) / w) ** 2 - torch.log(w) - 0.5 * math.log(2 * math.pi)
        return torch.logsumexp(comp, dim=1) - math.log(3)

    def sample(n: int, gen: torch.Generator) -> Tensor:
        k = torch.randint(3, (n,), generator=gen)
        return (centres[k] + widths[k] * torch.randn(n, generator=gen))[:, None].double()

    return Target("three bumps", log_prob, sample, (-3.5, 3.5, 0.0, 1.0), dim=1)


def fit_1d_spline(
    n_bins: int, target: Target, steps: int = 300, seed: int = 0, bound: float = 3.5
) -> tuple[Flow, float, float]:
    """A 1D flow x = f(z), z ~ N(0, 1), f one learnable spline with n_bins equal bins on [-bound, bound]
    (starting as the identity), trained on fresh target samples. Returns (flow, KL gap, its standard error)."""
    z = torch.linspace(-bound, bound, n_bins + 1)
    flow = Flow(standard_normal(1), RationalQuadraticSpline(z, z, torch.ones(n_bins + 1)))
    train(flow, target_sampler(target), steps=steps, lr=0.05, batch_size=256, seed=seed)
    kl, se = kl_gap(flow.log_prob, target)
    return flow, kl, se


def unconstrained_derivative(raw_derivative: float = -1.5, n: int = 2001) -> dict[str, np.ndarray | float]:
    """What a negative knot derivative does to the formulas, computed without the checks that refuse it.

    Knots: 4 equal bins on [-3, 3] on the diagonal, all derivatives 1 except the middle one, set to
    ``raw_derivative`` (as a network whose output is not passed through softplus might say). Returns the grid
    z, x = f(z), the round trip z_back = f^-1(f(z)), the fraction of z where f decreases, and the worst error.
    """
    z_knots = torch.linspace(-3.0, 3.0, 5, dtype=torch.float64)
    d = torch.ones(5, dtype=torch.float64)
    d[2] = raw_derivative
    z = torch.linspace(-3.0, 3.0, n, dtype=torch.float64)
    knots = Knots(*(t.expand(n, -1) for t in (z_knots, z_knots, d)))
    x, _ = rq_spline(z, knots)
    z_back, _ = rq_spline_inverse(x, knots)
    err = (z_back - z).abs()
    return {
        "z": z.numpy(),
        "x": x.numpy(),
        "z_back": z_back.numpy(),
        "decreasing": float((x.diff() < 0).double().mean()),
        "worst": float(err[torch.isfinite(err)].max()),
        "nan": int((~torch.isfinite(z_back)).sum()),
    }


def float32_next_to_knots(derivative: float = 1e-3, n: int = 40) -> dict[str, np.ndarray]:
    """Float32 inverses just left of a knot whose derivative is small: the root measured from the bin's left knot
    against the library's, measured from the nearer knot.

    Knots at -3, -1.5, 0, 1.5, 3 on the diagonal, derivative 1 except ``derivative`` at 0. Points z = -10^-6 ...
    -10^-0.5 (just left of 0, so xi is near 1 in the bin [-1.5, 0]) are mapped in float64, rounded to float32, and
    sent back both ways in float32. Returns "distance" to the knot, "from_left" and "from_nearer", the errors
    |z_back - z| against a float64 inverse of the same float32 points.
    """
    grid = torch.tensor([-3.0, -1.5, 0.0, 1.5, 3.0], dtype=torch.float64)
    d = torch.ones(5, dtype=torch.float64)
    d[2] = derivative
    dist = torch.logspace(-6, -0.5, n, dtype=torch.float64)
    k64 = Knots(*(t.expand(n, -1) for t in (grid, grid, d)))
    k32 = Knots(*(t.float() for t in k64))
    x32 = rq_spline(-dist, k64)[0].float()
    exact = rq_spline_inverse(x32.double(), k64)[0]
    a, b, c = bin_quadratic(x32, k32)
    xi = 2 * c / (-b - torch.sqrt((b * b - 4 * a * c).clamp_min(0)))  # the same stable root, from the left knot
    from_left = grid[1].float() + xi * (grid[2] - grid[1]).float()
    from_nearer = rq_spline_inverse(x32, k32)[0]
    return {
        "distance": dist.numpy(),
        "from_left": (from_left.double() - exact).abs().numpy(),
        "from_nearer": (from_nearer.double() - exact).abs().numpy(),
    }
