"""Coupling layers: invertible whatever network sits inside, with a triangular Jacobian.

A binary ``mask`` splits the coordinates. Where mask == 1 the coordinate passes through
unchanged and feeds the conditioner network; where mask == 0 it is transformed, with
parameters computed by the conditioner from the unchanged part. Because the unchanged part
is available on the way back, the inverse has a closed form, and the Jacobian is triangular
(after reordering), so log|det J| is a sum over the transformed coordinates: O(D), not O(D^3).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lessonlib.bijectors import Bijector, Chain, check_batch, register_example
from lessonlib.inputs import MAX_SIZE, count, describe, flag, real_array
from lessonlib.inputs import log_scale_bound as read_log_scale_bound
from lessonlib.nets import MLP, bound_log_scale, randomise

__all__ = [
    "AdditiveCoupling",
    "AffineCoupling",
    "ConditionalAffineCoupling",
    "check_mask",
    "conditioner_net",
    "conditioner_output",
    "half_mask",
    "alternating_mask",
    "checkerboard_mask",
    "channel_mask",
    "image_side",
    "kept_first_order",
    "jacobian_matrix",
    "coupling_stack",
    "MASKS",
]


def check_mask(mask) -> Tensor:
    """The mask as a float vector; ValueError unless it is 1D, of 0s and 1s, keeping one coordinate and transforming one."""
    m = torch.as_tensor(real_array(mask, "mask", allow_bool=True))
    if m.ndim != 1:
        raise ValueError(f"mask must be a 1D vector with one entry per coordinate, got shape {tuple(m.shape)}.")
    if not ((m == 0) | (m == 1)).all():
        raise ValueError("mask entries must be 0 (transformed) or 1 (passed through unchanged).")
    if m.all() or not m.any():
        raise ValueError(
            "mask must keep at least one coordinate and transform at least one: with all ones the layer is "
            "the identity, with all zeros the conditioner sees nothing and the inverse has nothing to condition on."
        )
    keep = (
        isinstance(mask, Tensor) and mask.is_floating_point()
    )  # a float tensor keeps its dtype, as nn.Parameter would
    return m.to(mask.dtype if keep else torch.get_default_dtype())


def half_mask(dim: int, flip: bool = False) -> Tensor:
    """1 on the first half of the coordinates (kept), 0 on the rest (transformed); ``flip`` swaps them.

    For dim == 1 there is nothing to condition on: coupling layers need dim >= 2.
    """
    if count(dim, "dim", maximum=MAX_SIZE) < 2:
        raise ValueError("a coupling layer needs at least 2 coordinates: one to keep and one to transform.")
    m = torch.zeros(dim)
    m[: dim // 2] = 1
    return 1 - m if flag(flip, "flip") else m


def alternating_mask(dim: int, flip: bool = False) -> Tensor:
    """1 on even coordinates (kept), 0 on odd ones (transformed); ``flip`` swaps them."""
    if count(dim, "dim", maximum=MAX_SIZE) < 2:
        raise ValueError("a coupling layer needs at least 2 coordinates: one to keep and one to transform.")
    m = (torch.arange(dim) % 2 == 0).to(torch.get_default_dtype())
    return 1 - m if flag(flip, "flip") else m


def checkerboard_mask(height: int, width: int, flip: bool = False) -> Tensor:
    """1 where (row + column) is even (kept), 0 elsewhere (transformed), flattened row by row.

    The RealNVP mask for images: every transformed pixel has kept neighbours on all four sides.

    Shapes: -> (height * width,).
    """
    if (
        count(height, "height", maximum=MAX_SIZE) < 1
        or count(width, "width", maximum=MAX_SIZE) < 1
        or height * width < 2
    ):
        raise ValueError("a checkerboard mask needs at least 2 pixels: one to keep and one to transform.")
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    m = ((rows + cols) % 2 == 0).to(torch.get_default_dtype()).flatten()
    return 1 - m if flag(flip, "flip") else m


def channel_mask(height: int, width: int, flip: bool = False) -> Tensor:
    """1 on the even rows (kept), 0 on the odd rows (transformed), flattened row by row.

    RealNVP's channel-wise mask, seen on the pixel grid: a squeeze turns every 2 x 2 block of an
    image into 4 channels (top-left, top-right, bottom-left, bottom-right); keeping the first two
    channels keeps the top row of every block, which is every even row. A squeeze only reorders
    pixels (log-det 0), so the mask can be written on the grid directly.

    Shapes: -> (height * width,).
    """
    height, width = count(height, "height", maximum=MAX_SIZE), count(width, "width", maximum=MAX_SIZE)
    if height < 2 or width < 1 or height % 2:
        raise ValueError(f"a channel mask needs an even number of rows (2 x 2 blocks), got a {height} x {width} image.")
    rows = torch.arange(height)[:, None].expand(height, width)
    m = (rows % 2 == 0).to(torch.get_default_dtype()).flatten()
    return 1 - m if flag(flip, "flip") else m


def image_side(dim: int) -> int:
    """The side h of a square image with h * h == dim pixels; a ValueError otherwise."""
    dim = count(dim, "dim", maximum=MAX_SIZE)
    side = int(round(dim**0.5))
    if side * side != dim or side < 2:
        raise ValueError(f"image masks need a square image of side >= 2 (dim = side * side), got dim = {dim}.")
    return side


def _image_mask(kind: str, dim: int, k: int) -> Tensor:
    """Layer k's mask on a square image: checkerboard and flipped checkerboard; "image" adds the channel masks."""
    side = image_side(dim)
    if kind == "checkerboard" or k % 4 < 2:
        return checkerboard_mask(side, side, flip=bool(k % 2))
    return channel_mask(side, side, flip=bool(k % 2))


def kept_first_order(mask) -> Tensor:
    """The coordinate order that lists kept coordinates (mask == 1) first, then transformed ones.

    Reordering rows and columns of a coupling layer's Jacobian J[order][:, order] makes it block
    lower triangular: [[I, 0], [*, diagonal]].

    Shapes: mask (D,) -> (D,) long indices.
    """
    m = check_mask(mask)
    idx = torch.arange(m.numel())
    return torch.cat([idx[m == 1], idx[m == 0]])


def jacobian_matrix(fn, point: Tensor) -> Tensor:
    """J[i, j] = d fn(point)_i / d point_j by autograd, for a map on batches.

    ``fn`` maps (B, D) -> (B, D) (e.g. a Bijector's ``forward``); rows are outputs, columns inputs.

    Shapes: point (D,) -> (D, D).
    """
    from torch.autograd.functional import jacobian

    if not callable(fn):
        raise TypeError(f"fn must be a function of a batch of points (e.g. a layer's forward), got {describe(fn)}.")
    point = check_batch(point[None] if isinstance(point, Tensor) and point.ndim == 1 else point, None, "point")
    if point.shape[0] != 1:
        raise ValueError(f"point must be one point of shape (D,), got {point.shape[0]} points; use x[0] for a batch.")

    def one(v: Tensor) -> Tensor:
        out = fn(v[None])
        if not isinstance(out, Tensor) or out.ndim != 2 or out.shape[0] != 1:
            got = f"shape {tuple(out.shape)}" if isinstance(out, Tensor) else describe(out)
            raise ValueError(f"fn must map a batch of points (1, D) to a batch (1, D), got {got}.")
        return out[0]

    return jacobian(one, point[0])


def conditioner_net(conditioner, dim: int, out: int, hidden: tuple[int, ...]) -> nn.Module:
    """The conditioner given (a network mapping (B, D) to (B, out)), or a fresh MLP; TypeError for anything else."""
    if conditioner is None:
        return MLP(dim, out, hidden)
    if not callable(conditioner):
        raise TypeError(
            f"conditioner must be a network mapping (batch, {dim}) to (batch, {out}) (an nn.Module such as "
            f"lessonlib.nets.MLP({dim}, {out})), got {describe(conditioner)}."
        )
    return conditioner


def conditioner_output(net: nn.Module, kept: Tensor, width: int, what: str) -> Tensor:
    """net(kept), the conditioner's output, if it is a tensor of shape (B, width); an error naming both shapes
    otherwise, and one naming the input when the network cannot read it."""
    if not isinstance(kept, Tensor):
        raise TypeError(f"the conditioner reads a tensor of shape (batch, n), got {describe(kept)}.")
    try:
        out = net(kept)
    except (RuntimeError, TypeError) as e:  # e.g. a first nn.Linear built for another number of inputs
        if any(p.dtype != kept.dtype for p in getattr(net, "parameters", list)() if p.is_floating_point()):
            raise  # parameters in another dtype than the points: the layer names that (one layer converted alone)
        raise ValueError(
            f"the conditioner cannot read an input of shape {tuple(kept.shape)} ({type(e).__name__}: {e}): this "
            f"layer gives it {kept.shape[-1]} numbers per point. Build it with that many inputs."
        ) from None
    if not isinstance(out, Tensor):
        raise TypeError(
            f"the conditioner must return one tensor of shape (batch, {width}) ({what}), got {describe(out)}."
        )
    if tuple(out.shape) != (kept.shape[0], width):
        raise ValueError(
            f"the conditioner returned shape {tuple(out.shape)} for an input of shape {tuple(kept.shape)}, but this "
            f"layer needs (batch, {width}): {what}. Build it with that many outputs."
        )
    return out


class AdditiveCoupling(Bijector):
    """NICE additive coupling: x_b = z_b + t(z_a), x_a = z_a (a: mask == 1, b: mask == 0).

    Volume preserving: the Jacobian is unit triangular, so log|det J| = 0 exactly.
    Reference: Dinh, Krueger, Bengio, "NICE: Non-linear Independent Components Estimation" (2014).

    Shapes: mask (D,); z, x (B, D); log_det (B,).
    """

    def __init__(self, mask, conditioner: nn.Module | None = None, hidden: tuple[int, ...] = (64, 64)):
        super().__init__()
        self.register_buffer("mask", check_mask(mask))
        self.dim = self.mask.numel()
        self.conditioner = conditioner_net(conditioner, self.dim, self.dim, hidden)

    def _shift(self, kept: Tensor) -> Tensor:
        out = conditioner_output(self.conditioner, kept, self.dim, "a shift per coordinate")
        return out * (1 - self.mask.to(kept))

    def _forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        m = self.mask.to(z)
        return z + self._shift(z * m), z.new_zeros(z.shape[0])

    def _inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        m = self.mask.to(x)
        return x - self._shift(x * m), x.new_zeros(x.shape[0])


class AffineCoupling(Bijector):
    """RealNVP affine coupling: x_b = z_b * exp(s(z_a)) + t(z_a), x_a = z_a.

    log|det J| = sum over transformed coordinates of s(z_a). The conditioner can be any network
    (ReLU included): invertibility comes from the structure, not from the network.
    ``log_scale_bound`` squashes s into (-bound, bound) with bound * tanh(s / bound), which keeps
    exp(s) from overflowing early in training; None (or infinity) leaves s unbounded.
    Reference: Dinh, Sohl-Dickstein, Bengio, "Density estimation using Real NVP" (2017).

    Shapes: mask (D,); conditioner (B, D) -> (B, 2D); z, x (B, D); log_det (B,).
    """

    def __init__(
        self,
        mask,
        conditioner: nn.Module | None = None,
        hidden: tuple[int, ...] = (64, 64),
        log_scale_bound: float | None = 3.0,
    ):
        super().__init__()
        self.register_buffer("mask", check_mask(mask))
        # 1 where the conditioner's output is used (the transformed coordinates), for s and t side by side
        self.register_buffer("_free2", (1 - self.mask).repeat(2), persistent=False)
        self.dim = self.mask.numel()
        self.conditioner = conditioner_net(conditioner, self.dim, 2 * self.dim, hidden)
        self.log_scale_bound = read_log_scale_bound(log_scale_bound)

    def scale_and_shift(self, kept: Tensor) -> tuple[Tensor, Tensor]:
        """Log-scale s and shift t from the kept coordinates, zero where mask == 1. Shapes: (B, D) -> 2 x (B, D)."""
        # one multiplication zeroes s and t on the kept coordinates; the bound keeps 0 at 0
        out = conditioner_output(self.conditioner, kept, 2 * self.dim, "a log-scale and a shift per coordinate")
        s, t = (out * self._free2.to(kept)).chunk(2, dim=-1)
        return bound_log_scale(s, self.log_scale_bound), t

    def _forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        s, t = self.scale_and_shift(z * self.mask.to(z))
        return z * torch.exp(s) + t, s.sum(dim=-1)

    def _inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        s, t = self.scale_and_shift(x * self.mask.to(x))
        neg_s = -s  # the inverse scales by exp(-s), and its log-det is -sum(s)
        return (x - t) * torch.exp(neg_s), neg_s.sum(dim=-1)


class _WithContext(nn.Module):
    """net([kept, context]): a conditioner that reads a context vector beside the masked point.

    Shapes: kept (B, D); context (C,) (the same for every point) or (B, C) -> net's output (B, out).
    """

    def __init__(self, net: nn.Module, context: Tensor):
        super().__init__()
        self.net, self.context = net, context

    def forward(self, kept: Tensor) -> Tensor:  # noqa: D401 - nn.Module name
        """net(cat(kept, context))."""
        c = self.context.to(kept)
        if c.ndim == 1:
            c = c.expand(kept.shape[0], -1)
        elif c.shape[0] != kept.shape[0]:
            raise ValueError(
                f"the context has {c.shape[0]} rows but the batch has {kept.shape[0]} points: give one context "
                "per point, shape (batch, C), or a single context of shape (C,) shared by every point."
            )
        return self.net(torch.cat([kept, c], dim=-1))


class ConditionalAffineCoupling(AffineCoupling):
    """Affine coupling whose conditioner also sees a context c: x_b = z_b * exp(s(z_a, c)) + t(z_a, c), x_a = z_a.

    For a fixed context this is an AffineCoupling in z: the same triangular Jacobian and
    log|det J| = sum of s over the transformed coordinates, since c is an input of the network, not a
    coordinate being transformed. The context only chooses which bijection. A network shared by many
    contexts gives a whole family q(z | c) from one set of weights: amortised inference, the shape
    of a VAE's encoder. ``make_flow(..., context_dim=C)`` stacks these layers.
    Reference: Winkler et al., "Learning Likelihoods with Conditional Normalizing Flows" (2019).

    Shapes: mask (D,); net (B, D + C) -> (B, 2D); context (C,) or (B, C); z, x (B, D); log_det (B,).
    """

    def __init__(self, mask, net: nn.Module, context: Tensor, log_scale_bound: float | None = 3.0):
        if not isinstance(context, Tensor) or context.ndim not in (1, 2) or not context.is_floating_point():
            raise ValueError("context must be a floating-point tensor of shape (C,) or (batch, C).")
        if not torch.isfinite(context).all():
            raise ValueError("the context contains NaN or infinity: the conditioner cannot compute scales from it.")
        super().__init__(mask, conditioner=_WithContext(net, context), log_scale_bound=log_scale_bound)
        self.context = context


#: The mask patterns ``coupling_stack`` (and ``make_flow``) offer.
MASKS = ("alternating", "half", "checkerboard", "image")


def coupling_stack(
    dim: int,
    n_layers: int,
    hidden: tuple[int, ...] = (64, 64),
    mask: str = "alternating",
    layer: type[Bijector] = AffineCoupling,
    **kwargs,
):
    """A Chain of ``n_layers`` coupling layers whose masks alternate, so every coordinate gets transformed.

    ``mask`` is one of MASKS: "alternating" (even/odd coordinates), "half" (first half/second half),
    and for a square image of dim = side * side pixels "checkerboard" (checkerboard, then flipped) or
    "image" (RealNVP's order: two checkerboard layers, then two channel-style layers, repeated).
    """
    if mask not in MASKS:
        raise ValueError(f"mask must be one of {MASKS}, got {mask!r}.")
    if count(n_layers, "n_layers") < 1:
        raise ValueError("a flow needs at least one layer.")
    if mask in ("alternating", "half"):
        make = alternating_mask if mask == "alternating" else half_mask
        masks = [make(dim, flip=bool(k % 2)) for k in range(n_layers)]
    else:
        masks = [_image_mask(mask, dim, k) for k in range(n_layers)]
    if not (isinstance(layer, type) and issubclass(layer, Bijector)):
        raise TypeError(
            f"layer must be a coupling layer class such as AffineCoupling or SplineCoupling, got {layer!r}."
        )
    return Chain(*[layer(m, hidden=hidden, **kwargs) for m in masks])


def _random_conditioner(in_dim: int, out_dim: int, gen: torch.Generator) -> MLP:
    return randomise(MLP(in_dim, out_dim, hidden=(8,), activation=nn.Tanh, zero_last=False), gen, std=0.7)


@register_example("AdditiveCoupling", dims=(2, 3, 5))
def _additive_example(dim: int, gen: torch.Generator) -> Bijector:
    return AdditiveCoupling(alternating_mask(dim).double(), _random_conditioner(dim, dim, gen))


@register_example("AffineCoupling", dims=(2, 3, 5))
def _affine_coupling_example(dim: int, gen: torch.Generator) -> Bijector:
    return AffineCoupling(half_mask(dim, flip=True).double(), _random_conditioner(dim, 2 * dim, gen))


@register_example("AffineCouplingUnbounded", dims=(2, 4))
def _affine_coupling_unbounded_example(dim: int, gen: torch.Generator) -> Bijector:
    return AffineCoupling(alternating_mask(dim).double(), _random_conditioner(dim, 2 * dim, gen), log_scale_bound=None)


@register_example("ConditionalAffineCoupling", dims=(2, 3, 5))
def _conditional_coupling_example(dim: int, gen: torch.Generator) -> Bijector:
    context = torch.randn(2, generator=gen, dtype=torch.float64)  # one context, shared by every point
    return ConditionalAffineCoupling(
        alternating_mask(dim, flip=True).double(), _random_conditioner(dim + 2, 2 * dim, gen), context
    )
