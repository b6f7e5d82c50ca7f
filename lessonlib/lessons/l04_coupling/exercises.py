"""Exercise checkers of the coupling-layer notebook (04), with hints for the usual mistakes.

1. ``check_affine_coupling(forward, inverse)``: the learner writes the forward and inverse of an
   affine coupling layer as two functions; they are wrapped into a Bijector and run through
   lessonlib.verify.verify_bijector (round trip, log-det against autograd both ways), after a
   look for the typical slips: exp(s) in the log-det, the kept half transformed too, log-scales
   of the kept coordinates summed, a wrong inverse.
2. ``check_zero_entries(answer)``: which entries of a coupling layer's Jacobian are always zero,
   for the mask ``ZERO_ENTRIES_MASK``; the reference comes from an autograd Jacobian.
3. ``check_log_density(answer)``: log p_X(x) of one point under a one-layer 2D flow, where the
   usual errors are a sign flip of the log-det, the base density evaluated at x instead of at
   z = f^-1(x), or exp(s) in place of s.

Each checker returns a lessonlib.checks.CheckResult: truthy when right, printed as one line.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch
from torch import Tensor, nn

from lessonlib.bijectors import Bijector, register_example
from lessonlib.checks import CheckResult, as_array, compare, hint_if, hint_if_equal
from lessonlib.coupling import AffineCoupling, alternating_mask, jacobian_matrix
from lessonlib.lessons.l04_coupling.experiments import CurveConditioner
from lessonlib.nets import MLP, randomise
from lessonlib.verify import verify_bijector

__all__ = [
    "EXERCISE_DIM",
    "exercise_mask",
    "exercise_conditioner",
    "reference_forward",
    "reference_inverse",
    "FunctionCoupling",
    "check_affine_coupling",
    "ZERO_ENTRIES_MASK",
    "zero_entries_reference",
    "check_zero_entries",
    "LOG_DENSITY_POINT",
    "LOG_DENSITY_CURVES",
    "log_density_layer",
    "check_log_density",
]

Conditioner = Callable[[Tensor], tuple[Tensor, Tensor]]
CouplingFn = Callable[[Tensor, Tensor, Conditioner], tuple[Tensor, Tensor]]

# ------------------------------------------------------------------------------------------
# Exercise 1: write an affine coupling layer
# ------------------------------------------------------------------------------------------

EXERCISE_DIM = 4


def exercise_mask(dim: int = EXERCISE_DIM) -> Tensor:
    """The mask of exercise 1: 1 on even coordinates (kept), 0 on odd ones (transformed). Float64."""
    return alternating_mask(dim).double()


class _TwoHeads(nn.Module):
    """Wraps a network with 2D outputs into (s, t), each (B, D), defined on every coordinate."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, kept: Tensor) -> tuple[Tensor, Tensor]:
        s, t = self.net(kept).chunk(2, dim=-1)
        return s, t


def exercise_conditioner(dim: int = EXERCISE_DIM, seed: int = 4) -> Conditioner:
    """A fixed random ReLU MLP: conditioner(kept) -> (s, t), both (B, D), NOT zero on kept coordinates.

    Leaving s and t defined everywhere is deliberate: applying the mask is part of the exercise.
    Shapes: kept (B, D) -> (B, D), (B, D). Float64.
    """
    net = MLP(dim, 2 * dim, hidden=(16,), activation=nn.ReLU, zero_last=False)
    return _TwoHeads(randomise(net, torch.Generator().manual_seed(seed), 0.6))


def reference_forward(z: Tensor, mask: Tensor, conditioner: Conditioner) -> tuple[Tensor, Tensor]:
    """x = m*z + (1-m)*(z*exp(s) + t) with (s, t) = conditioner(m*z); log_det = sum (1-m)*s.

    Shapes: z (B, D), mask (D,) -> x (B, D), log_det (B,).
    """
    s, t = conditioner(z * mask)
    free = 1 - mask
    x = mask * z + free * (z * torch.exp(s) + t)
    return x, (free * s).sum(dim=1)


def reference_inverse(x: Tensor, mask: Tensor, conditioner: Conditioner) -> tuple[Tensor, Tensor]:
    """z = m*x + (1-m)*(x - t)*exp(-s) with (s, t) = conditioner(m*x); log_det = -sum (1-m)*s.

    Shapes: x (B, D), mask (D,) -> z (B, D), log_det (B,).
    """
    s, t = conditioner(x * mask)
    free = 1 - mask
    z = mask * x + free * (x - t) * torch.exp(-s)
    return z, -(free * s).sum(dim=1)


class FunctionCoupling(Bijector):
    """A coupling layer given as two functions ``forward(z, mask, conditioner)`` and ``inverse(x, mask, conditioner)``.

    Lets a learner's functions run through the same checks as the library's layers.

    Shapes: mask (D,); z, x (B, D); log_det (B,).
    """

    def __init__(self, forward: CouplingFn, inverse: CouplingFn, mask: Tensor, conditioner: Conditioner):
        super().__init__()
        self._fwd, self._inv = forward, inverse
        self.register_buffer("mask", mask)
        self.conditioner = conditioner
        self.dim = mask.numel()

    def _forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return self._fwd(z, self.mask.to(z), self.conditioner)

    def _inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self._inv(x, self.mask.to(x), self.conditioner)


@register_example("FunctionCoupling", dims=(2, 4))
def _function_coupling_example(dim: int, gen: torch.Generator) -> Bijector:
    seed = int(torch.randint(1000, (1,), generator=gen))
    return FunctionCoupling(reference_forward, reference_inverse, exercise_mask(dim), exercise_conditioner(dim, seed))


def _exercise_points(dim: int = EXERCISE_DIM) -> Tensor:
    return torch.randn(6, dim, generator=torch.Generator().manual_seed(40), dtype=torch.float64)


def _close(a: Tensor, b: Tensor) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a, b, atol=1e-7, rtol=1e-6))


def _diagnose(fwd: CouplingFn, inv: CouplingFn, z: Tensor, mask: Tensor, cond: Conditioner) -> list[str]:
    """Targeted hints: compare the learner's outputs with the signatures of the usual mistakes."""
    hints: list[str] = []
    with torch.no_grad():
        x_ref, ld_ref = reference_forward(z, mask, cond)
        s, t = cond(z * mask)
        free = 1 - mask
        x, ld = fwd(z, mask, cond)
        if not _close(x, x_ref) and _close(x, z * torch.exp(s) + t):
            hints.append(
                "your forward transforms every coordinate, the kept half too. Coordinates with mask 1 must pass "
                "through unchanged (x = m*z + (1-m)*(...)): the inverse needs them intact to recompute s and t."
            )
        if ld.shape == ld_ref.shape and not _close(ld, ld_ref):
            if _close(ld, (free * torch.exp(s)).sum(1)) or _close(ld, torch.exp(s).sum(1)):
                hints.append("your forward log_det sums exp(s). The scale is exp(s), so log|scale| is s itself: sum s.")
            elif _close(ld, s.sum(1)):
                hints.append(
                    "your forward log_det also sums s over the kept coordinates. Only transformed coordinates are "
                    "scaled; multiply s by (1 - mask) before summing."
                )
            elif _close(ld, -ld_ref):
                hints.append("your forward log_det has the wrong sign: the forward map multiplies by exp(+s), so it adds s.")
        z_ref, ild_ref = reference_inverse(x_ref, mask, cond)
        zb, ild = inv(x_ref, mask, cond)
        if ild.shape == ild_ref.shape and not _close(ild, ild_ref):
            if _close(ild, -ild_ref):
                hints.append("your inverse log_det has the wrong sign: undoing a stretch by exp(s) shrinks by exp(-s), so it is -sum s.")
            elif _close(ild, -(free * torch.exp(s)).sum(1)) or _close(ild, (free * torch.exp(-s)).sum(1)):
                hints.append("your inverse log_det uses exp(s). log|exp(-s)| = -s: sum -s over the transformed coordinates.")
        if zb.shape == z_ref.shape and not _close(zb, z_ref):
            s_x, t_x = cond(x_ref * mask)
            if _close(zb, mask * x_ref + free * (x_ref * torch.exp(-s_x) - t_x)):
                hints.append("your inverse divides before subtracting. Undo the steps in reverse order: first subtract t, then divide by exp(s).")
            elif _close(zb, mask * x_ref + free * (x_ref - t_x) * torch.exp(s_x)):
                hints.append("your inverse multiplies by exp(s) again. To undo a multiplication by exp(s), multiply by exp(-s).")
            elif _close(zb, x_ref * torch.exp(-s_x) - t_x) or _close(zb, (x_ref - t_x) * torch.exp(-s_x)):
                hints.append("your inverse changes the kept coordinates too. They pass through unchanged in both directions.")
    return hints


def check_affine_coupling(forward, inverse: CouplingFn | None = None) -> CheckResult:
    """Check a learner's affine coupling: targeted hints first, then the library's full verification.

    Call as ``check_affine_coupling(my_forward, my_inverse)`` or ``check_affine_coupling(answer)`` with
    ``answer = (my_forward, my_inverse)``; None means not attempted yet.
    """
    name = "affine coupling"
    if isinstance(forward, (tuple, list)):
        if len(forward) != 2:
            return CheckResult(name, False, f"❌ {name}: expected a pair (my_forward, my_inverse), got {len(forward)} items.")
        forward, inverse = forward
    if forward is None or inverse is None:
        return CheckResult(name, False, f"… {name}: not attempted yet. Write both functions and run the cell again.")
    mask, cond, z = exercise_mask(), exercise_conditioner(), _exercise_points()
    bij = FunctionCoupling(forward, inverse, mask, cond)
    try:
        hints = _diagnose(forward, inverse, z, mask, cond)
    except Exception as e:  # noqa: BLE001 - the learner's code may fail in any way; say how
        return CheckResult(name, False, f"❌ {name}: calling your functions failed: {type(e).__name__}: {e}")
    problems = verify_bijector(bij, z)
    if not problems and not hints:
        return CheckResult(
            name, True,
            f"✅ {name}: invertible, and both log-dets match the autograd Jacobian at {z.shape[0]} points.",
        )
    lines = [f"❌ {name}: not yet."]
    lines += [f"  Hint: {h}" for h in hints]
    lines += [f"  Check: {p}" for p in problems[:3]]
    return CheckResult(name, False, "\n".join(lines))


# ------------------------------------------------------------------------------------------
# Exercise 2: which Jacobian entries are zero?
# ------------------------------------------------------------------------------------------

#: The mask of exercise 2 (1 = kept, 0 = transformed).
ZERO_ENTRIES_MASK = (0.0, 1.0, 1.0, 0.0)


def zero_entries_reference(mask=ZERO_ENTRIES_MASK, seed: int = 2) -> np.ndarray:
    """1 where J_f[i, j] = d x_i / d z_j is exactly zero, from the autograd Jacobian of a random layer.

    Shapes: -> (D, D) float array of 0/1.
    """
    m = torch.tensor(mask, dtype=torch.float64)
    D = m.numel()
    gen = torch.Generator().manual_seed(seed)
    net = randomise(MLP(D, 2 * D, hidden=(16,), activation=nn.Tanh, zero_last=False), gen, 0.8)
    layer = AffineCoupling(m, net)
    z = torch.randn(D, generator=gen, dtype=torch.float64)
    J = jacobian_matrix(layer.forward, z)
    return (J == 0).double().numpy()


def check_zero_entries(answer) -> CheckResult:
    """``answer``: (D, D) array of 0/1, 1 where J_f[i, j] (row: output x_i, column: input z_j) is always 0."""
    want = zero_entries_reference()
    m = np.asarray(ZERO_ENTRIES_MASK)
    kept_rows_only_diag = np.where(m[:, None] == 1, 1.0 - np.eye(len(m)), 0.0)  # forgot the transformed rows' zeros
    hints = [
        hint_if_equal(lambda w: w.T, "you have rows and columns swapped: row i is the output x_i, column j the input z_j."),
        hint_if_equal(lambda w: 1 - w, "you marked the entries that can be nonzero; mark the ones that are always zero."),
        hint_if_equal(
            lambda w: kept_rows_only_diag,
            "the kept rows are right, but a transformed x_i also ignores the OTHER transformed inputs z_j: "
            "s and t see only the kept coordinates, and x_i uses its own z_i alone.",
        ),
        hint_if(
            lambda g, w: g.shape == w.shape and bool(np.any((g == 1) & (np.eye(len(g)) == 1))),
            "a diagonal entry is never zero: x_i depends on z_i (kept: slope 1; transformed: slope exp(s) > 0).",
        ),
    ]
    return compare("zero entries of J", answer, want, hints=hints)


# ------------------------------------------------------------------------------------------
# Exercise 3: log-density of one point
# ------------------------------------------------------------------------------------------

#: The data point of exercise 3.
LOG_DENSITY_POINT = (1.0, 1.5)


#: s(z1) = a + b sin(c z1) and t(z1) = d + e z1^2 of the layer in exercise 3.
LOG_DENSITY_CURVES = {"a": 0.2, "b": 0.5, "c": 1.0, "d": 0.0, "e": 1.0}


def log_density_layer() -> AffineCoupling:
    """x1 = z1, x2 = z2 * exp(s(z1)) + t(z1), s(z1) = 0.2 + 0.5 sin(z1), t(z1) = z1^2. Float64, mask (1, 0)."""
    mask = torch.tensor([1.0, 0.0], dtype=torch.float64)
    return AffineCoupling(mask, CurveConditioner(**LOG_DENSITY_CURVES), log_scale_bound=None)


def check_log_density(answer) -> CheckResult:
    """``answer``: log p_X(x) at LOG_DENSITY_POINT for the layer above and a standard normal base (nats)."""
    if answer is not None and answer is not Ellipsis:
        try:
            arr = as_array(answer)
        except (TypeError, ValueError):
            arr = None
        if arr is not None and arr.size == 1:
            answer = float(arr.reshape(-1)[0])  # a number, a 1-element list or tensor: all fine
    x1, x2 = LOG_DENSITY_POINT
    c = LOG_DENSITY_CURVES
    s, t = c["a"] + c["b"] * math.sin(c["c"] * x1), c["d"] + c["e"] * x1**2
    z2 = (x2 - t) * math.exp(-s)
    log_pz = -math.log(2 * math.pi) - 0.5 * (x1**2 + z2**2)
    want = log_pz - s
    log_pz_at_x = -math.log(2 * math.pi) - 0.5 * (x1**2 + x2**2)
    z2_wrong = (x2 - t) * math.exp(s)
    hints = [
        hint_if_equal(lambda w: log_pz + s, "you added the forward log-det. log p_X(x) = log p_Z(z) - log|det J_f(z)| = log p_Z(z) - s."),
        hint_if_equal(lambda w: log_pz, "that is log p_Z(z) alone: the log-det term -s is missing."),
        hint_if_equal(lambda w: log_pz - math.exp(s), "you subtracted exp(s); the log-det of the scale exp(s) is s itself."),
        hint_if_equal(lambda w: log_pz_at_x - s, "you evaluated the base density at x. Invert first: z = f^-1(x), then log p_Z(z)."),
        hint_if_equal(lambda w: log_pz_at_x, "you evaluated the base density at x and left out the log-det: invert first, then subtract s."),
        hint_if_equal(
            lambda w: -math.log(2 * math.pi) - 0.5 * (x1**2 + z2_wrong**2) - s,
            "your z2 multiplies by exp(s). The inverse divides: z2 = (x2 - t) * exp(-s).",
        ),
    ]
    return compare("log p_X(x)", answer, want, rtol=1e-4, atol=1e-4, hints=hints, unit="nats")
