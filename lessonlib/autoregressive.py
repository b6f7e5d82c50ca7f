"""Autoregressive affine flows (MAF, IAF, MADE): a triangular Jacobian from an ordering of coordinates.

Masked autoregressive flow (MAF) direction, data x from base z:

    x_i = z_i * exp(s_i(x_<i)) + t_i(x_<i),     i = 1..D

Evaluating the density inverts it: z_i = (x_i - t_i(x_<i)) * exp(-s_i(x_<i)). Every s_i, t_i
depends only on the data x, which is known, so all coordinates are done in ONE parallel pass.
Sampling must build x_1, then x_2 from x_1, and so on: D sequential passes.

The inverse autoregressive flow (IAF) conditions on z instead, which swaps the two costs.
Either way dx_i/dz_j = 0 for j > i: the Jacobian is triangular and
log|det J_f| = sum_i s_i.

Two ways to compute s_i and t_i: ``AutoregressiveAffine`` gives each coordinate its own small
network; ``MADE`` computes all of them with ONE masked network whose masks cut every path from
x_j to output i unless j < i.

References: Papamakarios, Pavlakou, Murray, "Masked Autoregressive Flow for Density Estimation" (2017);
Kingma et al., "Improved Variational Inference with Inverse Autoregressive Flow" (2016);
Germain et al., "MADE: Masked Autoencoder for Distribution Estimation" (2015).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from lessonlib.bijectors import Bijector, register_example
from lessonlib.inputs import MAX_SIZE, count, describe
from lessonlib.inputs import log_scale_bound as read_log_scale_bound
from lessonlib.nets import MLP, MaskedLinear, bound_log_scale, layer_widths, randomise

__all__ = ["AutoregressiveAffine", "MADE"]

#: solve(given_i, s_i, t_i) -> output_i: one coordinate of a sequential pass
Solve = Callable[[Tensor, Tensor, Tensor], Tensor]


def _forward_affine(zi: Tensor, s: Tensor, t: Tensor) -> Tensor:
    return zi * torch.exp(s) + t


def _inverse_affine(xi: Tensor, s: Tensor, t: Tensor) -> Tensor:
    return (xi - t) * torch.exp(-s)


def _sequential(
    given: Tensor, params: Callable[[Tensor, int], tuple[Tensor, Tensor]], solve: Solve
) -> tuple[Tensor, Tensor]:
    """Build the output one coordinate at a time, each conditioned on the outputs so far.

    Shapes: given (B, D) -> output (B, D), log-scales s (B, D).
    """
    dim = given.shape[1]
    out = torch.zeros_like(given)
    s_all = []
    for i in range(dim):
        s, t = params(out, i)
        value = solve(given[:, i], s, t)
        out = out + value[:, None] * torch.nn.functional.one_hot(torch.tensor(i), dim).to(given)
        s_all.append(s)
    return out, torch.stack(s_all, 1)


class AutoregressiveAffine(Bijector):
    """x_i = z_i exp(s_i) + t_i with (s_i, t_i) from x_<i (``conditioned_on="x"``, MAF) or z_<i ("z", IAF).

    Shapes: z, x (B, D); log_det (B,).

    One small MLP per coordinate i reads the previous coordinates (the others are masked to zero)
    and outputs (s_i, t_i); coordinate 1 gets learnable constants. Log-scales are squashed into
    (-log_scale_bound, log_scale_bound); None (or infinity) leaves them unbounded. Counts the network passes made
    in ``passes`` so a lesson can compare sampling and density costs.
    """

    def __init__(
        self, dim: int, hidden: tuple[int, ...] = (32,), conditioned_on: str = "x", log_scale_bound: float | None = 3.0
    ):
        super().__init__()
        dim = count(dim, "dim", minimum=1, maximum=MAX_SIZE)
        if conditioned_on not in ("x", "z"):
            raise ValueError(
                "conditioned_on must be 'x' (MAF: parallel density, sequential sampling) or 'z' (IAF: the reverse)"
            )
        self.dim = dim
        self.conditioned_on = conditioned_on
        self.log_scale_bound = read_log_scale_bound(log_scale_bound)
        self.first = nn.Parameter(torch.zeros(2))  # (s_1, t_1): the first coordinate has nothing to condition on
        self.nets = nn.ModuleList(MLP(dim, 2, hidden) for _ in range(dim - 1))
        self.passes = 0
        masks = torch.tril(torch.ones(dim, dim), diagonal=-1)  # row i keeps coordinates j < i
        self.register_buffer("masks", masks)

    def scale_and_shift(self, cond: Tensor, i: int) -> tuple[Tensor, Tensor]:
        """Log-scale s_i and shift t_i of coordinate i (0-based) from the coordinates before it.

        Shapes: cond (B, D) -> s_i, t_i (B,). Only cond[:, :i] is read.
        """
        if not 0 <= i < self.dim:
            raise ValueError(f"i must be a coordinate index, 0 to {self.dim - 1}, got {i}.")
        if i == 0:
            s, t = self.first.to(cond).expand(cond.shape[0], 2).unbind(-1)
        else:
            s, t = self.nets[i - 1](cond * self.masks[i].to(cond)).unbind(-1)
        return bound_log_scale(s, self.log_scale_bound), t

    def _counted(self, cond: Tensor, i: int) -> tuple[Tensor, Tensor]:
        self.passes += 1
        return self.scale_and_shift(cond, i)

    def _all_params(self, cond: Tensor) -> tuple[Tensor, Tensor]:
        """s and t for every coordinate at once: possible when the conditioning values are all known."""
        self.passes += 1
        st = [self.scale_and_shift(cond, i) for i in range(self.dim)]
        return torch.stack([a for a, _ in st], 1), torch.stack([b for _, b in st], 1)

    def _forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        if self.conditioned_on == "z":  # IAF: parameters from z, known up front
            s, t = self._all_params(z)
            return _forward_affine(z, s, t), s.sum(-1)
        x, s = _sequential(z, self._counted, _forward_affine)
        return x, s.sum(-1)

    def _inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.conditioned_on == "x":  # MAF: parameters from x, known up front
            s, t = self._all_params(x)
            return _inverse_affine(x, s, t), -s.sum(-1)
        z, s = _sequential(x, self._counted, _inverse_affine)
        return z, -s.sum(-1)


def _made_masks(dim: int, hidden: tuple[int, ...]) -> list[Tensor]:
    """MADE's masks: hidden unit k of each layer gets a degree in 1..D-1; a unit sees inputs of lower or
    equal degree, and output i (degree i) sees units of degree < i. Shapes: one (out, in) mask per layer."""
    degrees = [torch.arange(1, dim + 1)] + [torch.arange(h) % max(1, dim - 1) + 1 for h in hidden]
    masks = [(d_out[:, None] >= d_in[None, :]) for d_in, d_out in zip(degrees[:-1], degrees[1:])]
    out = degrees[0][:, None] > degrees[-1][None, :]
    return [m.to(torch.get_default_dtype()) for m in (*masks, torch.cat([out, out]))]


class MADE(Bijector):
    """MAF with a MADE network: x_i = mu_i(x_<i) + exp(a_i(x_<i)) z_i, all (mu_i, a_i) from one masked network.

    Shapes: z, x (B, D); log_det (B,).

    The density direction, z_i = (x_i - mu_i) exp(-a_i), needs one pass of the network: every
    mu_i, a_i depends only on x, which is known. Sampling must wait for x_<i before it can compute
    x_i: D passes, one after another. Log-scales are bounded, a = tanh(raw), and log|det J_f| = sum_i a_i.
    ``passes`` counts the network passes.
    Reference: Germain et al., "MADE: Masked Autoencoder for Distribution Estimation" (2015).
    """

    def __init__(self, dim: int, hidden: tuple[int, ...] = (128,)):
        super().__init__()
        dim = count(dim, "dim", maximum=MAX_SIZE)
        if dim < 2:
            raise ValueError("an autoregressive model needs at least 2 dimensions to have an order.")
        self.dim = dim
        hidden = layer_widths(hidden)
        sizes = (dim, *hidden)
        masks = _made_masks(dim, hidden)
        self.hidden = nn.ModuleList(MaskedLinear(a, b, m) for a, b, m in zip(sizes[:-1], sizes[1:], masks))
        self.out = MaskedLinear(sizes[-1], 2 * dim, masks[-1])
        with torch.no_grad():
            self.out.weight.mul_(0.1)  # start close to the identity
        self.passes = 0

    def mean_and_log_scale(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """mu_i(x_<i) and a_i(x_<i) for every coordinate, in one pass. Shapes: (B, D) -> 2 x (B, D)."""
        if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != self.dim:
            got = f"shape {tuple(x.shape)}" if isinstance(x, Tensor) else describe(x)
            raise ValueError(f"x must be a tensor of shape (batch, {self.dim}), got {got}.")
        self.passes += 1
        h = x
        for layer in self.hidden:
            h = torch.relu(layer(h))
        mu, a = self.out(h).chunk(2, dim=-1)
        return mu, torch.tanh(a)

    def _coordinate(self, x: Tensor, i: int) -> tuple[Tensor, Tensor]:
        mu, a = self.mean_and_log_scale(x)
        return a[:, i], mu[:, i]

    def _forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        x, a = _sequential(z, self._coordinate, _forward_affine)
        return x, a.sum(-1)

    def _inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, a = self.mean_and_log_scale(x)
        return _inverse_affine(x, a, mu), -a.sum(-1)


@register_example("MAF", dims=(1, 2, 4))
def _maf_example(dim: int, gen: torch.Generator) -> Bijector:
    return randomise(AutoregressiveAffine(dim, hidden=(8,), conditioned_on="x"), gen, std=0.5)


@register_example("IAF", dims=(2, 3))
def _iaf_example(dim: int, gen: torch.Generator) -> Bijector:
    return randomise(AutoregressiveAffine(dim, hidden=(8,), conditioned_on="z"), gen, std=0.5)


@register_example("MADE", dims=(2, 3, 5))
def _made_example(dim: int, gen: torch.Generator) -> Bijector:
    return randomise(MADE(dim, hidden=(12, 8)), gen, std=0.5)
