"""Notebook 10's computations: each layer of an image flow measured on its own, then the ablation on the digits.

The digits, their split and the bits per dimension are those of notebook 08 (``load_digit_tensors``; a
density over dequantised pixels in [0, 17)^64, minus a bound on log P(k), per pixel, in bits). Every model
here is a ``DequantisedFlow``: a flow p with its noise q (uniform as in 08, or learned), trained on the
bound with the one ``Trainer``, with early stopping on the validation images as in 08. Nothing here draws:
``plots`` and ``widgets`` show these results, ``exercises`` may use them.

Direction as everywhere in lessonlib: z base, x data, x = f(z) forward (sampling), z = f^-1(x) inverse (density).
"""

from __future__ import annotations

import copy
import math
import statistics
import time
import timeit
from dataclasses import dataclass, field

import torch
from torch import Tensor

from lessonlib.dequantisation import DequantisedFlow, VariationalNoise, elbo_objective
from lessonlib.flows import Flow
from lessonlib.image_layers import ActNorm, InvertibleConv1x1, Squeeze, initialise_actnorm
from lessonlib.images import PixelLogit, bits_per_dim
from lessonlib.lessons.l08_images.experiments import DIM, DTYPE, LEVELS, Digits, image_flow
from lessonlib.multiscale import MultiScaleFlow, make_image_flow
from lessonlib.training import Trainer
from lessonlib.verify import autograd_log_det

__all__ = [
    "SHAPE",
    "HIDDEN",
    "STEPS",
    "VARIANTS",
    "squeeze_matrix",
    "ConvCost",
    "conv_log_det_costs",
    "actnorm_statistics",
    "flow_bits_per_dim",
    "coordinates_per_step",
    "seconds_per_step",
    "build_variant",
    "Run",
    "bound_bpd",
    "discrete_bpd",
    "train_variant",
    "bound_terms",
    "format_ablation",
    "Ablation",
    "ablation",
    "level_samples",
]

#: The digits as images: 1 channel of 8 x 8 pixels.
SHAPE = (1, 8, 8)
#: The conditioners' hidden layers, the same in every variant of the ablation.
HIDDEN = 64
#: Training steps of every model of the ablation (batches of 256 images: about 43 passes over the training set).
STEPS = 200
#: The ablation's variants, in order: each adds one thing to the one before.
VARIANTS = (
    "08's flow (8 couplings)",
    "+ ActNorm and 1x1 convolutions",
    "+ multi-scale",
    "+ variational dequantisation",
)


# ----------------------------------------------------------------------------------------------
# the layers, one at a time
# ----------------------------------------------------------------------------------------------


def squeeze_matrix(shape=SHAPE) -> Tensor:
    """The D x D matrix of the squeeze in the density direction: row i is the image of the i-th coordinate.

    Shapes: -> (D, D), D = C*H*W, of 0s and 1s (float64).
    """
    layer = Squeeze(shape).double()
    return layer.inverse(torch.eye(layer.dim, dtype=torch.float64)).T


@dataclass(frozen=True)
class ConvCost:
    """A 1x1 convolution's log-det three ways (formula, slogdet of M times H W, autograd's Jacobian), and their times."""

    formula: float
    per_pixel_slogdet: float
    autograd: float
    formula_seconds: float
    autograd_seconds: float
    dim: int

    @property
    def ratio(self) -> float:
        """How many times longer autograd's Jacobian and its slogdet took than the formula."""
        return self.autograd_seconds / self.formula_seconds


def conv_log_det_costs(shape=(4, 4, 4), seed: int = 0, repeats: int = 3) -> ConvCost:
    """log|det J| of an invertible 1x1 convolution on one image of ``shape``: H W sum log|s| from the LU
    factors, against H W slogdet(M) and against slogdet of the full (C H W) x (C H W) Jacobian by autograd;
    best-of-``repeats`` time of the formula and of autograd's way (float64)."""
    conv = InvertibleConv1x1(shape, torch.Generator().manual_seed(seed), dtype=torch.float64)
    with torch.no_grad():
        conv.log_s.add_(0.3 * torch.randn(conv.log_s.shape, generator=torch.Generator().manual_seed(seed + 1)).double())
    z = torch.randn(1, conv.dim, generator=torch.Generator().manual_seed(seed + 2), dtype=torch.float64)
    with torch.no_grad():
        formula = float(conv.forward_and_log_det(z)[1][0])
        per_pixel = float(shape[1] * shape[2] * torch.linalg.slogdet(conv.matrix())[1])
    full = float(autograd_log_det(conv.forward, z)[0])
    pixels = shape[1] * shape[2]
    t_formula = min(timeit.repeat(lambda: pixels * conv.log_s.sum(), number=20, repeat=repeats)) / 20
    t_autograd = min(timeit.repeat(lambda: autograd_log_det(conv.forward, z), number=1, repeat=repeats))
    return ConvCost(formula, per_pixel, full, t_formula, t_autograd, conv.dim)


def actnorm_statistics(flow: Flow, first: Tensor, other: Tensor) -> tuple[dict[str, Tensor], int]:
    """Initialise every ActNorm of ``flow`` from the batch ``first``; per-channel mean and standard deviation of
    what the first ActNorm (in the density direction) receives, and of what it hands on, on ``first`` and on
    ``other``; and the number of layers initialised.

    Shapes: first, other (B, D) dequantised pixels -> each statistic (C,).
    """
    layers = list(flow.bijector.layers)[::-1]  # density order
    k = next(i for i, layer in enumerate(layers) if isinstance(layer, ActNorm))
    actnorm = layers[k]

    def into(x: Tensor) -> Tensor:
        with torch.no_grad():
            for layer in layers[:k]:
                x = layer.inverse(x)
        return x

    def stats(x: Tensor) -> tuple[Tensor, Tensor]:
        c = actnorm.shape.channels
        per_channel = x.view(x.shape[0], c, -1).transpose(0, 1).reshape(c, -1)
        return per_channel.mean(1), per_channel.std(1, unbiased=False)

    before = stats(into(first))
    n_layers = len(initialise_actnorm(flow, first))
    with torch.no_grad():
        after, later = stats(actnorm.inverse(into(first))), stats(actnorm.inverse(into(other)))
    names = ("before ActNorm", "after, first batch", "after, other images")
    out = {
        f"{kind} {name}": value
        for name, pair in zip(names, (before, after, later))
        for kind, value in zip(("mean", "std"), pair)
    }
    return out, n_layers


def flow_bits_per_dim(flow: Flow, y: Tensor) -> float:
    """Bits per dimension of ``flow`` on dequantised pixels ``y``: -mean log p(y) / (D ln 2)."""
    with torch.no_grad():
        return float(bits_per_dim(-flow.log_prob(y).mean(), y.shape[1]))


def coordinates_per_step(flow: Flow) -> list[int]:
    """How many coordinates each coupling of ``flow`` transforms (its input's size), in the density direction."""
    return [m.dim for m in list(flow.modules())[::-1] if type(m).__name__ == "AffineCoupling"]


def seconds_per_step(flow: Flow, batch: int = 256, repeats: int = 3, seed: int = 0) -> float:
    """Best-of-``repeats`` CPU seconds of one training step (density pass, backward, Adam) of ``flow`` on random
    pixels. CPU time, not the clock's: other programs sharing the machine slow the clock, not the step's CPU time."""
    gen = torch.Generator().manual_seed(seed)
    pixels = torch.randint(0, LEVELS, (batch, flow.dim), generator=gen).to(DTYPE)
    trainer = Trainer(DequantisedFlow(flow, LEVELS), objective=elbo_objective(pixels), lr=1e-3, batch_size=batch)
    trainer.run(2)  # warm up
    return min(timeit.repeat(trainer.step, number=1, repeat=repeats, timer=time.process_time))


# ----------------------------------------------------------------------------------------------
# the ablation
# ----------------------------------------------------------------------------------------------


def build_variant(name: str, seed: int = 0, hidden: int = HIDDEN) -> DequantisedFlow:
    """The model of one row of the ablation (``VARIANTS``), built from ``seed``: a flow and its noise."""
    if name not in VARIANTS:
        raise ValueError(f"name must be one of {VARIANTS}, got {name!r}.")
    k = VARIANTS.index(name)
    if k == 0:
        flow: Flow = image_flow(n_layers=8, hidden=hidden, seed=seed)
    else:
        flow = make_image_flow(
            SHAPE, 3, 3, (hidden, hidden), multiscale=k >= 2, last=PixelLogit(LEVELS), seed=seed, dtype=DTYPE
        )
    noise = VariationalNoise(DIM, LEVELS, 4, (hidden, hidden), seed=seed + 1, dtype=DTYPE) if k == 3 else None
    return DequantisedFlow(flow, LEVELS, noise)


@dataclass
class Run:
    """One trained model: validation curve, the step kept, test bits/dim (the bound, and the discrete estimate)."""

    variant: str
    seed: int
    steps: list[int] = field(default_factory=list)
    val_bpd: list[float] = field(default_factory=list)
    best_step: int = 0
    best_val: float = math.inf
    test_bpd: float = math.nan
    discrete_bpd: float = math.nan
    seconds: float = 0.0
    parameters: int = 0


def bound_bpd(model: DequantisedFlow, pixels: Tensor, seed: int = 0, n_noise: int = 1) -> float:
    """Minus the bound, in bits per pixel, averaged over the images and ``n_noise`` fixed draws of the noise."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        elbo = torch.stack([model.elbo(pixels, gen) for _ in range(n_noise)])
    return float(bits_per_dim(-elbo.mean(), DIM))


def discrete_bpd(model: DequantisedFlow, pixels: Tensor, n_noise: int = 32, seed: int = 2) -> float:
    """-log2 P(k) / D, with log P(k) estimated by importance weighting over ``n_noise`` draws of the model's noise
    (``DequantisedFlow.discrete_log_prob``), averaged over the images."""
    with torch.no_grad():
        log_p = model.discrete_log_prob(pixels, n_noise, torch.Generator().manual_seed(seed))
    return float(bits_per_dim(-log_p.mean(), DIM))


def train_variant(
    model: DequantisedFlow,
    digits: Digits,
    steps: int = STEPS,
    every: int = 25,
    lr: float = 3e-3,
    batch_size: int = 256,
    seed: int = 0,
) -> Run:
    """Train on the bound (batches of ``batch_size`` training images, fresh noise each step) and keep the
    parameters that scored best on the validation images (every ``every`` steps, one fixed noise draw, as in
    08); the ActNorm layers are initialised first, from a batch of dequantised training images. Then measure
    the kept model once on the test images: the bound (4 noise draws) and the discrete estimate (32 draws)."""
    run = Run("", seed, parameters=sum(p.numel() for p in model.parameters()))
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(seed + 7)
    first = digits.train[torch.randint(digits.train.shape[0], (256,), generator=gen)]
    initialise_actnorm(model.flow, first + torch.rand(first.shape, generator=gen, dtype=first.dtype))
    trainer = Trainer(model, objective=elbo_objective(digits.train), lr=lr, batch_size=batch_size, seed=seed)
    best = copy.deepcopy(model.state_dict())
    while trainer.steps < steps:
        trainer.run(min(every, steps - trainer.steps))
        run.steps.append(trainer.steps)
        run.val_bpd.append(bound_bpd(model, digits.val, seed=1))
        if run.val_bpd[-1] < run.best_val:
            run.best_val, run.best_step, best = run.val_bpd[-1], trainer.steps, copy.deepcopy(model.state_dict())
    model.load_state_dict(best)
    run.test_bpd = bound_bpd(model, digits.test, seed=3, n_noise=4)
    run.discrete_bpd = discrete_bpd(model, digits.test)
    run.seconds = time.perf_counter() - t0
    return run


class Ablation:
    """The ablation's trained models: ``runs[variant]``, one Run per seed, and ``models[variant]``, the kept model
    of the variant's first seed. ``train`` adds a variant; the notebook trains one variant per cell."""

    def __init__(self) -> None:
        self.runs: dict[str, list[Run]] = {}
        self.models: dict[str, DequantisedFlow] = {}

    def train(self, variant: str, digits: Digits, seeds: tuple[int, ...] = (0, 1), steps: int = STEPS) -> None:
        """Build and train ``variant`` from each of ``seeds`` (``train_variant``), keeping every run."""
        self.runs[variant] = []
        for seed in seeds:
            model = build_variant(variant, seed)
            run = train_variant(model, digits, steps, seed=seed)
            run.variant = variant
            self.runs[variant].append(run)
            self.models.setdefault(variant, model)

    def summary(self, variant: str, key: str = "test_bpd") -> tuple[float, float, float]:
        """(mean, smallest, largest) of ``key`` (a Run field: test_bpd, discrete_bpd, ...) over the variant's seeds."""
        values = [getattr(r, key) for r in self.runs[variant]]
        return statistics.fmean(values), min(values), max(values)

    def describe(self, variant: str) -> str:
        """One line: the variant's test bits/dim, its mean and range over the seeds."""
        mean, low, high = self.summary(variant)
        return f"{variant}: test bits/dim {mean:.3f} ({low:.3f} to {high:.3f} over {len(self.runs[variant])} seeds)"


def ablation(digits: Digits, seeds: tuple[int, ...] = (0, 1), steps: int = STEPS) -> Ablation:
    """Every variant of ``VARIANTS`` trained from every seed."""
    study = Ablation()
    for variant in VARIANTS:
        study.train(variant, digits, seeds, steps)
    return study


def bound_terms(model: DequantisedFlow, pixels: Tensor, seed: int = 0) -> dict[str, float]:
    """The bound's two terms and the bound itself, averaged over ``pixels`` (one noise draw each), in nats per image."""
    with torch.no_grad():
        log_p, log_q = model.elbo_terms(pixels, torch.Generator().manual_seed(seed))
    return {
        "log p(k + u)": float(log_p.mean()),
        "log q(u | k)": float(log_q.mean()),
        "bound": float((log_p - log_q).mean()),
    }


def format_ablation(ablation: Ablation, categorical: float) -> str:
    """The ablation as a text table: per variant, test bits/dim (mean and range over seeds) and the discrete estimate."""
    n = len(next(iter(ablation.runs.values())))
    lines = [f"{'test bits/dim':>31}  bound: mean (range over {n} seeds)   discrete estimate: mean   parameters"]
    for variant in VARIANTS:
        mean, low, high = ablation.summary(variant)
        discrete = ablation.summary(variant, "discrete_bpd")[0]
        params = ablation.runs[variant][0].parameters
        lines.append(
            f"{variant:>31}  {mean:.3f} ({low:.3f} to {high:.3f})            {discrete:.3f}              {params:,}"
        )
    lines.append(f"{'per-pixel histograms (08)':>31}  {categorical:.3f}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# what each level encodes
# ----------------------------------------------------------------------------------------------


def level_samples(flow: MultiScaleFlow, eps: Tensor, temperatures: dict[str, float], redraw: str) -> Tensor:
    """Images x = f(z) where every level's z is T_l * eps[0] except level ``redraw``, which takes T * eps[j] in
    image j: what redrawing that level alone changes. Pixels in [0, 17].

    Shapes: eps (N, D) -> (N, D).
    """
    blocks = flow.split(eps.to(flow.dtype))
    z = {name: temperatures[name] * (b if name == redraw else b[:1].expand_as(b)) for name, b in blocks.items()}
    with torch.no_grad():
        return flow.bijector.forward(flow.join(z)).clamp(0, LEVELS)
