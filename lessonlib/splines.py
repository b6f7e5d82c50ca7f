"""Monotone rational-quadratic splines: an expressive invertible map per coordinate, in closed form both ways.

A spline v = g(u) has K bins between K + 1 knots (u_0, v_0) < ... < (u_K, v_K), and the derivative dv/du
at knot k is d_k > 0. In bin k, with width w = u_{k+1} - u_k, height h = v_{k+1} - v_k, slope s = h / w
and xi = (u - u_k) / w in [0, 1], it is a ratio of two quadratics (Gregory & Delbourgo 1982):

    v = v_k + h [s xi^2 + d_k xi (1 - xi)] / [s + (d_k + d_{k+1} - 2 s) xi (1 - xi)]

    dv/du = s^2 [d_{k+1} xi^2 + 2 s xi (1 - xi) + d_k (1 - xi)^2] / [s + (d_k + d_{k+1} - 2 s) xi (1 - xi)]^2

It passes through both knots with the derivatives d_k and d_{k+1} there. Every term of dv/du is positive
when the knots increase (s > 0) and the derivatives are positive, so g increases strictly: it is
invertible, and its inverse solves a quadratic in xi (``bin_quadratic``). Both directions measure a point's
place in its bin from the nearer of the bin's two knots (the formulas are mirror symmetric), which keeps
float32 accurate next to knots. Beyond the end knots g continues
as the straight line with the end derivative; with the end knots at (-B, -B) and (B, B) and end
derivatives 1 (``knots_from_unconstrained``, as in neural spline flows) the tails are the identity.

``rq_spline`` evaluates g and ``rq_spline_inverse`` its inverse. ``RationalQuadraticSpline`` is the bijector
x = g(z), knots (z_k, x_k). ``SplineCoupling`` puts the formula in the density direction instead, z_b = g(x_b),
as neural spline flows do: training evaluates densities, and the formula is cheaper than the root of the
quadratic, which sampling then takes. Both directions are exact.

Reference: Durkan, Bekasov, Murray, Papamakarios, "Neural Spline Flows", NeurIPS 2019; Gregory and
Delbourgo, "Piecewise rational quadratic interpolation to monotonic data", IMA J. Numer. Anal. 1982.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lessonlib.bijectors import Bijector, Chain, register_example
from lessonlib.coupling import alternating_mask, check_mask, conditioner_net, conditioner_output, half_mask
from lessonlib.inputs import MAX_SIZE, count, describe, flag, positive_number, real_array, real_number
from lessonlib.nets import MLP, layer_widths, randomise

__all__ = [
    "Knots",
    "check_knots",
    "check_steepness",
    "knots_from_bins",
    "knots_from_unconstrained",
    "rq_spline",
    "rq_spline_inverse",
    "bin_quadratic",
    "RationalQuadraticSpline",
    "SplineCoupling",
    "spline_parameter_count",
    "MIN_BIN",
    "MIN_DERIVATIVE",
    "MAX_STEEPNESS",
]

#: The smallest bin width and height (as a fraction of 2B) and knot derivative the unconstrained
#: parameterisation can produce: they keep the quadratic of the inverse well conditioned.
MIN_BIN = 1e-3
MIN_DERIVATIVE = 1e-3

#: The steepest spline each dtype computes reliably: the largest ratio, in any bin, between its slope h / w and the
#: derivative at one of its knots (either way round). Measured on knots with derivatives r and 1 / r beside bins of
#: slope 1, over 10^5 of the flow's own samples: log_prob and sample_and_log_prob disagree by at most 0.03 nats at
#: r = 1e3 in float32 (by 4 nats, with NaN log-densities, at 1e4) and by 6e-4 nats at r = 1e8 in float64 (0.6 at 1e11).
MAX_STEEPNESS = {torch.float32: 1e3, torch.float64: 1e8}


class Knots(NamedTuple):
    """The knots of a monotone spline v = g(u): positions ``u`` (input side) and ``v`` (output side), and the
    derivative dv/du ``d`` at each. Each has shape (..., K + 1) for K bins; the leading shape is one spline per entry."""

    u: Tensor
    v: Tensor
    d: Tensor

    @property
    def n_bins(self) -> int:
        return self.u.shape[-1] - 1


# --------------------------------------------------------------------------------------
# Checking parameters: what makes a spline monotone, said in words when it is not
# --------------------------------------------------------------------------------------


def _first_bad(mask: Tensor) -> int:
    return int(mask.reshape(-1, mask.shape[-1]).any(0).nonzero()[0])


def check_knots(knots: Knots, names: tuple[str, str] = ("z", "x")) -> Knots:
    """Return ``knots`` if they define a strictly increasing spline; raise ValueError explaining why not.

    ``names`` are what the text calls the input and output sides. Shapes: each of u, v, d (..., K + 1), K >= 1.
    """
    u, v, d = knots
    if not (u.shape == v.shape == d.shape) or u.ndim < 1 or u.shape[-1] < 2:
        raise ValueError(
            f"knot positions in {names[0]} {tuple(u.shape)}, in {names[1]} {tuple(v.shape)} and derivatives "
            f"{tuple(d.shape)} must have the same shape (..., K + 1) with K >= 1: a spline with K bins has K + 1 "
            "knots, each with two positions and a derivative."
        )
    if not u.dtype == v.dtype == d.dtype:
        raise ValueError(
            f"knot positions and derivatives have mixed dtypes ({u.dtype}, {v.dtype}, {d.dtype}): give all three in one "
            "float dtype (torch.float64 for checks, torch.float32 for training), or the bins' widths and slopes would be "
            "rounded differently from their knots."
        )
    for what, t in (
        (f"knot positions in {names[0]}", u),
        (f"knot positions in {names[1]}", v),
        ("knot derivatives", d),
    ):
        if not torch.isfinite(t).all():
            raise ValueError(f"the {what} contain NaN or infinity: a spline needs finite knots and derivatives.")
    for name, t, size in ((names[0], u, "width"), (names[1], v, "height")):
        step = t[..., 1:] - t[..., :-1]
        if (step <= 0).any():
            k = _first_bad(step <= 0)
            raise ValueError(
                f"the knot positions in {name} are not strictly increasing: bin {k} (between knots {k} and {k + 1}) has "
                f"{size} {float(step.reshape(-1, step.shape[-1])[:, k].min()):.4g} <= 0. A monotone spline needs every "
                f"bin {size} > 0: a zero {size} squashes a bin onto a point, a negative one makes the map run backwards, "
                "and either way two points share one image and there is no inverse. Sort the knots and keep them apart."
            )
    if (d <= 0).any():
        k = _first_bad(d <= 0)
        raise ValueError(
            f"the derivative at knot {k} is {float(d.reshape(-1, d.shape[-1])[:, k].min()):.4g} <= 0. The spline is "
            f"strictly increasing only when d{names[1]}/d{names[0]} > 0 at every knot: with a derivative <= 0 it "
            "flattens or turns back near the knot, and the pushed density (base density / derivative) would be "
            "infinite or negative there. Make every derivative positive (a network should output softplus(.) plus a "
            "small minimum)."
        )
    return knots


def check_steepness(knots: Knots) -> Knots:
    """Return ``knots`` if their dtype computes the spline reliably (``MAX_STEEPNESS``); raise ValueError otherwise.

    Next to a knot whose derivative is far from its bin's slope, the map changes so fast that rounding x to the
    dtype moves log f'(z) by whole nats, and the inverse's quadratic loses its digits. Shapes: Knots of (..., K + 1).
    """
    u, v, d = knots
    limit = MAX_STEEPNESS.get(u.dtype)
    if limit is None:
        raise ValueError(f"a spline computes in float32 or float64, got knots in {u.dtype}: convert them first.")
    slope = (v.diff(dim=-1) / u.diff(dim=-1))[..., None]  # (..., K, 1) beside the two knots of each bin
    ratio = torch.stack([d[..., :-1], d[..., 1:]], -1) / slope
    worst = float(torch.maximum(ratio, 1 / ratio).max())
    if worst > limit:
        label = str(u.dtype).removeprefix("torch.")
        raise ValueError(
            f"this spline is too steep for {label}: a knot's derivative is {worst:.3g} times its bin's slope (or "
            f"1/{worst:.3g} of it), and {label} computes a spline reliably up to {limit:.0e}; beyond, rounding x "
            "moves log p(x) by whole nats and the inverse fails. Bring the derivatives closer to the bins' slopes "
            "(h / w), or build the spline in float64."
        )
    return knots


def _float_tensor(value, name: str) -> Tensor:
    """A float tensor of ``value``: a float tensor keeps its dtype, anything else (numbers, lists, arrays, int tensors)
    gets torch's default dtype; text, complex numbers and the like are refused (``lessonlib.inputs.real_array``)."""
    if isinstance(value, Tensor) and value.is_floating_point():
        return value.detach().clone()
    return torch.as_tensor(real_array(value, name, finite=False), dtype=torch.get_default_dtype())


def knots_from_bins(widths, heights, derivatives, left: float = -3.0, bottom: float | None = None) -> Knots:
    """Knots from bin widths and heights (each > 0) and the K + 1 knot derivatives, starting at (left, bottom).

    Shapes: widths, heights (..., K); derivatives (..., K + 1) -> Knots of (..., K + 1), in the inputs' float dtype
    (torch's default for lists and numbers). ValueError for non-positive widths, heights or derivatives, or NaN.
    """
    w, h, d = (_float_tensor(t, n) for t, n in ((widths, "widths"), (heights, "heights"), (derivatives, "derivatives")))
    left = real_number(left, "left")
    bottom = left if bottom is None else real_number(bottom, "bottom")
    if w.ndim < 1 or w.shape != h.shape or d.shape[:-1] != w.shape[:-1] or d.shape[-1] != w.shape[-1] + 1:
        raise ValueError(
            f"widths {tuple(w.shape)} and heights {tuple(h.shape)} need one entry per bin (..., K), and derivatives "
            f"{tuple(d.shape)} one per knot (..., K + 1): K bins have K + 1 knots."
        )
    if not w.dtype == h.dtype == d.dtype:
        raise ValueError(
            f"widths, heights and derivatives have mixed dtypes ({w.dtype}, {h.dtype}, {d.dtype}): give all "
            "three in one float dtype."
        )
    for name, t in (("widths", w), ("heights", h)):
        if not torch.isfinite(t).all():
            raise ValueError(f"the bin {name} contain NaN or infinity: a spline needs finite bins.")
        if (t <= 0).any():
            raise ValueError(
                f"every bin's {name[:-1]} must be positive, got {t.min().item():.4g}. A bin of {name[:-1]} <= 0 "
                "has its knots in the wrong order (or on top of each other), so the spline could not be "
                "strictly increasing and would have no inverse."
            )
    zero = w.new_zeros((*w.shape[:-1], 1))
    knots = Knots(torch.cat([zero, w.cumsum(-1)], -1) + left, torch.cat([zero, h.cumsum(-1)], -1) + bottom, d)
    for t, start in ((knots.u, left), (knots.v, bottom)):
        if (t[..., 1:] <= t[..., :-1]).any():  # every width and height is positive: only rounding can do this
            raise ValueError(
                f"the spline starts at {start:g}, so far from 0 that adding its bin widths and heights does not change "
                f"the knot positions in {t.dtype}: start it nearer 0 (left, bottom), or use wider bins."
            )
    return check_knots(knots)


def knots_from_unconstrained(raw_widths: Tensor, raw_heights: Tensor, raw_derivatives: Tensor, bound: float) -> Knots:
    """Knots on [-bound, bound]^2 from any real numbers, monotone by construction (the NSF parameterisation).

    widths = 2 bound (MIN_BIN + (1 - K MIN_BIN) softmax(raw_widths)), heights alike; inner derivatives
    MIN_DERIVATIVE + softplus(raw); the two end derivatives are 1, so the identity tails join smoothly.
    All raw values 0 give the identity map. Shapes: raw widths, heights (..., K); raw derivatives
    (..., K - 1) -> Knots of (..., K + 1).
    """
    K = raw_widths.shape[-1]
    frac = MIN_BIN + (1 - MIN_BIN * K) * torch.softmax(torch.stack([raw_widths, raw_heights], -2), dim=-1)
    # the inner knots from the running sum; the end knots exactly at -bound and bound
    inner = (2 * bound) * torch.cumsum(frac[..., :-1], dim=-1) - bound
    edges = F.pad(F.pad(inner, [1, 0], value=-bound), [0, 1], value=bound)
    # softplus(raw + shift) = 1 - MIN_DERIVATIVE at raw = 0: with uniform bins, a fresh layer is the identity
    shift = math.log(math.expm1(1 - MIN_DERIVATIVE))
    d = F.pad(MIN_DERIVATIVE + F.softplus(raw_derivatives + shift), [1, 1], value=1.0)
    u, v = edges.unbind(-2)
    return Knots(u, v, d)


# --------------------------------------------------------------------------------------
# The map, its inverse and its log-derivative, elementwise
# --------------------------------------------------------------------------------------


class _Bin(NamedTuple):
    """The bin holding each point, seen from the nearer of its two knots (all fields of the points' shape).

    inside: the point lies within the end knots; flip: the right knot is nearer; dist: distance from the nearer
    knot on the point's own side; near_u, near_v: that knot; w, h, s: width, height, slope h / w; d_near, d_far:
    the derivatives at the nearer and the farther knot.
    """

    inside: Tensor
    flip: Tensor
    dist: Tensor
    near_u: Tensor
    near_v: Tensor
    w: Tensor
    h: Tensor
    s: Tensor
    d_near: Tensor
    d_far: Tensor


def _bin(t: Tensor, knots: Knots, side: int) -> _Bin:
    """The bin holding each t, for t on the input side (side 0: u) or the output side (side 1: v).

    A point exactly on an inner knot belongs to the bin on its right; points beyond the end knots get the end
    bins (their results are then replaced by the tails). Shapes: t (...); knots of (..., K + 1).
    """
    edges = knots[side]
    k = (t[..., None] >= edges[..., 1:-1]).sum(-1, keepdim=True)  # 0..K-1
    kk = torch.cat([k, k + 1], dim=-1)
    u0, u1 = knots.u.gather(-1, kk).unbind(-1)
    v0, v1 = knots.v.gather(-1, kk).unbind(-1)
    d0, d1 = knots.d.gather(-1, kk).unbind(-1)
    lo, hi = (u0, u1) if side == 0 else (v0, v1)
    left, right = t - lo, hi - t
    flip = right < left
    inside = (t >= edges[..., 0]) & (t <= edges[..., -1])
    w, h = u1 - u0, v1 - v0
    return _Bin(
        inside,
        flip,
        torch.where(flip, right, left) * inside,
        torch.where(flip, u1, u0),
        torch.where(flip, v1, v0),
        w,
        h,
        h / w,
        torch.where(flip, d1, d0),
        torch.where(flip, d0, d1),
    )


def _log_slope(eta: Tensor, denom: Tensor, bn: _Bin) -> Tensor:
    """log dv/du inside a bin at eta, the fraction of the bin from its nearer knot (denom: the formula's denominator).

    The formulas are mirror symmetric: measured from the right knot they read the same with d_k and d_{k+1}
    swapped. Measuring from the nearer knot keeps eta small next to a knot, where 1 - xi computed from xi would
    keep only the digits float32 has left (and the log-derivative can move fast there). Shapes: all (...).
    """
    return torch.log(bn.d_far * eta * eta + 2 * bn.s * eta * (1 - eta) + bn.d_near * (1 - eta) ** 2) + 2 * torch.log(
        bn.s / denom
    )


def _quadratic(dv: Tensor, h: Tensor, s: Tensor, d0: Tensor, d1: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """a, b, c of a xi^2 + b xi + c = 0 for a point dv = v - v_k above the bin's left knot (see bin_quadratic)."""
    curve = dv * (d0 + d1 - 2 * s)
    return h * (s - d0) + curve, h * d0 - curve, -s * dv


def _tails(t: Tensor, knots: Knots, side: int) -> tuple[Tensor, Tensor]:
    """Beyond an end knot the map is the straight line through it with its derivative: (image, log-derivative)
    of t, going u -> v (side 0: multiply by d) or v -> u (side 1: divide by d). Shapes: (...)."""
    edges, other = knots[side], knots[1 - side]
    below = t < edges[..., 0]
    end = torch.where(below, edges[..., 0], edges[..., -1])
    end_other = torch.where(below, other[..., 0], other[..., -1])
    log_d = torch.log(torch.where(below, knots.d[..., 0], knots.d[..., -1]))
    log_d = log_d if side == 0 else -log_d
    return end_other + (t - end) * torch.exp(log_d), log_d


def _aligned(t: Tensor, knots: Knots) -> Knots:
    """The knots spread over t's shape, one spline per entry (a single spline (K + 1,) serves every entry); an error
    naming the shapes when they do not fit. Shapes: t (...); knots of (..., K + 1) -> knots of (t.shape, K + 1)."""
    if not isinstance(t, Tensor):
        raise TypeError(f"the points must be a torch tensor, got {describe(t)}.")
    if not (isinstance(knots, tuple) and len(knots) == 3 and all(isinstance(k, Tensor) for k in knots)):
        raise TypeError(f"knots must be Knots(u, v, d) of tensors (e.g. from knots_from_bins), got {describe(knots)}.")
    try:
        return Knots(*(k.expand(*t.shape, k.shape[-1]) for k in knots))
    except RuntimeError:
        raise ValueError(
            f"knots of shape {tuple(knots[0].shape)} do not fit points of shape {tuple(t.shape)}: give one spline "
            "(K + 1,) for all points, or one per point, (*points.shape, K + 1)."
        ) from None


def rq_spline(u: Tensor, knots: Knots, identity_tails: bool = False) -> tuple[Tensor, Tensor]:
    """v = g(u) and log g'(u), elementwise, for a monotone rational-quadratic spline (formulas in the module doc).

    The knots are not checked here (``check_knots`` does that): with bad knots the result is wrong, not an
    error. ``identity_tails`` says the end knots lie on the diagonal with derivative 1 (then the straight-line
    tails are v = u, which is cheaper). Shapes: u (...); knots of (..., K + 1) -> v (...), log_deriv (...).
    """
    knots = _aligned(u, knots)
    bn = _bin(u, knots, 0)
    eta = bn.dist / bn.w  # from the nearer knot; tail points get 0: finite, and replaced by the tails below
    eta1 = eta * (1 - eta)
    denom = bn.s + (bn.d_near + bn.d_far - 2 * bn.s) * eta1
    step = bn.h * (bn.s * eta * eta + bn.d_near * eta1) / denom
    v_in = bn.near_v + torch.where(bn.flip, -step, step)
    log_in = _log_slope(eta, denom, bn)
    if identity_tails:
        return torch.where(bn.inside, v_in, u), torch.where(bn.inside, log_in, 0.0)
    v_out, log_out = _tails(u, knots, 0)
    return torch.where(bn.inside, v_in, v_out), torch.where(bn.inside, log_in, log_out)


def bin_quadratic(v: Tensor, knots: Knots) -> tuple[Tensor, Tensor, Tensor]:
    """Coefficients of a xi^2 + b xi + c = 0, whose root in [0, 1] is xi = (u - u_k) / w for the bin holding v.

    Multiplying out v - v_k = h [s xi^2 + d_k xi (1 - xi)] / [s + (d_k + d_{k+1} - 2 s) xi (1 - xi)] gives
    a = h (s - d_k) + (v - v_k)(d_k + d_{k+1} - 2 s),  b = h d_k - (v - v_k)(d_k + d_{k+1} - 2 s),
    c = -s (v - v_k). Shapes: v (...) within [v_0, v_K]; knots of (..., K + 1) -> a, b, c (...).
    """
    bn = _bin(v, _aligned(v, knots), 1)
    left = torch.where(bn.flip, bn.h - bn.dist, bn.dist)
    d0, d1 = torch.where(bn.flip, bn.d_far, bn.d_near), torch.where(bn.flip, bn.d_near, bn.d_far)
    return _quadratic(left, bn.h, bn.s, d0, d1)


def rq_spline_inverse(v: Tensor, knots: Knots, identity_tails: bool = False) -> tuple[Tensor, Tensor]:
    """u = g^-1(v) and log (g^-1)'(v) = -log g'(u), elementwise, in closed form.

    The root of the bin's quadratic is taken as 2c / (-b - sqrt(b^2 - 4ac)). The textbook
    (-b + sqrt(b^2 - 4ac)) / (2a) divides by a, which is 0 wherever a bin is a straight line
    (d_k = d_{k+1} = s, as in a freshly initialised layer), and it loses digits to cancellation when a
    is small; this form subtracts nothing of like size and never divides by zero (Durkan et al. 2019).
    The quadratic is set up from the nearer knot (the mirrored formula), for the reason ``_log_slope`` gives.
    Shapes: v (...); knots of (..., K + 1) -> u (...), log_deriv (...).
    """
    knots = _aligned(v, knots)
    bn = _bin(v, knots, 1)
    a, b, c = _quadratic(bn.dist, bn.h, bn.s, bn.d_near, bn.d_far)
    disc = (b * b - 4 * a * c).clamp_min(0)  # >= 0 in exact arithmetic; rounding can dip below
    eta = 2 * c / (-b - torch.sqrt(disc))
    denom = bn.s + (bn.d_near + bn.d_far - 2 * bn.s) * eta * (1 - eta)
    u_in = bn.near_u + torch.where(bn.flip, -eta, eta) * bn.w
    log_in = -_log_slope(eta, denom, bn)
    if identity_tails:
        return torch.where(bn.inside, u_in, v), torch.where(bn.inside, log_in, 0.0)
    u_out, log_out = _tails(v, knots, 1)
    return torch.where(bn.inside, u_in, u_out), torch.where(bn.inside, log_in, log_out)


# --------------------------------------------------------------------------------------
# The layers
# --------------------------------------------------------------------------------------


def _as_knot_rows(v, name: str) -> Tensor:
    t = _float_tensor(v, name)
    if t.ndim == 1:
        t = t[None, :]
    if t.ndim != 2:
        raise ValueError(f"{name} must have shape (K + 1,) or (D, K + 1), got {tuple(t.shape)}.")
    return t


class RationalQuadraticSpline(Bijector):
    """x = f(z): a monotone rational-quadratic spline on each coordinate, with its own knots per coordinate.

    Give the knots in both spaces and the derivatives there; beyond the end knots the map continues as a
    straight line with the end derivative. The knots are stored as their first position and the logs of
    bin widths, heights and derivatives, so training can never unsort them or make a derivative negative.
    log|det J| = sum_d log f_d'(z_d). Knots too steep for their dtype are refused (``check_steepness``: a knot's
    derivative at most 1e3 times its bin's slope, or 1/1e3 of it, in float32; 1e8 in float64); training is not
    held to that limit.

    Shapes: knots_z, knots_x, derivatives (D, K + 1) or (K + 1,) (the same spline on every coordinate);
    z, x (B, D); log_det (B,).
    Reference: Durkan et al., "Neural Spline Flows", NeurIPS 2019.
    """

    def __init__(self, knots_z, knots_x, derivatives, learnable: bool = True):
        super().__init__()
        z, x, d = (
            _as_knot_rows(t, n) for t, n in ((knots_z, "knots_z"), (knots_x, "knots_x"), (derivatives, "derivatives"))
        )
        check_steepness(check_knots(Knots(z, x, d)))
        if z.shape[0] > 1:
            self.dim = z.shape[0]
        params = {
            "z0": z[:, :1],
            "log_widths": torch.log(z.diff(dim=-1)),
            "x0": x[:, :1],
            "log_heights": torch.log(x.diff(dim=-1)),
            "log_derivatives": torch.log(d),
        }
        for name, value in params.items():
            if flag(learnable, "learnable"):
                setattr(self, name, nn.Parameter(value))
            else:
                self.register_buffer(name, value)

    @classmethod
    def from_bins(
        cls, widths, heights, derivatives, left: float = -3.0, bottom: float | None = None, learnable: bool = True
    ) -> RationalQuadraticSpline:
        """The spline whose bins have these widths and heights, starting at (left, bottom); see knots_from_bins."""
        knots = knots_from_bins(widths, heights, derivatives, left, bottom)
        return cls(knots.u, knots.v, knots.d, learnable=learnable)

    @property
    def n_bins(self) -> int:
        return self.log_widths.shape[-1]

    def knots(self, like: Tensor | None = None) -> Knots:
        """The current knots (u: z positions, v: x positions, d: dx/dz), shapes (D, K + 1), in ``like``'s dtype if given."""
        zero = self.z0.new_zeros(self.z0.shape)
        k = Knots(
            self.z0 + torch.cat([zero, self.log_widths.exp().cumsum(-1)], -1),
            self.x0 + torch.cat([zero, self.log_heights.exp().cumsum(-1)], -1),
            self.log_derivatives.exp(),
        )
        if like is not None and not isinstance(like, Tensor):
            raise TypeError(f"like must be a tensor, whose dtype the knots are given in, got {describe(like)}.")
        return k if like is None else Knots(*(t.to(like) for t in k))

    def _expand(self, v: Tensor) -> Knots:
        return Knots(*(t.expand(v.shape[0], v.shape[1], -1) for t in self.knots(v)))

    def _forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        x, log_deriv = rq_spline(z, self._expand(z))
        return x, log_deriv.sum(dim=1)

    def _inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z, log_deriv = rq_spline_inverse(x, self._expand(x))
        return z, log_deriv.sum(dim=1)


def spline_parameter_count(n_kept: int, n_transformed: int, n_bins: int, hidden: tuple[int, ...]) -> int:
    """Trainable numbers in a SplineCoupling: its MLP from the n_kept coordinates to 3K - 1 spline parameters
    (K widths, K heights, K - 1 inner derivatives) per transformed coordinate; weights and biases of each layer."""
    n_kept, n_transformed = count(n_kept, "n_kept", minimum=1), count(n_transformed, "n_transformed", minimum=1)
    n_bins = count(n_bins, "n_bins", minimum=1)
    sizes = (n_kept, *layer_widths(hidden), n_transformed * (3 * n_bins - 1))
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


class SplineCoupling(Bijector):
    """Spline coupling: x_a = z_a, and z_b = g(x_b; theta(x_a)) with g a monotone rational-quadratic spline.

    a: mask == 1 (kept, passed through, fed to the conditioner); b: mask == 0 (transformed). The conditioner maps
    the kept coordinates to 3K - 1 numbers per transformed one (K bin widths, K heights, K - 1 inner knot
    derivatives), made into knots on [-bound, bound]^2 by ``knots_from_unconstrained``: monotone whatever the
    network says. Outside [-bound, bound] the layer is the identity. The spline formula runs in the density
    direction (x to z, as in neural spline flows), sampling takes the quadratic's root; both are exact. The
    Jacobian is triangular, so log|det J_{f^-1}(x)| = sum over transformed coordinates of log g'(x_b). A fresh
    layer (last network layer at zero) is the identity. The network reads the kept coordinates alone (n_kept
    numbers), unlike AffineCoupling's, which reads the whole masked vector.

    Limits: bins as narrow as MIN_BIN of the range and derivatives from MIN_DERIVATIVE up let a layer grow
    steeper than float32 computes reliably (``MAX_STEEPNESS``: a derivative 1e3 times its bin's slope). Where a
    trained layer is that steep, log_prob at a sample's float32 value can differ from sample_and_log_prob's by
    nats; float64 holds up to 1e8.

    Shapes: mask (D,); conditioner (B, n_kept) -> (B, n_transformed * (3K - 1)); z, x (B, D); log_det (B,).
    Reference: Durkan et al., "Neural Spline Flows" (2019); Mueller et al., "Neural Importance Sampling" (2019).
    """

    def __init__(
        self,
        mask,
        conditioner: nn.Module | None = None,
        hidden: tuple[int, ...] = (64, 64),
        n_bins: int = 8,
        bound: float = 4.0,
    ):
        super().__init__()
        m = check_mask(mask)
        if count(n_bins, "n_bins", maximum=MAX_SIZE) < 1:
            raise ValueError(f"a spline needs at least one bin, got n_bins = {n_bins}.")
        bound = positive_number(bound, "bound")  # the spline acts on [-bound, bound]: a positive, finite number
        self.register_buffer("kept", m.nonzero().flatten(), persistent=False)
        self.register_buffer("free", (1 - m).nonzero().flatten(), persistent=False)
        self.register_buffer("mask", m)
        self.dim, self.n_bins, self.bound = m.numel(), int(n_bins), float(bound)
        n_out = self.free.numel() * (3 * self.n_bins - 1)
        self.conditioner = conditioner_net(conditioner, self.kept.numel(), n_out, hidden)

    def knots(self, kept: Tensor) -> Knots:
        """The knots of g for each transformed coordinate (u: x positions, v: z positions), from the kept coordinates.

        Shapes: (B, n_kept) -> Knots of (B, n_transformed, K + 1).
        """
        K, n_out = self.n_bins, self.free.numel() * (3 * self.n_bins - 1)
        raw = conditioner_output(
            self.conditioner, kept, n_out, f"3K - 1 = {3 * K - 1} spline numbers per transformed coordinate"
        )
        raw = raw.reshape(kept.shape[0], self.free.numel(), 3 * K - 1)
        return knots_from_unconstrained(raw[..., :K], raw[..., K : 2 * K], raw[..., 2 * K :], self.bound)

    def _forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        x_b, log_deriv = rq_spline_inverse(z[:, self.free], self.knots(z[:, self.kept]), identity_tails=True)
        return z.index_copy(1, self.free, x_b), log_deriv.sum(dim=1)

    def _inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z_b, log_deriv = rq_spline(x[:, self.free], self.knots(x[:, self.kept]), identity_tails=True)
        return x.index_copy(1, self.free, z_b), log_deriv.sum(dim=1)


# --- examples for the property suite (tests/core/test_bijector_properties.py) ----------------------


@register_example("RationalQuadraticSpline", dims=(1, 2, 5))
def _spline_example(dim: int, gen: torch.Generator) -> Bijector:
    # 4 bins over about [-2, 2]: the suite's points (in [-3, 3]) land in every bin and in both tails
    def positive(*shape: int) -> Tensor:
        return 0.4 + torch.rand(*shape, generator=gen, dtype=torch.float64)

    derivatives = 0.3 + 2 * torch.rand(dim, 5, generator=gen, dtype=torch.float64)
    return RationalQuadraticSpline.from_bins(positive(dim, 4), positive(dim, 4), derivatives, left=-2.0, bottom=-1.5)


def _random_spline_coupling(mask: Tensor, n_bins: int, gen: torch.Generator) -> SplineCoupling:
    n_kept = int(mask.sum())
    net = MLP(n_kept, (mask.numel() - n_kept) * (3 * n_bins - 1), hidden=(8,), activation=nn.Tanh, zero_last=False)
    return SplineCoupling(mask, randomise(net, gen, std=0.7), n_bins=n_bins, bound=2.5)


@register_example("SplineCoupling", dims=(2, 3, 5))
def _spline_coupling_example(dim: int, gen: torch.Generator) -> Bijector:
    # two layers with opposite masks, so every coordinate is transformed; bound 2.5 leaves tails in [-3, 3]
    return Chain(
        _random_spline_coupling(alternating_mask(dim).double(), 5, gen),
        _random_spline_coupling(half_mask(dim, flip=True).double(), 5, gen),
    )
