"""A normalizing flow: a simple base distribution pushed through a bijector.

    log p_X(x) = log p_Z(f^-1(x)) + log|det J_{f^-1}(x)|     (density: one inverse pass)
    x = f(z),  z ~ p_Z                                        (sampling: one forward pass)

``make_flow`` is the one place that assembles the course's flows from their layers (coupling,
autoregressive, monotone mixture), reproducibly from a seed and without touching the global
random state.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn
from torch.distributions import (
    AffineTransform,
    Distribution,
    Independent,
    Normal,
    SigmoidTransform,
    TransformedDistribution,
    Uniform,
)

from lessonlib.autoregressive import MADE, AutoregressiveAffine
from lessonlib.bijectors import Affine, Bijector, Chain, Linear, check_batch
from lessonlib.coupling import coupling_stack
from lessonlib.monotone1d import Logit, MonotoneMixture
from lessonlib.splines import SplineCoupling

__all__ = ["Flow", "standard_normal", "uniform_base", "logistic_base", "BASES", "LAYERS", "make_flow"]


def standard_normal(dim: int, dtype: torch.dtype | None = None) -> Distribution:
    """N(0, I) on R^dim, as a distribution with event shape (dim,)."""
    dtype = dtype or torch.get_default_dtype()
    return Independent(Normal(torch.zeros(dim, dtype=dtype), torch.ones(dim, dtype=dtype)), 1)


def uniform_base(dim: int, low: float = 0.0, high: float = 1.0, dtype: torch.dtype | None = None) -> Distribution:
    """Uniform on the box [low, high]^dim; log_prob is -inf outside it (no error), event shape (dim,)."""
    dtype = dtype or torch.get_default_dtype()
    lo, hi = torch.full((dim,), float(low), dtype=dtype), torch.full((dim,), float(high), dtype=dtype)
    return Independent(Uniform(lo, hi, validate_args=False), 1)


def logistic_base(dim: int, dtype: torch.dtype | None = None) -> Distribution:
    """Standard logistic on each coordinate (the sigmoid's inverse applied to a uniform), event shape (dim,)."""
    dtype = dtype or torch.get_default_dtype()
    u = Uniform(torch.zeros(dim, dtype=dtype), torch.ones(dim, dtype=dtype), validate_args=False)
    logistic = TransformedDistribution(u, [SigmoidTransform().inv, AffineTransform(0.0, 1.0)], validate_args=False)
    return Independent(logistic, 1)


class Flow(nn.Module):
    """p_X: the distribution of x = f(z) for z ~ base, with f a Bijector.

    ``base`` is any torch Distribution with event shape (D,): standard_normal(D) is the usual
    choice; uniform_base and logistic_base work too.

    Shapes: x (B, D); log_prob (B,); sample(n) (n, D).
    """

    def __init__(self, base: Distribution, bijector: Bijector):
        super().__init__()
        if not isinstance(base, Distribution):
            raise ValueError("base must be a torch.distributions.Distribution (e.g. lessonlib.flows.standard_normal(D)).")
        if len(base.event_shape) != 1:
            raise ValueError(
                f"base must have event shape (D,), got {tuple(base.event_shape)}. Wrap a per-coordinate "
                "distribution in torch.distributions.Independent(dist, 1) so log_prob sums over coordinates."
            )
        if not isinstance(bijector, Bijector):
            raise ValueError("bijector must be a lessonlib Bijector: the formula needs an inverse and a log-det.")
        self.dim = base.event_shape[0]
        if bijector.dim is not None and bijector.dim != self.dim:
            raise ValueError(f"base has {self.dim} dimensions but the bijector acts on {bijector.dim}.")
        self.base = base
        self.bijector = bijector

    def log_prob_terms(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The two terms of log p_X(x): base log-density at z = f^-1(x), and log|det J_{f^-1}(x)|.

        Shapes: x (B, D) -> (B,), (B,).
        """
        z, log_det = self.bijector.inverse_and_log_det(check_batch(x, self.dim, "x"))
        return self.base.log_prob(z), log_det

    def log_prob(self, x: Tensor) -> Tensor:
        """log p_X(x) = log p_Z(f^-1(x)) + log|det J_{f^-1}(x)|. Shapes: (B, D) -> (B,)."""
        base_term, log_det = self.log_prob_terms(x)
        return base_term + log_det

    def sample(self, n: int) -> Tensor:
        """n samples in one forward pass: z ~ base, x = f(z). Shapes: -> (n, D)."""
        return self.bijector.forward(self.base.sample((n,)))

    def sample_and_log_prob(self, n: int) -> tuple[Tensor, Tensor]:
        """n samples and their log-density, from the forward pass alone: log p_Z(z) - log|det J_f(z)|."""
        z = self.base.sample((n,))
        x, log_det = self.bijector.forward_and_log_det(z)
        return x, self.base.log_prob(z) - log_det


#: The base distributions ``make_flow`` offers, by name: name -> f(dim, dtype).
BASES: dict[str, Callable[[int, torch.dtype | None], Distribution]] = {
    "Gaussian": standard_normal,
    "Logistic": logistic_base,
    "Uniform(0, 1)": lambda dim, dtype=None: uniform_base(dim, dtype=dtype),
}

#: The layer kinds ``make_flow`` stacks.
LAYERS = ("coupling", "spline", "maf", "made", "mixture")


def _reverse(dim: int) -> Linear:
    """x = P z with P the permutation that reverses the coordinates: |det P| = 1, log-det 0."""
    return Linear(torch.eye(dim).flip(0))


def _stack(layer: str, dim: int, n_layers: int, hidden: tuple[int, ...], log_scale_bound: float | None,
           n_components: int, n_bins: int, bound: float) -> list[Bijector]:
    """n_layers layers of one kind; the autoregressive ones with the coordinate order reversed between them."""
    if layer == "coupling":
        return list(coupling_stack(dim, n_layers, hidden=hidden, log_scale_bound=log_scale_bound).layers)
    if layer == "spline":
        return list(coupling_stack(dim, n_layers, hidden=hidden, layer=SplineCoupling, n_bins=n_bins, bound=bound).layers)
    if layer == "mixture":
        return [MonotoneMixture.spread(n_components, dim=dim) for _ in range(n_layers)]
    layers: list[Bijector] = []
    for k in range(n_layers):
        if layer == "maf":
            layers.append(AutoregressiveAffine(dim, hidden=hidden, log_scale_bound=log_scale_bound))
        else:
            layers.append(MADE(dim, hidden=hidden))
        if k < n_layers - 1:
            layers.append(_reverse(dim))
    return layers


def make_flow(
    dim: int,
    n_layers: int = 1,
    layer: str = "coupling",
    *,
    hidden: tuple[int, ...] = (32, 32),
    base: str = "Gaussian",
    seed: int = 0,
    dtype: torch.dtype | None = None,
    scale_to: Tensor | None = None,
    log_scale_bound: float | None = 3.0,
    n_components: int = 5,
    n_bins: int = 8,
    bound: float = 4.0,
) -> Flow:
    """p_X: ``base`` pushed through ``n_layers`` layers of one kind, initialised from ``seed``.

    Shapes: the flow maps (B, dim) -> (B, dim).

    ``layer`` is one of LAYERS: "coupling" (RealNVP affine couplings with alternating masks, each
    starting as the identity), "spline" (neural-spline couplings, ``SplineCoupling``: ``n_bins``
    rational-quadratic bins on [-bound, bound], identity beyond, alternating masks, each starting as
    the identity), "maf" (AutoregressiveAffine) or "made" (MADE), with the coordinate order reversed
    between layers, or "mixture" (MonotoneMixture, per coordinate). ``base`` is one
    of BASES; "Uniform(0, 1)" puts a Logit layer first, which sends its samples onto the real line.
    ``scale_to``: data (N, dim) whose per-column mean and standard deviation set a last Affine
    layer, so the other layers work in standardised units. ``log_scale_bound`` (coupling and maf)
    squashes log-scales into (-bound, bound). Building never touches the global random state.
    ``dtype`` defaults to torch's default dtype.
    """
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {LAYERS}, got {layer!r}.")
    if base not in BASES:
        raise ValueError(f"base must be one of {list(BASES)}, got {base!r}.")
    if not 1 <= int(n_layers) <= 64:
        raise ValueError(f"n_layers must be between 1 and 64, got {n_layers}.")
    if layer == "maf" and log_scale_bound is None:
        raise ValueError("maf layers bound their log-scales: give log_scale_bound a positive number.")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers = _stack(layer, dim, int(n_layers), hidden, log_scale_bound, n_components, n_bins, bound)
    if base == "Uniform(0, 1)":
        layers.insert(0, Logit())
    if scale_to is not None:
        layers.append(Affine(scale_to.std(0), scale_to.mean(0)))
    flow = Flow(BASES[base](dim, dtype), Chain(*layers))
    return flow if dtype is None else flow.to(dtype)
