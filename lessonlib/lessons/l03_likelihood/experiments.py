"""Notebook 03's computations: a 1D flow's density on a grid, its mass, its modes, how well its samples
follow it, and the two-bump flow behind the NLL explorer.

Nothing here draws: ``plots`` and ``widgets`` show these numbers, ``exercises`` may use them.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from lessonlib.flows import Flow
from lessonlib.monotone1d import mixture_logit_cdf_and_log_deriv
from lessonlib.training import TrainResult

__all__ = [
    "X_RANGE",
    "as_flat_array",
    "density_on_grid",
    "mass_by_quadrature",
    "count_peaks",
    "sample_cdf_gap",
    "DensitySnapshots",
    "two_bump_terms",
    "TwoBump",
]

#: Old Faithful eruption durations (minutes) are drawn on this window.
X_RANGE = (1.0, 6.0)


def as_flat_array(x: Tensor | np.ndarray) -> np.ndarray:
    """The values of x as a flat numpy array (a tensor keeps its dtype). Shapes: any -> (x.numel(),)."""
    return x.detach().numpy().ravel() if isinstance(x, Tensor) else np.asarray(x, dtype=float).ravel()


def density_on_grid(flow: Flow, grid: np.ndarray, log_det: bool = True) -> np.ndarray:
    """p_X(x) = exp(log p_Z(f^-1(x)) + log|det J_{f^-1}(x)|) on a grid; with log_det=False the broken p_Z(f^-1(x)).

    Shapes: grid (G,) -> (G,).
    """
    g = torch.as_tensor(grid, dtype=torch.get_default_dtype())[:, None]
    with torch.no_grad():
        base_term, ld = flow.log_prob_terms(g)
        logp = base_term + ld if log_det else base_term
    return logp.exp().numpy()


def mass_by_quadrature(
    flow: Flow, low: float = -30.0, high: float = 40.0, n: int = 20001, log_det: bool = True
) -> float:
    """int_low^high p_X(x) dx by the trapezoid rule (of the broken density when log_det=False).

    Shapes: -> scalar.
    """
    grid = np.linspace(low, high, n)
    return float(np.trapezoid(density_on_grid(flow, grid, log_det), grid))


def count_peaks(density: np.ndarray, floor: float = 0.2) -> int:
    """#{i : d_i > d_(i-1), d_i >= d_(i+1), d_i > floor}: the modes a fitted density has found.

    Shapes: density (G,) -> int.
    """
    d = np.asarray(density)
    return int(((d[1:-1] > d[:-2]) & (d[1:-1] >= d[2:]) & (d[1:-1] > floor)).sum())


def sample_cdf_gap(flow: Flow, samples: Tensor, low: float = -10.0, high: float = 20.0, n: int = 30001) -> float:
    """Kolmogorov-Smirnov distance max_x |F_samples(x) - F_flow(x)|, the flow's CDF by quadrature.

    Shapes: samples (N, 1) -> scalar.
    """
    grid = np.linspace(low, high, n)
    dens = density_on_grid(flow, grid)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(grid))])
    s = np.sort(as_flat_array(samples))
    model = np.interp(s, grid, cdf)
    ecdf_hi = np.arange(1, len(s) + 1) / len(s)
    return float(max(np.max(np.abs(ecdf_hi - model)), np.max(np.abs(ecdf_hi - 1 / len(s) - model))))


class DensitySnapshots:
    """A train() callback that keeps p_X on a grid over X_RANGE at the ``snapshot_steps`` (0: before training).

    Shapes: snapshots[step] (300,) on ``grid`` (300,); x (N, 1).

    The callback must run at each snapshot step (train(..., callback_every=...) with a divisor of them all).
    """

    def __init__(self, flow: Flow, x: Tensor, snapshot_steps: tuple[int, ...] = (0, 25, 75, 150, 400)):
        self.flow, self.x = flow, x
        self.grid = np.linspace(*X_RANGE, 300)
        self.snapshot_steps = snapshot_steps
        self.snapshots: dict[int, np.ndarray] = {}
        if 0 in snapshot_steps:
            self.snapshots[0] = density_on_grid(flow, self.grid)

    def record(self, step: int) -> np.ndarray:
        """The density now; kept under ``step`` when it is a snapshot step. Shapes: -> (300,)."""
        density = density_on_grid(self.flow, self.grid)
        if step in self.snapshot_steps:
            self.snapshots[step] = density
        return density

    def __call__(self, step: int, result: TrainResult) -> None:
        self.record(step)


def two_bump_terms(theta: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
    """log p_Z(f^-1(x)) and log|f^-1'(x)| of the two-bump flow, per point.

    Shapes: theta (5,), x (B, 1) -> (B,), (B,).

    theta = (shift, log_scale, separation, weight, log_width): x = shift + e^log_scale * y, with
    y = F^-1(sigmoid(z)), F the CDF of (1-weight) Logistic(-sep/2, w) + weight Logistic(sep/2, w).
    """
    shift, log_scale, sep, weight, log_width = theta
    y = (x - shift) * torch.exp(-log_scale)
    loc = torch.stack([-sep / 2, sep / 2])[None]
    wl = torch.stack([torch.log1p(-weight), torch.log(weight)])[None]
    z, log_deriv = mixture_logit_cdf_and_log_deriv(y, loc, log_width.expand(1, 2), wl)
    base = -0.5 * z[:, 0] ** 2 - 0.5 * math.log(2 * math.pi)
    return base, log_deriv[:, 0] - log_scale


class TwoBump(nn.Module):
    """log p_X(x) = log p_Z(f^-1(x)) + log|f^-1'(x)| of the two-bump flow, its parameters theta trainable.

    Shapes: theta (5,); x (B, 1) -> (B,).
    """

    dim = 1

    def __init__(self, theta: Tensor):
        super().__init__()
        self.theta = nn.Parameter(theta.detach().clone())

    def log_prob(self, x: Tensor) -> Tensor:
        """log p_X(x). Shapes: (B, 1) -> (B,)."""
        base, log_det = two_bump_terms(self.theta, x)
        return base + log_det
