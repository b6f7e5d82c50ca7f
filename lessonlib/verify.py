"""Checks that a Bijector keeps its promises, shared by the test suite and the exercise checkers.

``verify_bijector(bij, z)`` returns a list of problems, each a sentence saying what is wrong and
what that usually means (an empty list means every check passed):

1. shapes: (B, D) in, (B, D) and (B,) out, in both directions;
2. round trip: f^-1(f(z)) == z and f(f^-1(x)) == x;
3. log-det against autograd: log|det J| from torch.autograd.functional.jacobian and
   torch.linalg.slogdet, per sample, in both directions;
4. consistency: forward log-det at z == - inverse log-det at x = f(z).

A round trip alone is not enough: a layer whose forward and inverse log-dets are both wrong by
the same sign passes it. Check 3 is the one that catches sign and missing-term errors.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.functional import jacobian

from lessonlib.bijectors import Bijector, check_batch
from lessonlib.inputs import describe, real_number

__all__ = ["autograd_log_det", "verify_bijector"]


def autograd_log_det(fn, points: Tensor) -> Tensor:
    """log|det J_fn| at each row of ``points``, from the full autograd Jacobian. Shapes: (B, D) -> (B,)."""
    if not callable(fn):
        raise TypeError(f"fn must be a map of a batch of points (e.g. a layer's forward), got {describe(fn)}.")
    points = check_batch(points, None, "points")
    out = [torch.linalg.slogdet(_square(jacobian(lambda v: fn(v[None])[0], p)))[1] for p in points]
    return torch.stack(out) if out else points.new_zeros(0)


def _square(J: Tensor) -> Tensor:
    """J if it is a square matrix; a ValueError otherwise: a map that changes the dimension has no determinant."""
    if J.ndim != 2 or J.shape[0] != J.shape[1]:
        raise ValueError(
            f"the Jacobian has shape {tuple(J.shape)}, not square: fn must map D coordinates to D coordinates "
            "(a bijection keeps the dimension), or it has no determinant."
        )
    return J


def _tolerances(atol: float, rtol: float) -> tuple[float, float]:
    """atol and rtol as numbers >= 0; the errors of ``lessonlib.inputs.real_number`` otherwise."""
    atol, rtol = real_number(atol, "atol"), real_number(rtol, "rtol")
    if atol < 0 or rtol < 0:
        raise ValueError(f"tolerances must be >= 0, got atol={atol:g}, rtol={rtol:g}.")
    return atol, rtol


def _maxdiff(a: Tensor, b: Tensor) -> float:
    return float((a.double() - b.double()).abs().max())


def verify_bijector(bij: Bijector, z: Tensor, atol: float = 1e-6, rtol: float = 1e-5) -> list[str]:
    """Run all checks on ``bij`` at the base points ``z`` (B, D); return a list of problems found."""
    if not isinstance(bij, Bijector):
        raise TypeError(
            f"bij must be a lessonlib Bijector (with forward_and_log_det and inverse_and_log_det), got {describe(bij)}."
        )
    z, (atol, rtol) = check_batch(z, bij.dim, "z", bij.dtype), _tolerances(atol, rtol)
    if z.shape[0] == 0:
        raise ValueError("verify_bijector needs at least one point z: z is an empty batch.")
    problems: list[str] = []
    B, D = z.shape
    with torch.no_grad():
        try:
            x, ld_f = bij.forward_and_log_det(z)
            z_back, ld_i = bij.inverse_and_log_det(x)
            x_back = bij.forward(z_back)
        except Exception as e:  # report, don't crash: this is also the learner's checker
            return [f"calling the layer failed: {type(e).__name__}: {e}"]
    for name, t, shape in (
        ("forward x", x, (B, D)),
        ("forward log_det", ld_f, (B,)),
        ("inverse z", z_back, (B, D)),
        ("inverse log_det", ld_i, (B,)),
    ):
        if tuple(t.shape) != shape:
            problems.append(
                f"{name} has shape {tuple(t.shape)}, expected {shape}. "
                + ("log_det must be summed over coordinates: one number per point." if "log_det" in name else "")
            )
    if problems:
        return problems

    def close(a: Tensor, b: Tensor) -> bool:  # in float64: a layer may compute in float32
        return bool(torch.allclose(a.double(), b.double(), atol=atol, rtol=rtol))

    if not close(z_back, z):
        problems.append(
            f"round trip fails: inverse(forward(z)) differs from z by {_maxdiff(z_back, z):.3g}. "
            "Does the inverse undo each step in reverse order (subtract the shift, then divide by the scale)?"
        )
    if not close(x_back, x):
        problems.append(f"round trip fails: forward(inverse(x)) differs from x by {_maxdiff(x_back, x):.3g}.")

    ad_f = autograd_log_det(bij.forward, z)
    ad_i = autograd_log_det(bij.inverse, x)
    if not close(ld_f, ad_f):
        hint = _hint(ld_f, ad_f)
        problems.append(f"forward log_det differs from log|det J| by autograd by {_maxdiff(ld_f, ad_f):.3g}.{hint}")
    if not close(ld_i, ad_i):
        hint = _hint(ld_i, ad_i)
        problems.append(f"inverse log_det differs from log|det J| by autograd by {_maxdiff(ld_i, ad_i):.3g}.{hint}")
    if not close(ld_f, -ld_i):
        problems.append(
            f"forward log_det at z is not minus the inverse log_det at x = f(z) (off by {_maxdiff(ld_f, -ld_i):.3g}): "
            "the inverse map's Jacobian is the inverse matrix, so its log-determinant is the negative."
        )
    return problems


def _hint(got: Tensor, want: Tensor) -> str:
    got, want = got.double(), want.double()
    if torch.allclose(got, -want, atol=1e-6, rtol=1e-5):
        return " It has the opposite sign: the forward direction adds log-scales, the inverse subtracts them."
    if torch.allclose(got.exp(), want, atol=1e-6, rtol=1e-5) or torch.allclose(got, want.exp(), atol=1e-6, rtol=1e-5):
        return " One side is the exponential of the other: log_det is log|det J|, not |det J| (or the scale is exp(s), whose log is s)."
    if torch.allclose(got, torch.zeros_like(got)):
        return " Yours is zero everywhere: a missing log-det term (only additive layers preserve volume)."
    return " A missing term or a sum over the wrong coordinates?"
