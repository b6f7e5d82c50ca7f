"""Multi-scale image flows: Glow's steps in levels, with half of the channels factored out after each level.

In the density direction, each level squeezes the image (``Squeeze``), runs ``steps`` Glow steps on it
(``ActNorm``, ``InvertibleConv1x1``, an affine coupling that keeps the first half of the channels), and then
**factors out** half of the channels: they leave the flow there and become that level's latent z_l, with a
standard normal base term of their own. The other half goes on to the next level, which is therefore half
as large and half as costly. The last level keeps everything it gets. So

    log p(x) = sum_l log N(z_l; 0, I) + log|det J_{f^-1}(x)|,

a sum over the levels of their base terms, plus the log-dets of every layer of every level. The early
levels' z hold what the flow decided quickly (fine detail), the last level's what took the whole depth
to untangle (the coarse shape).

``make_image_flow`` builds such a flow (or, with ``multiscale=False``, the same steps on one level that
never factors anything out) for a C x H x W image, as a ``MultiScaleFlow``: a ``Flow`` that knows which
coordinates of z belong to which level. ``FactorOut(inner, dim)`` is the bijector behind a factor-out.
Reference: Dinh, Sohl-Dickstein, Bengio, "Density estimation using Real NVP" (2017), section 3.6;
Kingma, Dhariwal, "Glow" (2018), section 3.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lessonlib.bijectors import Bijector, Chain, check_batch, register_example
from lessonlib.coupling import AffineCoupling, half_mask
from lessonlib.flows import Flow, standard_normal
from lessonlib.image_layers import ActNorm, ImageShape, InvertibleConv1x1, Squeeze, image_shape
from lessonlib.inputs import MAX_SIZE, count, describe
from lessonlib.nets import MLP, layer_widths

__all__ = ["FactorOut", "Level", "MultiScaleFlow", "glow_step", "make_image_flow"]


class FactorOut(Bijector):
    """x = (f(z_a), z_b): ``inner`` acts on the first ``inner.dim`` coordinates, the rest pass unchanged.

    In the density direction the last ``dim - inner.dim`` coordinates are factored out: they go straight to
    the base, and only the first part continues through ``inner`` (the next levels). log|det J| is inner's.

    Shapes: z, x (B, dim); inner acts on (B, inner.dim); log_det (B,).
    """

    def __init__(self, inner: Bijector, dim: int):
        super().__init__()
        if not isinstance(inner, Bijector) or inner.dim is None:
            raise ValueError(f"inner must be a Bijector with a fixed dim, got {describe(inner)}.")
        self.dim = count(dim, "dim", minimum=2, maximum=MAX_SIZE)
        if not 0 < inner.dim < self.dim:
            raise ValueError(
                f"inner acts on {inner.dim} coordinates: it must be fewer than dim = {self.dim}, and some."
            )
        self.inner, self.kept = inner, inner.dim

    def _forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        x_a, log_det = self.inner._forward_and_log_det(z[:, : self.kept])
        return torch.cat([x_a, z[:, self.kept :]], dim=1), log_det

    def _inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z_a, log_det = self.inner._inverse_and_log_det(x[:, : self.kept])
        return torch.cat([z_a, x[:, self.kept :]], dim=1), log_det


def glow_step(shape, hidden: tuple[int, ...], generator: torch.Generator | None = None) -> list[Bijector]:
    """One Glow step on images of ``shape``, in the sampling order of a Chain: coupling, 1x1 convolution, ActNorm.

    In the density direction (the order Glow writes it): ActNorm, then the 1x1 convolution, then an affine
    coupling whose network (an MLP, starting at zero, so the coupling starts as the identity) reads the
    first half of the channels and scales and shifts the second half.
    """
    shape = image_shape(shape)
    if shape.channels % 2:
        raise ValueError(
            f"a coupling keeps half of the channels: the image needs an even number, got {shape.channels}."
        )
    coupling = AffineCoupling(half_mask(shape.dim), MLP(shape.dim, 2 * shape.dim, hidden))
    return [coupling, InvertibleConv1x1(shape, generator), ActNorm(shape)]


class Level(tuple):
    """(name, start, stop, shape): a level's latent z_l is z[:, start:stop], of ``shape`` (C, H, W)."""

    __slots__ = ()

    def __new__(cls, name: str, start: int, stop: int, shape: ImageShape):
        return super().__new__(cls, (name, start, stop, shape))

    name = property(lambda self: self[0])
    start = property(lambda self: self[1])
    stop = property(lambda self: self[2])
    shape = property(lambda self: self[3])


class MultiScaleFlow(Flow):
    """A Flow on images whose latent z is cut into levels, each with its own standard normal base term.

    ``levels`` lists each level's block of z (``Level``: name, start, stop, shape), finest first; the
    blocks cover z. The base N(0, I) on all of z is the product of the levels' bases, so ``log_prob`` is
    the sum of the levels' base terms plus the log-det (``log_prob_by_level`` gives the terms).

    Shapes: x (B, D); z (B, D); log_prob (B,).
    """

    def __init__(self, bijector: Bijector, levels: list[Level], dtype: torch.dtype | None = None):
        super().__init__(standard_normal(bijector.dim, dtype), bijector)
        covered = sorted((lv.start, lv.stop) for lv in levels)
        if covered[0][0] != 0 or covered[-1][1] != self.dim or any(a[1] != b[0] for a, b in zip(covered, covered[1:])):
            raise ValueError(f"the levels' blocks {covered} must cover the latent's {self.dim} coordinates once each.")
        self.levels = list(levels)

    def log_prob_by_level(self, x: Tensor) -> tuple[dict[str, Tensor], Tensor]:
        """({level name: log N(z_l; 0, I)}, log|det J_{f^-1}(x)|), z = f^-1(x). Shapes: x (B, D) -> (B,) each."""
        z, log_det = self.bijector.inverse_and_log_det(check_batch(x, self.dim, "x", self.dtype))
        normal = torch.distributions.Normal(z.new_zeros(()), z.new_ones(()))
        return {lv.name: normal.log_prob(z[:, lv.start : lv.stop]).sum(1) for lv in self.levels}, log_det

    def join(self, blocks: dict[str, Tensor]) -> Tensor:
        """z from each level's block {name: (B, stop - start)}. Shapes: -> (B, D)."""
        names = {lv.name for lv in self.levels}
        if not isinstance(blocks, dict) or set(blocks) != names:
            got = sorted(blocks) if isinstance(blocks, dict) else describe(blocks)
            raise ValueError(f"give a dict with one block per level, {sorted(names)}; got {got}.")
        rows = None
        for lv in self.levels:
            block = check_batch(blocks[lv.name], lv.stop - lv.start, lv.name, self.dtype)
            if rows is not None and block.shape[0] != rows:
                raise ValueError(
                    f"{lv.name} has {block.shape[0]} rows, another level {rows}: give every level one row per image."
                )
            rows, blocks = block.shape[0], {**blocks, lv.name: block}
        return torch.cat([blocks[lv.name] for lv in sorted(self.levels, key=lambda lv: lv.start)], dim=1)

    def split(self, z: Tensor) -> dict[str, Tensor]:
        """{level name: z[:, start:stop]}, the inverse of ``join``. Shapes: z (B, D) -> (B, stop - start) each."""
        z = check_batch(z, self.dim, "z", self.dtype)
        return {lv.name: z[:, lv.start : lv.stop] for lv in self.levels}


def _levels_of(shape: ImageShape, levels: int, multiscale: bool) -> list[tuple[ImageShape, ImageShape]]:
    """For each level, (its input's shape, its squeezed shape); a ValueError when the image is too small."""
    out, current = [], shape
    for k in range(levels if multiscale else 1):
        c, h, w = current
        if h % 2 or w % 2:
            raise ValueError(
                f"level {k + 1} would squeeze a {h} x {w} image; each level halves the height and width, so "
                f"{levels} levels need sides divisible by 2^{levels}. Use fewer levels."
            )
        squeezed = ImageShape(4 * c, h // 2, w // 2)
        out.append((current, squeezed))
        current = ImageShape(2 * c, h // 2, w // 2)  # half of the squeezed channels go on
    return out


def make_image_flow(
    shape=(1, 8, 8),
    levels: int = 3,
    steps: int = 3,
    hidden: tuple[int, ...] = (128, 128),
    *,
    multiscale: bool = True,
    last: Bijector | None = None,
    seed: int = 0,
    dtype: torch.dtype | None = None,
) -> MultiScaleFlow:
    """A Glow-style flow for images of ``shape`` (C, H, W): ``levels`` levels of ``steps`` Glow steps each.

    ``multiscale=True``: each level squeezes, runs its steps and factors out half of its channels (the last
    keeps all); the latent has one block per level, finest first in ``levels`` (named "level 1", ...). With
    ``multiscale=False``: one squeeze, then levels * steps steps on the whole image, one latent block. ``last``
    (e.g. ``lessonlib.images.PixelLogit``) is put after everything in the sampling direction. Built from
    ``seed`` without touching the global random state; ``dtype`` defaults to torch's default dtype.

    Shapes: the flow maps (B, C*H*W) <-> (B, C*H*W).
    """
    shape, levels, steps = image_shape(shape), count(levels, "levels", minimum=1), count(steps, "steps", minimum=1)
    if last is not None and not isinstance(last, Bijector):
        raise ValueError(f"last must be a lessonlib Bijector (e.g. PixelLogit(17)), got {describe(last)}.")
    if last is not None and last.dim not in (None, image_shape(shape).dim):
        raise ValueError(
            f"last acts on {last.dim} coordinates, but an image of shape {tuple(shape)} has {image_shape(shape).dim}."
        )
    if dtype not in (None, torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64 (or None for torch's default), got {dtype}.")
    hidden = layer_widths(hidden)
    plan = _levels_of(shape, levels, multiscale)
    gen = torch.Generator().manual_seed(count(seed, "seed", minimum=-(2**63), maximum=2**64 - 1))
    n_steps = steps if multiscale else levels * steps
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        # each level's steps, first met first in the density direction; a Chain lists them in sampling order
        per_level = [[glow_step(sq, hidden, gen) for _ in range(n_steps)] for _, sq in plan]
    inner: Bijector | None = None
    for (data_shape, _), level_steps in zip(reversed(plan), reversed(per_level)):  # the last level first
        head = [FactorOut(inner, data_shape.dim)] if inner is not None else []  # the next levels, then this one
        layers = [layer for step in reversed(level_steps) for layer in step]
        inner = Chain(*head, *layers, Squeeze(data_shape))
    chain = Chain(*inner.layers, last) if last is not None else inner
    flow = MultiScaleFlow(chain, _level_blocks(plan, shape.dim, multiscale), dtype)
    return flow if dtype is None else flow.to(dtype)


def _level_blocks(plan: list[tuple[ImageShape, ImageShape]], dim: int, multiscale: bool) -> list[Level]:
    """Where each level's z sits: level 1's factored-out half is the last block of z, the last level's the first."""
    if not multiscale:
        return [Level("level 1", 0, dim, plan[0][1])]
    blocks, stop = [], dim
    for k, (_, sq) in enumerate(plan):
        last = k == len(plan) - 1
        size = sq.dim if last else sq.dim // 2
        kept = ImageShape(sq.channels if last else sq.channels // 2, sq.height, sq.width)
        blocks.append(Level(f"level {k + 1}", stop - size, stop, kept))
        stop -= size
    return blocks


@register_example("FactorOut", dims=(3, 5))
def _factor_out_example(dim: int, gen: torch.Generator) -> Bijector:
    from lessonlib.bijectors import Affine

    scale = torch.randn(dim - 1, generator=gen, dtype=torch.float64) + 2.0
    return FactorOut(Affine(scale, torch.randn(dim - 1, generator=gen, dtype=torch.float64)), dim)


@register_example("MultiScaleChain", dims=(16,))
def _multiscale_example(dim: int, gen: torch.Generator) -> Bijector:
    flow = make_image_flow(
        (1, 4, 4), levels=2, steps=1, hidden=(8,), seed=int(torch.randint(2**31, (1,), generator=gen))
    )
    flow = flow.double()
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=gen, dtype=torch.float64))
    return flow.bijector
