"""Autoregressive affine flows (MAF and IAF): a triangular Jacobian from an ordering of coordinates.

Masked autoregressive flow (MAF) direction, data x from base z:

    x_i = z_i * exp(s_i(x_<i)) + t_i(x_<i),     i = 1..D

Evaluating the density inverts it: z_i = (x_i - t_i(x_<i)) * exp(-s_i(x_<i)). Every s_i, t_i
depends only on the data x, which is known, so all coordinates are done in ONE parallel pass.
Sampling must build x_1, then x_2 from x_1, and so on: D sequential passes.

The inverse autoregressive flow (IAF) conditions on z instead, which swaps the two costs.
Either way dx_i/dz_j = 0 for j > i: the Jacobian is triangular and
log|det J_f| = sum_i s_i.

References: Papamakarios, Pavlakou, Murray, "Masked Autoregressive Flow for Density Estimation" (2017);
Kingma et al., "Improved Variational Inference with Inverse Autoregressive Flow" (2016).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lessonlib.bijectors import Bijector, _randomise, register_example
from lessonlib.coupling import MLP

__all__ = ["AutoregressiveAffine"]


class AutoregressiveAffine(Bijector):
    """Affine autoregressive layer; ``conditioned_on="x"`` is MAF, ``"z"`` is IAF.

    One small MLP per coordinate i reads the previous coordinates (the others are masked to zero)
    and outputs (s_i, t_i); coordinate 1 gets learnable constants. Counts the sequential passes
    made in ``passes`` so a lesson can compare sampling and density costs.

    Shapes: z, x (B, D); log_det (B,).
    """

    def __init__(self, dim: int, hidden: tuple[int, ...] = (32,), conditioned_on: str = "x", log_scale_bound: float = 3.0):
        super().__init__()
        if dim < 1:
            raise ValueError("dim must be at least 1")
        if conditioned_on not in ("x", "z"):
            raise ValueError("conditioned_on must be 'x' (MAF: parallel density, sequential sampling) or 'z' (IAF: the reverse)")
        self.dim = dim
        self.conditioned_on = conditioned_on
        self.log_scale_bound = log_scale_bound
        self.first = nn.Parameter(torch.zeros(2))  # (s_1, t_1): the first coordinate has nothing to condition on
        self.nets = nn.ModuleList(MLP(dim, 2, hidden) for _ in range(dim - 1))
        self.passes = 0
        masks = torch.tril(torch.ones(dim, dim), diagonal=-1)  # row i keeps coordinates j < i
        self.register_buffer("masks", masks)

    def _params(self, cond: Tensor, i: int) -> tuple[Tensor, Tensor]:
        if i == 0:
            s, t = self.first.to(cond).expand(cond.shape[0], 2).unbind(-1)
        else:
            s, t = self.nets[i - 1](cond * self.masks[i].to(cond)).unbind(-1)
        return self.log_scale_bound * torch.tanh(s / self.log_scale_bound), t

    def _all_params(self, cond: Tensor) -> tuple[Tensor, Tensor]:
        """s and t for every coordinate at once: possible when the conditioning values are all known."""
        self.passes += 1
        st = [self._params(cond, i) for i in range(self.dim)]
        return torch.stack([a for a, _ in st], 1), torch.stack([b for _, b in st], 1)

    def _sequential(self, given: Tensor, solve) -> tuple[Tensor, Tensor]:
        """Build the output one coordinate at a time, each step conditioned on the outputs so far."""
        out = torch.zeros_like(given)
        s_all = []
        for i in range(self.dim):
            self.passes += 1
            s, t = self._params(out, i)
            value = solve(given[:, i], s, t)
            out = out + value[:, None] * torch.nn.functional.one_hot(torch.tensor(i), self.dim).to(given)
            s_all.append(s)
        return out, torch.stack(s_all, 1)

    def _forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        if self.conditioned_on == "z":  # IAF: parameters from z, known up front
            s, t = self._all_params(z)
            return z * torch.exp(s) + t, s.sum(-1)
        x, s = self._sequential(z, lambda zi, s, t: zi * torch.exp(s) + t)
        return x, s.sum(-1)

    def _inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.conditioned_on == "x":  # MAF: parameters from x, known up front
            s, t = self._all_params(x)
            return (x - t) * torch.exp(-s), -s.sum(-1)
        z, s = self._sequential(x, lambda xi, s, t: (xi - t) * torch.exp(-s))
        return z, -s.sum(-1)


@register_example("MAF", dims=(1, 2, 4))
def _maf_example(dim: int, gen: torch.Generator) -> Bijector:
    return _randomise(AutoregressiveAffine(dim, hidden=(8,), conditioned_on="x"), gen, std=0.5)


@register_example("IAF", dims=(2, 3))
def _iaf_example(dim: int, gen: torch.Generator) -> Bijector:
    return _randomise(AutoregressiveAffine(dim, hidden=(8,), conditioned_on="z"), gen, std=0.5)
