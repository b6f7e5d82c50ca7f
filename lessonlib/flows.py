"""A normalizing flow: a simple base distribution pushed through a bijector.

    log p_X(x) = log p_Z(f^-1(x)) + log|det J_{f^-1}(x)|     (density: one inverse pass)
    x = f(z),  z ~ p_Z                                        (sampling: one forward pass)
"""

from __future__ import annotations

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

from lessonlib.bijectors import Bijector, check_batch

__all__ = ["Flow", "standard_normal", "uniform_base", "logistic_base"]


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
