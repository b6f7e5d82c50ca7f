"""Flows among the other generative models: the computations behind notebook 06."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from lessonlib.autoregressive import AutoregressiveAffine
from lessonlib.bijectors import Chain, Linear
from lessonlib.data import load_old_faithful
from lessonlib.flows import Flow, standard_normal
from lessonlib.training import train

__all__ = [
    "autoregressive_log_prob",
    "linear_ode_log_det",
    "old_faithful_standardised",
    "fit_maf",
    "plot_density_and_outliers",
]


def autoregressive_log_prob(layer: AutoregressiveAffine, x: Tensor) -> Tensor:
    """log p(x) by the chain rule, sum_i log N(x_i; t_i(x_<i), exp(s_i(x_<i))^2), for a MAF layer on a N(0, I) base.

    Shapes: x (B, D) -> (B,).
    """
    if layer.conditioned_on != "x":
        raise ValueError("the chain-rule reading needs parameters computed from x (a MAF layer, conditioned_on='x')")
    total = x.new_zeros(x.shape[0])
    for i in range(layer.dim):
        s, t = layer._params(x, i)
        total = total + torch.distributions.Normal(t, torch.exp(s)).log_prob(x[:, i])
    return total


def linear_ode_log_det(A: Tensor, t: float) -> tuple[float, float]:
    """For dx/dt = A x, the map x(0) -> x(t) is expm(tA): (log|det expm(tA)|, t * trace(A)), equal by Jacobi's formula."""
    A = torch.as_tensor(A, dtype=torch.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError("A must be a square matrix: an ODE maps a space to itself")
    return float(torch.linalg.slogdet(torch.linalg.matrix_exp(t * A))[1]), float(t * torch.trace(A))


def old_faithful_standardised() -> tuple[Tensor, np.ndarray, np.ndarray]:
    """Old Faithful as a float64 tensor with zero mean and unit variance per column, plus (mean, std) to undo it."""
    raw = load_old_faithful()
    mean, std = raw.mean(0), raw.std(0)
    return torch.as_tensor((raw - mean) / std), mean, std


def fit_maf(data: Tensor, n_layers: int = 3, hidden: tuple[int, ...] = (32,), steps: int = 400, lr: float = 1e-2, seed: int = 0) -> Flow:
    """A small MAF for 2D data: autoregressive layers with the coordinate order swapped between them."""
    torch.manual_seed(seed)
    swap = Linear([[0.0, 1.0], [1.0, 0.0]])  # a permutation: |det| = 1, log-det 0
    layers = []
    for k in range(n_layers):
        layers.append(AutoregressiveAffine(2, hidden=hidden))
        if k < n_layers - 1:
            layers.append(swap)
    flow = Flow(standard_normal(2, data.dtype), Chain(*layers)).to(data.dtype)
    train(flow, data, steps=steps, lr=lr, batch_size=None, seed=seed)
    return flow


def plot_density_and_outliers(flow: Flow, data: Tensor, threshold: float, mean: np.ndarray, std: np.ndarray, extra: Tensor | None = None):
    """Scatter of the data (original units) over the flow's log-density; points below ``threshold`` circled."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    g0 = np.linspace(-2.5, 2.5, 160)
    G0, G1 = np.meshgrid(g0, g0)
    grid = torch.as_tensor(np.stack([G0.ravel(), G1.ravel()], 1))
    with torch.no_grad():
        lp = flow.log_prob(grid).numpy().reshape(G0.shape)
    ax.contourf(G0 * std[0] + mean[0], G1 * std[1] + mean[1], np.maximum(lp, -8), levels=14, cmap="Blues")
    pts = data if extra is None else torch.cat([data, extra])
    with torch.no_grad():
        score = flow.log_prob(pts).numpy()
    raw = pts.numpy() * std + mean
    n = data.shape[0]
    ax.scatter(raw[:n, 0], raw[:n, 1], s=10, c="k", label="eruptions (data)")
    if extra is not None:
        ax.scatter(raw[n:, 0], raw[n:, 1], s=60, c="tab:orange", marker="X", zorder=3, label="made-up eruptions")
    low = score < threshold
    ax.scatter(raw[low, 0], raw[low, 1], s=160, facecolors="none", edgecolors="tab:red", linewidths=2,
               label=f"flagged: log p < {threshold:.2f}")
    ax.set_xlabel("eruption duration (min)")
    ax.set_ylabel("waiting time to next (min)")
    ax.legend(loc="upper left")
    ax.set_title("exact log-density from a flow, used to flag unusual eruptions")
    return fig
