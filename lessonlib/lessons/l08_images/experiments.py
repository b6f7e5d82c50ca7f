"""Notebook 08's computations: the digits as tensors, baselines in bits per dimension, a flow trained with
a validation set, the collapse onto the integer grid, the Theis et al. bound, sampling cost, and the
latent space (temperature, interpolation).

Direction as everywhere in lessonlib: z base, x data, x = f(z) forward (sampling), z = f^-1(x) inverse
(density). Pixels are whole numbers 0..16 (17 levels); every density here is over dequantised pixels
y = k + u in [0, 17)^64, so its bits per dimension are comparable with a discrete model's. Nothing
here draws: ``plots`` and ``widgets`` show these results, ``exercises`` may use them.
"""

from __future__ import annotations

import copy
import math
import time
import timeit
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from lessonlib.data import DIGIT_LEVELS, split_digits
from lessonlib.flows import Flow, make_flow
from lessonlib.images import PixelLogit, bits_per_dim, check_pixels, dequantise
from lessonlib.training import Diverged, Trainer

__all__ = [
    "LEVELS",
    "DIM",
    "DTYPE",
    "Digits",
    "load_digit_tensors",
    "dequantised_sampler",
    "image_flow",
    "flow_bpd",
    "categorical_baseline",
    "gaussian_baseline",
    "History",
    "train_with_validation",
    "CollapseRun",
    "collapse_run",
    "slice_log_density",
    "discrete_bpd",
    "SamplingCost",
    "sampling_cost",
    "temperature_samples",
    "interpolate",
]

LEVELS = DIGIT_LEVELS
DIM = 64
#: The notebook's models run in float32 whatever torch's default dtype (the tests set float64).
DTYPE = torch.float32


@dataclass(frozen=True)
class Digits:
    """Whole-number pixels (N, 64) as float32 tensors, for the three parts of the fixed split."""

    train: Tensor
    val: Tensor
    test: Tensor


def load_digit_tensors() -> Digits:
    """The course's split of the 8x8 digits (lessonlib.data.split_digits) as float32 tensors of pixels 0..16."""
    s = split_digits()
    return Digits(*(torch.as_tensor(a, dtype=DTYPE) for a in (s.train, s.val, s.test)))


def dequantised_sampler(pixels: Tensor) -> Callable[[int, torch.Generator], Tensor]:
    """A Trainer sampler: n random training images, each with fresh uniform noise u ~ U(0, 1) per pixel.

    Shapes: pixels (N, D) -> f(n, generator) -> (n, D) in [0, 17).
    """
    pixels = check_pixels(pixels, LEVELS)
    if pixels.shape[0] == 0:
        raise ValueError("pixels is an empty batch: there are no images to draw from.")

    def draw(n: int, gen: torch.Generator) -> Tensor:
        rows = pixels[torch.randint(pixels.shape[0], (n,), generator=gen)]
        return dequantise(rows, LEVELS, gen)

    return draw


def image_flow(n_layers: int = 8, hidden: int = 128, mask: str = "image", seed: int = 0, alpha: float = 0.05) -> Flow:
    """RealNVP on the 8x8 grid: ``n_layers`` affine couplings with image masks, then PixelLogit(17).

    Shapes: the flow maps (B, 64) <-> (B, 64); its data space is the pixel range (0, 17).
    """
    return make_flow(
        DIM, n_layers, hidden=(hidden, hidden), mask=mask, seed=seed, dtype=DTYPE, last=PixelLogit(LEVELS, alpha)
    )


def flow_bpd(flow: Flow, pixels: Tensor, seed: int = 0, n_noise: int = 1) -> float:
    """Mean bits/dim of the flow on ``pixels``, each dequantised with ``n_noise`` fixed noise draws.

    -E_u[log2 p(k + u)] / D: an upper bound on the bits/dim of the discrete model behind the flow.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        lps = [flow.log_prob(dequantise(pixels, LEVELS, gen)) for _ in range(n_noise)]
    return float(bits_per_dim(-torch.stack(lps).mean(), DIM))


def categorical_baseline(train: Tensor, pseudo_count: float = 1.0) -> Callable[[Tensor], float]:
    """Independent per-pixel categorical over the 17 levels, fit by counting (plus ``pseudo_count``).

    Returns bpd(pixels) -> mean bits/dim. A discrete model: -log2 P(k) / D exactly, no noise.
    """
    train = check_pixels(train, LEVELS, "train")
    counts = torch.stack([(train == k).sum(0) for k in range(LEVELS)], 1).double() + pseudo_count  # (D, L)
    log_p = torch.log(counts / counts.sum(1, keepdim=True))

    def bpd(pixels: Tensor) -> float:
        pixels = check_pixels(pixels, LEVELS)
        if pixels.shape[0] == 0:
            raise ValueError("pixels is an empty batch: there are no images to score.")
        ll = log_p.gather(1, pixels.long().T).sum(0)  # (B,)
        return float(bits_per_dim(-ll.mean(), DIM))

    return bpd


def gaussian_baseline(train: Tensor, seed: int = 0) -> Callable[[Tensor], float]:
    """One Gaussian N(mu, Sigma) over dequantised pixels, fit to one dequantisation of the training set.

    Returns bpd(pixels) -> mean bits/dim on a fixed dequantisation (``seed`` + 1) of ``pixels``.
    """
    y = dequantise(train.double(), LEVELS, torch.Generator().manual_seed(seed))
    mean, cov = y.mean(0), torch.cov(y.T)
    gauss = torch.distributions.MultivariateNormal(mean, covariance_matrix=cov)

    def bpd(pixels: Tensor) -> float:
        yy = dequantise(pixels.double(), LEVELS, torch.Generator().manual_seed(seed + 1))
        return float(bits_per_dim(-gauss.log_prob(yy).mean(), DIM))

    return bpd


@dataclass
class History:
    """Bits/dim on the training and validation images every ``every`` steps, and the best model by validation."""

    steps: list[int] = field(default_factory=list)
    train_bpd: list[float] = field(default_factory=list)
    val_bpd: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    best_step: int = 0
    best_val: float = math.inf
    seconds: float = 0.0


def train_with_validation(
    flow: Flow,
    digits: Digits,
    steps: int = 1500,
    every: int = 100,
    lr: float = 1e-3,
    batch_size: int = 128,
    seed: int = 0,
) -> History:
    """Train on dequantised training images (the one Trainer), measure train and validation bits/dim every
    ``every`` steps, and leave ``flow`` with the parameters that scored best on validation (early stopping).

    The test images are not touched: they are for the one final measurement.
    """
    trainer = Trainer(flow, dequantised_sampler(digits.train), lr=lr, batch_size=batch_size, seed=seed)
    hist, best = History(), copy.deepcopy(flow.state_dict())
    t0 = time.perf_counter()
    while trainer.steps < steps:
        trainer.run(min(every, steps - trainer.steps))
        hist.steps.append(trainer.steps)
        hist.train_bpd.append(flow_bpd(flow, digits.train[:300], seed=1))
        hist.val_bpd.append(flow_bpd(flow, digits.val, seed=1))
        if hist.val_bpd[-1] < hist.best_val:
            hist.best_val, hist.best_step, best = hist.val_bpd[-1], trainer.steps, copy.deepcopy(flow.state_dict())
    hist.seconds = time.perf_counter() - t0
    hist.losses = list(trainer.result.losses)
    flow.load_state_dict(best)
    return hist


@dataclass
class CollapseRun:
    """A flow trained on raw integer pixels: its bits/dim on those integers and on dequantised images."""

    steps: list[int]
    integer_bpd: list[float]
    dequantised_bpd: list[float]
    flow: Flow


def collapse_run(digits: Digits, steps: int = 600, every: int = 50, lr: float = 1e-3, seed: int = 0) -> CollapseRun:
    """Train the same architecture on the integer pixels themselves (no noise), and watch the likelihood.

    The training images are the same points at every step, so the density can pile up on them: the
    integer bits/dim fall without bound while the same model scores ever worse on dequantised pixels.
    On the walls of those spikes a step can blow up (1 of 30 runs over seeds and CPUs did): training then
    goes on from the step before at a fifth of the rate, up to three times.
    """
    flow = image_flow(seed=seed)
    trainer = Trainer(flow, digits.train, lr=lr, batch_size=128, seed=seed)
    run = CollapseRun([], [], [], flow)
    blow_ups = 0
    while trainer.steps < steps:
        try:
            trainer.run(every - trainer.steps % every)
        except Diverged:
            blow_ups += 1
            if blow_ups > 3:
                raise
            trainer.lr = trainer.lr / 5
            continue
        with torch.no_grad():
            ll = flow.log_prob(digits.train[:300]).mean()
        run.steps.append(trainer.steps)
        run.integer_bpd.append(float(bits_per_dim(-ll, DIM)))
        run.dequantised_bpd.append(flow_bpd(flow, digits.val, seed=1))
    return run


def slice_log_density(flow: Flow, image: Tensor, pixel: int, grid: np.ndarray) -> np.ndarray:
    """log p(y) as pixel ``pixel`` of ``image`` runs over ``grid``, the other pixels held at ``image``.

    Shapes: image (64,), grid (G,) -> (G,) nats.
    """
    y = image.to(DTYPE).repeat(len(grid), 1)
    y[:, pixel] = torch.as_tensor(grid, dtype=DTYPE)
    with torch.no_grad():
        return flow.log_prob(y).double().numpy()


def discrete_bpd(flow: Flow, pixels: Tensor, n_noise: int = 32, seed: int = 2) -> tuple[float, float]:
    """(continuous, discrete) bits/dim on ``pixels``, from the same ``n_noise`` noise draws per image.

    continuous: -E_u[log2 p(k + u)] / D (the dequantisation bound). discrete: -log2 P(k) / D, with
    P(k) = E_u[p(k + u)] estimated by the mean over the draws (log-mean-exp). Jensen: discrete <= continuous.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        lp = torch.stack([flow.log_prob(dequantise(pixels, LEVELS, gen)) for _ in range(n_noise)]).double()  # (S, B)
    continuous = bits_per_dim(-lp.mean(), DIM)
    discrete = bits_per_dim(-(torch.logsumexp(lp, 0) - math.log(n_noise)).mean(), DIM)
    return float(continuous), float(discrete)


@dataclass(frozen=True)
class SamplingCost:
    """Seconds and network calls, one after another, to draw a batch: the flow against an autoregressive model."""

    flow_seconds: float
    ar_seconds: float
    flow_calls: int
    ar_calls: int
    flow_parameters: int
    ar_parameters: int

    @property
    def ratio(self) -> float:
        """How many times longer the autoregressive model took."""
        return self.ar_seconds / self.flow_seconds


def _count_calls(modules: list[nn.Module]) -> tuple[list[int], list]:
    """A counter of forward calls over ``modules``, and the hooks to remove afterwards."""
    calls = [0]

    def hook(*_) -> None:
        calls[0] += 1

    return calls, [m.register_forward_hook(hook) for m in modules]


def sampling_cost(flow: Flow, n: int = 64, repeats: int = 5, seed: int = 0) -> SamplingCost:
    """Best-of-``repeats`` time to draw ``n`` digits with the flow and with a MADE whose network has the
    same hidden layers as one of the flow's conditioners; every network call counted by forward hooks.

    The flow calls each layer's network once (its layers run one after another); the MADE calls its
    network once per pixel, since pixel d needs pixels 1..d-1: 64 calls in a row.
    """
    nets = [m for m in flow.modules() if isinstance(m, nn.Sequential)]
    hidden = tuple(m.out_features for m in nets[0] if isinstance(m, nn.Linear))[:-1]
    ar = make_flow(DIM, 1, "made", hidden=hidden, seed=seed, dtype=DTYPE)
    z = torch.randn(n, DIM, generator=torch.Generator().manual_seed(seed), dtype=DTYPE)
    flow_calls, hooks = _count_calls(nets)
    ar_calls, ar_hooks = _count_calls([ar.bijector[0].out])  # the network's output layer: once per pass
    try:
        with torch.no_grad():
            t_flow = min(timeit.repeat(lambda: flow.bijector.forward(z), number=1, repeat=repeats))
            t_ar = min(timeit.repeat(lambda: ar.bijector.forward(z), number=1, repeat=repeats))
    finally:
        for h in hooks + ar_hooks:
            h.remove()
    size = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    return SamplingCost(t_flow, t_ar, flow_calls[0] // repeats, ar_calls[0] // repeats, size(flow), size(ar))


def temperature_samples(flow: Flow, eps: Tensor, temperature: float) -> Tensor:
    """x = f(T eps): samples from the base narrowed to N(0, T^2 I), in pixel units (clipped to [0, 17]).

    Shapes: eps (B, 64) -> (B, 64).
    """
    if not temperature >= 0:
        raise ValueError(f"the temperature must be >= 0, got {temperature}.")
    with torch.no_grad():
        return flow.bijector.forward(temperature * eps.to(DTYPE)).clamp(0, LEVELS)


def interpolate(flow: Flow, a: Tensor, b: Tensor, ts: np.ndarray | list[float]) -> tuple[Tensor, Tensor]:
    """Images f((1 - t) z_a + t z_b) on the straight line between the latents of ``a`` and ``b``, and those latents.

    ``a`` and ``b`` are whole-number images, taken at the centres of their bins (k + 0.5).
    Shapes: a, b (64,) -> images (T, 64), latents (T, 64).
    """
    with torch.no_grad():
        za, zb = flow.bijector.inverse(torch.stack([a, b]).to(DTYPE) + 0.5)
        t = torch.as_tensor(np.asarray(ts, dtype=np.float64), dtype=DTYPE)[:, None]
        z = (1 - t) * za + t * zb
        return flow.bijector.forward(z), z
