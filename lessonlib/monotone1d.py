"""Learnable monotone maps acting on each coordinate separately, in PyTorch.

``MonotoneMixture`` is written in the density direction, like the mixture-CDF layer of Flow++
(Ho et al. 2019):

    z = f^-1(x) = logit F(x),   F(x) = sum_k w_k sigmoid((x - mu_k) / s_k)

F is the CDF of a mixture of K logistic distributions, so it increases strictly from 0 to 1 and
``logit F`` is a strictly increasing map from the real line onto the real line, for ANY parameters:
monotonicity is built in, not hoped for. Its derivative is analytic,

    log f^-1'(x) = log F'(x) - log F(x) - log(1 - F(x)),   F'(x) = sum_k w_k sigmoid'(u_k) / s_k,

so the log-likelihood needs no root finding. Sampling (x = f(z)) solves logit F(x) = z by Newton
steps kept inside a bracket (bisection when a step would leave it), then takes one more Newton step
that carries the gradient (the implicit-function rule
dx/dz = 1 / f^-1'(x)), so autograd sees the exact Jacobian in both directions.

``Sigmoid`` and ``Logit`` map between the real line and the interval (0, 1); ``Logit`` placed first
in a chain lets a flow use a Uniform(0, 1) base (its samples are sent onto the real line).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lessonlib.bijectors import Affine, Bijector, Chain, parameter_dtype, register_example
from lessonlib.inputs import MAX_SIZE, check_scale_range, count, positive_number, real_array, real_number

__all__ = ["MonotoneMixture", "Sigmoid", "Logit", "mixture_logit_cdf_and_log_deriv"]


def mixture_logit_cdf_and_log_deriv(
    x: Tensor, loc: Tensor, log_scale: Tensor, weight_logits: Tensor
) -> tuple[Tensor, Tensor]:
    """logit F(x) and log d/dx logit F(x) = log F'(x) - log F(x) - log(1 - F(x)), computed in log space.

    Shapes: x (B, D); loc, log_scale, weight_logits (D, K) -> (B, D), (B, D).
    """
    log_w = F.log_softmax(weight_logits, dim=-1)  # (D, K)
    u = (x[..., None] - loc) / log_scale.exp()  # (B, D, K)
    log_cdf = torch.logsumexp(log_w + F.logsigmoid(u), dim=-1)  # log F
    log_sf = torch.logsumexp(log_w + F.logsigmoid(-u), dim=-1)  # log (1 - F)
    log_pdf = torch.logsumexp(log_w + F.logsigmoid(u) + F.logsigmoid(-u) - log_scale, dim=-1)  # log F'
    return log_cdf - log_sf, log_pdf - log_cdf - log_sf


class MonotoneMixture(Bijector):
    """Inverse map z = logit F(x), F the CDF of a K-component logistic mixture, per coordinate.

    Parameters per coordinate d and component k: ``loc[d, k]`` = mu, ``log_scale[d, k]`` = log s,
    ``weight_logits[d, k]`` (softmax over k gives w). Every setting is strictly increasing.

    Shapes: loc, log_scale, weight_logits (D, K); z, x (B, D); log_det (B,).
    Reference: Ho et al., "Flow++", ICML 2019 (mixture-of-logistics CDF coupling).
    """

    def __init__(self, loc, log_scale, weight_logits=None, max_iterations: int = 100):
        super().__init__()
        dtype = parameter_dtype(None, loc, log_scale, weight_logits)
        loc_a = real_array(loc, "loc")
        if loc_a.ndim == 1:
            loc_a = loc_a[None, :]
        if loc_a.ndim != 2 or loc_a.size == 0:
            raise ValueError(f"loc must have shape (D, K) or (K,) with at least one component, got {loc_a.shape}.")
        ls_a = _broadcast_like(real_array(log_scale, "log_scale"), loc_a.shape, "log_scale")
        with np.errstate(over="ignore"):
            check_scale_range(np.exp(ls_a), dtype, "component scale exp(log_scale)", "use log_scale values nearer 0")
        wl_a = (
            np.zeros_like(loc_a)
            if weight_logits is None
            else _broadcast_like(real_array(weight_logits, "weight_logits"), loc_a.shape, "weight_logits")
        )
        self.dim = loc_a.shape[0]
        self.loc = nn.Parameter(torch.tensor(loc_a, dtype=dtype))
        self.log_scale = nn.Parameter(torch.tensor(ls_a, dtype=dtype))
        self.weight_logits = nn.Parameter(torch.tensor(wl_a, dtype=dtype))
        self.max_iterations = count(max_iterations, "max_iterations", minimum=1)

    @classmethod
    def spread(cls, n_components: int = 5, width: float = 1.5, scale: float = 0.6, dim: int = 1) -> MonotoneMixture:
        """Equal-weight components with centres evenly spaced on [-width, width]: a deterministic start."""
        n_components = count(n_components, "n_components", minimum=1, maximum=MAX_SIZE)
        dim = count(dim, "dim", minimum=1, maximum=MAX_SIZE)
        loc = torch.linspace(-real_number(width, "width"), real_number(width, "width"), n_components).expand(
            dim, n_components
        )
        return cls(loc, math.log(positive_number(scale, "scale")) * torch.ones(dim, n_components))

    @property
    def n_components(self) -> int:
        return self.loc.shape[1]

    def _params(self, like: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.loc.to(like), self.log_scale.to(like), self.weight_logits.to(like)

    def _terms(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """logit F(x) and log (logit F)'(x), elementwise. Shapes: x (B, D) -> (B, D), (B, D)."""
        return mixture_logit_cdf_and_log_deriv(x, *self._params(x))

    def _inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z, log_deriv = self._terms(x)
        return z, log_deriv.sum(dim=1)

    def _forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        # Solve logit F(x) = z. logit F(x) lies between min_k u_k and max_k u_k, so the root lies between
        # min_k and max_k of mu_k + s_k z: a bracket. Newton steps inside the bracket, bisection otherwise.
        with torch.no_grad():
            ends = self.loc.to(z) + self.log_scale.to(z).exp() * z[..., None]  # (B, D, K)
            lo, hi = ends.min(dim=-1).values, ends.max(dim=-1).values
            x = 0.5 * (lo + hi)
            tol = 64 * torch.finfo(z.dtype).eps * (1 + z.abs())
            for _ in range(self.max_iterations):
                g, log_deriv = self._terms(x)
                done = (g - z).abs() <= tol
                if done.all():
                    break
                below = g < z
                lo, hi = torch.where(below, x, lo), torch.where(below, hi, x)
                newton = x - (g - z) / log_deriv.exp()
                step = torch.where((newton >= lo) & (newton <= hi), newton, 0.5 * (lo + hi))
                x = torch.where(done, x, step)  # points already solved stay where they are
        g, log_deriv = self._terms(x)
        x = x - (g - z) / log_deriv.exp()  # one more Newton step, with the gradient: dx/dz = 1 / f^-1'(x)
        return x, -self._terms(x)[1].sum(dim=1)


class Sigmoid(Bijector):
    """x = sigmoid(z) = 1 / (1 + e^-z), from the real line onto (0, 1), on every coordinate.

    log|det J| = sum_d log sigmoid(z_d) + log sigmoid(-z_d); the inverse is the logit.

    Limits: sigmoid(z) rounds to exactly 0 or 1 for |z| above about 17 in float32 (37 in float64). The log-det
    stays exact there, but such x lie on the ends of (0, 1), which the inverse refuses: they cannot be mapped back.

    Shapes: z, x (B, D); log_det (B,).
    """

    def _forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return torch.sigmoid(z), (F.logsigmoid(z) + F.logsigmoid(-z)).sum(dim=1)

    def _inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        _check_unit_interval(x, "x", "Sigmoid's inverse (the logit)")
        return torch.log(x) - torch.log1p(-x), -(torch.log(x) + torch.log1p(-x)).sum(dim=1)


class Logit(Bijector):
    """x = logit(z) = log(z / (1 - z)), from (0, 1) onto the real line, on every coordinate.

    log|det J| = -sum_d log z_d + log(1 - z_d). Put first in a chain to use a Uniform(0, 1) base.

    Shapes: z, x (B, D); log_det (B,).
    """

    def _forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        _check_unit_interval(z, "z", "Logit")
        return torch.log(z) - torch.log1p(-z), -(torch.log(z) + torch.log1p(-z)).sum(dim=1)

    def _inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return torch.sigmoid(x), (F.logsigmoid(x) + F.logsigmoid(-x)).sum(dim=1)


def _broadcast_like(a: np.ndarray, shape: tuple[int, ...], name: str) -> np.ndarray:
    """``a`` broadcast to the (D, K) shape of loc; a ValueError naming both shapes otherwise."""
    try:
        return np.broadcast_to(a, shape).copy()
    except ValueError:
        raise ValueError(
            f"{name} has shape {a.shape}, which does not fit loc's shape {shape} (D coordinates, "
            "K components): give one value per component, or one for all."
        ) from None


def _check_unit_interval(t: Tensor, name: str, what: str) -> None:
    if ((t <= 0) | (t >= 1)).any():
        bad = t[(t <= 0) | (t >= 1)].flatten()[:3].tolist()
        raise ValueError(
            f"{what} needs {name} strictly inside (0, 1), got values such as {bad}. The logit sends 0 to "
            "-infinity and 1 to +infinity: the endpoints have no image on the real line, and the log-det "
            "-log z - log(1 - z) is infinite there."
        )


# --- examples for the property suite (tests/core/test_bijector_properties.py) ----------------------


@register_example("MonotoneMixture", dims=(1, 3))
def _mixture_example(dim: int, gen: torch.Generator) -> Bijector:
    k = 4
    loc = 1.5 * torch.randn(dim, k, generator=gen, dtype=torch.float64)
    log_scale = 0.5 * torch.randn(dim, k, generator=gen, dtype=torch.float64) - 0.3
    return MonotoneMixture(loc, log_scale, torch.randn(dim, k, generator=gen, dtype=torch.float64))


@register_example("Sigmoid-Logit", dims=(1, 2))
def _sigmoid_logit_example(dim: int, gen: torch.Generator) -> Bijector:
    # R -> (0, 1) -> R must stay a bijection of the whole line in both directions, so Logit follows
    # Sigmoid directly; tests/core/test_monotone1d.py also checks each layer alone against autograd.
    stretch = Affine(torch.full((dim,), 1.7, dtype=torch.float64), torch.full((dim,), -0.4, dtype=torch.float64))
    return Chain(stretch, Sigmoid(), Logit(), _mixture_example(dim, gen))
