"""Notebook 06's computations: MAF read as the chain rule of probability, the log-det of a linear ODE,
and a small MAF fitted to Old Faithful for anomaly detection.

Nothing here draws: ``plots`` shows these results, ``exercises`` may use them.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lessonlib.autoregressive import AutoregressiveAffine
from lessonlib.flows import Flow, make_flow
from lessonlib.training import train

__all__ = ["autoregressive_log_prob", "linear_ode_log_det", "fit_maf"]


def autoregressive_log_prob(layer: AutoregressiveAffine, x: Tensor) -> Tensor:
    """log p(x) by the chain rule, sum_i log N(x_i; t_i(x_<i), exp(s_i(x_<i))^2), for a MAF layer on a N(0, I) base.

    Shapes: x (B, D) -> (B,).
    """
    if layer.conditioned_on != "x":
        raise ValueError("the chain-rule reading needs parameters computed from x (a MAF layer, conditioned_on='x')")
    total = x.new_zeros(x.shape[0])
    for i in range(layer.dim):
        s, t = layer.scale_and_shift(x, i)
        total = total + torch.distributions.Normal(t, torch.exp(s)).log_prob(x[:, i])
    return total


def linear_ode_log_det(A: Tensor, t: float) -> tuple[float, float]:
    """(log|det expm(tA)|, t tr(A)) for dx/dt = A x, whose map x(0) -> x(t) is expm(tA): equal by Jacobi's formula.

    Shapes: A (D, D) -> two scalars.
    """
    A = torch.as_tensor(A, dtype=torch.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError("A must be a square matrix: an ODE maps a space to itself")
    return float(torch.linalg.slogdet(torch.linalg.matrix_exp(t * A))[1]), float(t * torch.trace(A))


def fit_maf(data: Tensor, n_layers: int = 3, hidden: tuple[int, ...] = (32,), steps: int = 400, lr: float = 1e-2, seed: int = 0) -> Flow:
    """argmax_theta sum_i log p_X(x_i) for a small MAF (coordinates swapped between layers), full batch.

    Shapes: data (N, 2) -> a flow on (B, 2) in data's dtype. Initialised and trained from ``seed``,
    without touching the global random state.
    """
    flow = make_flow(2, n_layers, "maf", hidden=hidden, seed=seed, dtype=data.dtype)
    train(flow, data, steps=steps, lr=lr, batch_size=None, seed=seed)
    return flow
