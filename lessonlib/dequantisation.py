"""Dequantisation as a model of its own: uniform noise, or noise learned by a conditional flow (Flow++).

A flow p is a density on real vectors; image pixels k are whole numbers. Any density q(u | k) of noise u
in the unit cube [0, 1)^D gives, by Jensen's inequality, a lower bound on the probability of the discrete
image that p defines, P(k) = integral over [0, 1)^D of p(k + u) du:

    log P(k) = log E_{u~q}[p(k + u) / q(u | k)]  >=  E_{u~q}[log p(k + u) - log q(u | k)].

Uniform noise (q = 1, ``UniformNoise``) makes the second term 0: that is the bound of notebook 08 (Theis
et al. 2016). ``VariationalNoise`` learns q: a small conditional flow whose networks read the pixels k
gives h, and u = sigmoid(h) lies in (0, 1). The gap of the bound is KL(q(u | k) || p(u | k)), with
p(u | k) = p(k + u) / P(k): noise shaped like p inside each bin closes it. Training p and q together on
the bound is variational dequantisation. Both kinds give bits per dimension on the same footing: minus
the bound, per pixel, in bits, an upper bound on the discrete model's -log2 P(k) / D.

``DequantisedFlow`` holds p and q; ``elbo`` is one draw of the bound per image, ``discrete_log_prob`` the
importance-weighted estimate of log P(k) from several draws (tighter, and exact as the draws grow), and
``elbo_objective(pixels)`` the training objective for ``lessonlib.training.Trainer``.
Reference: Ho, Chen, Srinivas, Duan, Abbeel, "Flow++" (ICML 2019), section 3.1.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lessonlib.bijectors import check_batch
from lessonlib.flows import ConditionalFlow, Flow, make_flow
from lessonlib.images import check_pixels
from lessonlib.inputs import count, describe
from lessonlib.inputs import generator as read_generator
from lessonlib.nets import layer_widths

__all__ = ["UniformNoise", "VariationalNoise", "DequantisedFlow", "elbo_objective"]


class UniformNoise(nn.Module):
    """q(u | k) = 1 on the unit cube: u ~ U(0, 1)^D whatever the pixels, log q = 0 (notebook 08's dequantisation).

    Shapes: pixels (B, D) -> u (B, D), log_q (B,).
    """

    def sample_and_log_prob(self, pixels: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """u ~ U(0, 1) for every pixel, and log q(u | k) = 0."""
        pixels = check_batch(pixels, None, "pixels")
        dtype = pixels.dtype
        u = torch.rand(pixels.shape, generator=read_generator(generator), dtype=dtype)
        return u, pixels.new_zeros(pixels.shape[0])


class VariationalNoise(nn.Module):
    """q(u | k): u = sigmoid(h), h from a conditional flow of ``n_layers`` affine couplings that read the pixels k.

    log q(u | k) = log q(h | k) - sum_d log sigmoid'(h_d), with sigmoid'(h) = sigmoid(h) sigmoid(-h): the
    change of variables once more, for the squashing step into the unit interval. The couplings' networks
    read k scaled to [-1, 1] beside the coordinates they keep, so the noise can differ from pixel to pixel
    and from image to image. A new model starts with h standard normal (the couplings start as the identity),
    so u = sigmoid(h) is logit-normal: a bump in the middle of every bin, not the flat uniform (which a
    logistic h would give).

    Shapes: pixels (B, D) of whole numbers 0..levels-1 -> u (B, D) in (0, 1), log_q (B,).
    Reference: Ho et al., "Flow++" (2019), section 3.1.
    """

    def __init__(
        self,
        dim: int,
        levels: int,
        n_layers: int = 4,
        hidden: tuple[int, ...] = (64, 64),
        seed: int = 0,
        dtype: torch.dtype | None = None,
    ):
        super().__init__()
        self.dim, self.levels = count(dim, "dim", minimum=2), count(levels, "levels", minimum=2)
        flow = make_flow(self.dim, n_layers, hidden=layer_widths(hidden), context_dim=self.dim, seed=seed, dtype=dtype)
        assert isinstance(flow, ConditionalFlow)
        self.flow = flow

    def _pixels(self, pixels: Tensor) -> Tensor:
        """The images this model was built for: (B, dim) whole numbers 0..levels-1; a ValueError naming the problem."""
        pixels = check_pixels(pixels, self.levels)
        if pixels.shape[1] != self.dim:
            raise ValueError(
                f"pixels has {pixels.shape[1]} pixels per image; this noise model was built for {self.dim}."
            )
        return pixels

    def context(self, pixels: Tensor) -> Tensor:
        """The pixels as the networks read them: 0..levels-1 scaled to [-1, 1]. Shapes: (B, D) -> (B, D)."""
        return 2 * self._pixels(pixels) / (self.levels - 1) - 1

    def log_prob(self, u: Tensor, pixels: Tensor) -> Tensor:
        """log q(u | k) at given noise u in (0, 1)^D. Shapes: u, pixels (B, D) -> (B,)."""
        u = check_batch(u, self.dim, "u", self.flow.dtype)
        if u.numel() and not bool(((u > 0) & (u < 1)).all()):
            raise ValueError(
                f"u is the noise inside each pixel's bin: every value must lie in (0, 1), got values from "
                f"{float(u.min()):g} to {float(u.max()):g}. Pass u = y - k for dequantised pixels y, not y itself."
            )
        h = torch.log(u) - torch.log1p(-u)
        log_squash = (F.logsigmoid(h) + F.logsigmoid(-h)).sum(1)
        return self.flow.log_prob(h, self.context(pixels)) - log_squash

    def sample_and_log_prob(self, pixels: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """One u ~ q(u | k) per image, and log q(u | k). Shapes: pixels (B, D) -> (B, D), (B,)."""
        pixels = self._pixels(pixels)
        if pixels.shape[0] == 0:
            return pixels.new_zeros(pixels.shape), pixels.new_zeros(0)
        h, log_q_h = self.flow.sample_and_log_prob(pixels.shape[0], self.context(pixels), generator)
        log_squash = (F.logsigmoid(h) + F.logsigmoid(-h)).sum(1)  # log|det| of u = sigmoid(h)
        return torch.sigmoid(h), log_q_h - log_squash


class DequantisedFlow(nn.Module):
    """A model of discrete images: a flow p over k + u, and the noise model q(u | k) that fills each bin.

    ``noise`` is ``UniformNoise()`` (the default: q = 1) or a ``VariationalNoise``; training the bound
    (``elbo_objective``) trains p and q together.

    Shapes: pixels (B, D) of whole numbers 0..levels-1; every method returns one number per image, (B,).
    """

    def __init__(self, flow: Flow, levels: int, noise: nn.Module | None = None):
        super().__init__()
        if not isinstance(flow, Flow):
            raise TypeError(
                f"flow must be a lessonlib Flow (the density over dequantised pixels), got {describe(flow)}."
            )
        noise = UniformNoise() if noise is None else noise
        if not callable(getattr(noise, "sample_and_log_prob", None)):
            raise TypeError(f"noise must be UniformNoise() or a VariationalNoise, got {describe(noise)}.")
        self.flow, self.noise, self.levels, self.dim = flow, noise, count(levels, "levels", minimum=2), flow.dim
        if getattr(noise, "dim", flow.dim) != flow.dim or getattr(noise, "levels", self.levels) != self.levels:
            raise ValueError(
                f"the noise model was built for {getattr(noise, 'dim', '?')} pixels of {getattr(noise, 'levels', '?')} levels, the flow for "
                f"{flow.dim} pixels of {self.levels} levels: build VariationalNoise({flow.dim}, {self.levels})."
            )

    def elbo_terms(self, pixels: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """log p(k + u) and log q(u | k) for one u ~ q(u | k) per image. Shapes: pixels (B, D) -> (B,), (B,)."""
        pixels = check_pixels(pixels, self.levels)
        u, log_q = self.noise.sample_and_log_prob(pixels.to(self.flow.dtype), generator)
        return self.flow.log_prob(pixels.to(u) + u), log_q

    def elbo(self, pixels: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """log p(k + u) - log q(u | k), u ~ q: one draw of the lower bound on log P(k). Shapes: (B, D) -> (B,)."""
        log_p, log_q = self.elbo_terms(pixels, generator)
        return log_p - log_q

    def discrete_log_prob(self, pixels: Tensor, n_noise: int = 32, generator: torch.Generator | None = None) -> Tensor:
        """log P(k) estimated as log mean_s p(k + u_s) / q(u_s | k) over ``n_noise`` draws (importance weighting).

        Below log P(k) on average for few draws, and exact as they grow; always at or above the mean of the
        draws' bounds. Shapes: pixels (B, D) -> (B,).
        """
        n_noise = count(n_noise, "n_noise", minimum=1, maximum=10**4, why="each draw is one pass over the batch")
        draws = torch.stack([self.elbo(pixels, generator) for _ in range(n_noise)])  # (S, B)
        return torch.logsumexp(draws, 0) - math.log(n_noise)


def elbo_objective(pixels: Tensor) -> Callable[[nn.Module, int, torch.Generator], Tensor]:
    """The training objective of a DequantisedFlow: minus the bound, -mean (log p(k + u) - log q(u | k)), in nats.

    Each call draws n images from ``pixels`` (N, D) and one u ~ q(u | k) for each, with the Trainer's
    generator, so training is reproducible from its seed: ``Trainer(model, objective=elbo_objective(train),
    batch_size=128)``. With uniform noise the batches are those of notebook 08's dequantised sampler.
    """
    pixels = check_batch(pixels, None, "pixels")
    if pixels.shape[0] == 0:
        raise ValueError("pixels holds no images: the objective draws its batches from at least one image.")

    def objective(model: nn.Module, n: int, generator: torch.Generator) -> Tensor:
        if not isinstance(model, DequantisedFlow):
            raise TypeError(f"the bound is the objective of a DequantisedFlow, got {describe(model)}.")
        if count(n, "n") == 0:
            raise ValueError("the objective was asked for n = 0 images: the mean bound of no images is undefined.")
        rows = pixels[torch.randint(pixels.shape[0], (n,), generator=generator)]
        return -model.elbo(rows, generator).mean()

    return objective
