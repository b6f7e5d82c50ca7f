"""Flows on images: discrete pixels made continuous, the logit preprocessing, and bits per dimension.

Image pixels are whole numbers k in {0, ..., L - 1} (L grey levels), but a flow is a density on
real vectors. Three steps connect the two, in the order data meets them:

* ``dequantise``: y = k + u, u ~ U(0, 1)^D, a clearly named random step (not a bijection). The
  continuous log-likelihood of y is a lower bound on the discrete one,
  E_u[log p(k + u)] <= log P(k) = log integral over [0, 1)^D of p(k + u) du (Jensen), so a flow
  trained on dequantised pixels has a discrete model behind it that does at least as well
  (Theis, van den Oord, Bethge 2016).
* ``PixelLogit``: a Bijector between the real line and the pixel range (0, L), the "logit trick"
  of image flows. In the density direction s = alpha + (1 - 2 alpha) y / L, z = logit(s); its
  log-det belongs in the likelihood's ledger like any other layer's.
* ``bits_per_dim``: nats per image to bits per pixel, -log2 p(x) / D, the unit of image-flow papers.

Direction as everywhere in lessonlib: z base, x data, x = f(z) forward (sampling), ``log_det`` is
log|det J| of the direction called, shape (B,).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from lessonlib.bijectors import Bijector, check_batch, register_example
from lessonlib.inputs import count, dtype_limits, real_array, real_number
from lessonlib.inputs import generator as read_generator

__all__ = ["dequantise", "check_pixels", "PixelLogit", "bits_per_dim", "nats_from_bits_per_dim"]


def _levels(levels) -> int:
    """The number of grey levels: a whole number >= 2 (17 for the digits' pixels 0..16)."""
    levels = count(levels, "levels")
    if levels < 2:
        raise ValueError(f"levels must be a whole number of grey levels >= 2, got {levels}.")
    return levels


def check_pixels(pixels, levels: int, name: str = "pixels") -> Tensor:
    """``pixels`` as a finite (B, D) float tensor of whole numbers in 0..levels-1, or a ValueError naming the problem.

    Shapes: pixels (B, D) -> (B, D); B may be 0. Integer tensors, numpy arrays and lists are converted (the input
    policy of ``lessonlib.inputs``: a float tensor keeps its dtype, anything else gets torch's default dtype).
    """
    levels = _levels(levels)
    pixels = check_batch(pixels, None, name)
    if pixels.numel() and ((pixels != pixels.round()).any() or pixels.min() < 0 or pixels.max() > levels - 1):
        raise ValueError(
            f"{name} must be whole numbers 0..{levels - 1} (the {levels} grey levels), got values from "
            f"{float(pixels.min()):g} to {float(pixels.max()):g}. Dequantise the raw integer pixels once, "
            "not pixels that were already scaled or dequantised."
        )
    return pixels


def dequantise(pixels, levels: int, generator: torch.Generator | None = None) -> Tensor:
    """y = k + u with u ~ U(0, 1) on every pixel: each integer k spreads over its unit bin [k, k + 1).

    Shapes: pixels (B, D) of whole numbers 0..levels-1 -> y (B, D) in [0, levels).

    Not a bijection: fresh noise on every call. Training on it (new noise every step) keeps a
    continuous density from collapsing onto the grid of integers. In the pixels' dtype k + u can round up to
    k + 1 (in float16 for u above about 1 - 2^-7 at k = 16, in float32 above 1 - 2^-20): such values are
    kept just below k + 1, so every y stays in its own bin.
    """
    pixels = check_pixels(pixels, levels)
    u = torch.rand(pixels.shape, generator=read_generator(generator), dtype=pixels.dtype)
    return torch.minimum(pixels + u, torch.nextafter(pixels + 1, pixels))


class PixelLogit(Bijector):
    """x = L (sigmoid(z) - alpha) / (1 - 2 alpha): from the real line onto the pixel range, per coordinate.

    Density direction (the logit preprocessing): s = alpha + (1 - 2 alpha) x / L, z = logit(s), with
    log|det J_{f^-1}(x)| = sum_d [log((1 - 2 alpha) / L) - log s_d - log(1 - s_d)].
    ``alpha`` keeps s away from 0 and 1, where the logit is infinite: x = 0 and x = L map to
    logit(alpha) and logit(1 - alpha). The inverse accepts x in the open interval
    (-alpha L / (1 - 2 alpha), (1 - alpha) L / (1 - 2 alpha)), which contains [0, L). The forward pass reaches
    the ends of that interval, where z would be infinite, once sigmoid(z) rounds to 0 or 1: for |z| above
    about 17 in float32 (37 in float64). Its log-det stays exact there, but such points cannot be mapped back.
    This symmetric form, away from both ends, is the one of Papamakarios, Pavlakou, Murray, "Masked
    Autoregressive Flow for Density Estimation" (2017); RealNVP (Dinh, Sohl-Dickstein, Bengio 2017, section
    4.1) used logit(alpha + (1 - alpha) x / 256), which keeps away from 0 only.

    Shapes: z, x (B, D); log_det (B,).
    """

    def __init__(self, levels: int, alpha: float = 0.05):
        super().__init__()
        levels, alpha = _levels(levels), real_number(alpha, "alpha")
        if not 0 <= alpha < 0.5:
            raise ValueError(f"alpha must be in [0, 0.5), got {alpha}: at 0.5 every pixel would map to the same point.")
        self.levels, self.alpha = levels, float(alpha)
        self.log_scale = math.log((1 - 2 * self.alpha) / levels)  # log ds/dx, the same for every pixel

    def _forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        s = torch.sigmoid(z)
        x = (s - self.alpha) / (1 - 2 * self.alpha) * self.levels
        log_ds = torch.nn.functional.logsigmoid(z) + torch.nn.functional.logsigmoid(-z)  # log s(1 - s)
        return x, (log_ds - self.log_scale).sum(dim=1)

    def _inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        s = self.alpha + (1 - 2 * self.alpha) * x / self.levels
        if ((s <= 0) | (s >= 1)).any():
            raise ValueError(self._outside(x, s))
        z = torch.log(s) - torch.log1p(-s)
        return z, (self.log_scale - torch.log(s) - torch.log1p(-s)).sum(dim=1)

    def _outside(self, x: Tensor, s: Tensor) -> str:
        """Why the inverse cannot take ``x``: a value just at an end of the range (the forward pass saturated),
        or pixels on another scale."""
        lo, hi = (-self.alpha * self.levels, (1 - self.alpha) * self.levels)
        lo, hi = lo / (1 - 2 * self.alpha), hi / (1 - 2 * self.alpha)
        label, eps, _ = dtype_limits(x.dtype)
        bad = x[(s <= 0) | (s >= 1)]
        if bool(((bad - lo).abs() <= 4 * eps * abs(lo)).logical_or((bad - hi).abs() <= 4 * eps * hi).all()):
            return (
                f"PixelLogit's inverse got x = {float(bad[0]):.7g}, an end of its range ({lo:.4g}, {hi:.4g}), where "
                f"z = logit(s) is infinite. The forward pass gives these ends itself when sigmoid(z) rounds to 0 or 1, "
                f"for |z| above about {math.log(2 / eps):.0f} in {label}: such points cannot be mapped back. Keep |z| "
                "smaller (a lower sampling temperature), or compute in float64."
            )
        return (
            f"PixelLogit's inverse needs pixels inside ({lo:.3g}, {hi:.3g}), got values from {float(x.min()):.4g} "
            f"to {float(x.max()):.4g}. Pass dequantised pixels in [0, {self.levels}), not pixels scaled to [0, 1] or 0..255."
        )


def _pixels_per_image(dim) -> int:
    dim = count(dim, "dim")
    if dim < 1:
        raise ValueError(f"dim must be the number of pixels per image (a positive whole number), got {dim}.")
    return dim


def _nats(value, name: str):
    """``value`` (a number, an array or a tensor of real numbers, infinity allowed) ready for arithmetic; NaN refused."""
    a = real_array(value, name, finite=False)
    if np.isnan(a).any():
        raise ValueError(
            f"{name} is NaN: the model gave no likelihood (a training blow-up, or data outside its range); "
            "bits per dimension of NaN would only hide that."
        )
    if isinstance(value, (Tensor, np.ndarray)):
        return value
    return float(a) if a.ndim == 0 else a


def bits_per_dim(nll_nats: Tensor | float, dim: int) -> Tensor | float:
    """bits/dim = NLL / (D ln 2): nats per image to bits per pixel (log2 e = 1 / ln 2 bits per nat).

    Shapes: nll_nats any shape (one NLL per image, or a mean) -> the same shape. An infinite NLL (zero
    likelihood) gives infinitely many bits; a NaN one is refused.
    """
    dim = _pixels_per_image(dim)
    return _nats(nll_nats, "nll_nats") / (dim * math.log(2))


def nats_from_bits_per_dim(bpd: Tensor | float, dim: int) -> Tensor | float:
    """NLL in nats per image from bits/dim: bpd * D * ln 2 (the inverse of ``bits_per_dim``)."""
    dim = _pixels_per_image(dim)
    return _nats(bpd, "bpd") * dim * math.log(2)


@register_example("PixelLogit", dims=(1, 3, 5))
def _pixel_logit_example(dim: int, gen: torch.Generator) -> Bijector:
    levels = int(torch.randint(2, 20, (1,), generator=gen))
    return PixelLogit(levels, alpha=float(0.01 + 0.2 * torch.rand(1, generator=gen, dtype=torch.float64)))
