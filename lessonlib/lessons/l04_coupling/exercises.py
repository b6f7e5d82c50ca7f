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
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

from lessonlib.bijectors import Bijector, register_example
from lessonlib.checks import (
    AnswerProblem,
    CheckResult,
    call,
    checker,
    compare,
    hint_if,
    hint_if_equal,
    read_array,
    read_number,
)
from lessonlib.coupling import AffineCoupling, alternating_mask, jacobian_matrix
from lessonlib.inputs import describe
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
    """The mask of exercise 1: 1 on coordinates 1, 3, ... (kept), 0 on coordinates 2, 4, ... (transformed). Float64."""
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


def _close(a: Tensor, b: Tensor, tol: tuple[float, float] = (1e-6, 1e-7)) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=tol[0], atol=tol[1]))


def _pair(answer) -> tuple[CouplingFn, CouplingFn]:
    """The learner's (forward, inverse) functions; AnswerProblem for anything else."""
    if callable(answer):
        raise AnswerProblem(
            "give both functions: check_affine_coupling(my_forward, my_inverse), or answer = (my_forward, my_inverse)."
        )
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        got = f"{len(answer)} items" if isinstance(answer, (tuple, list)) else describe(answer)
        raise AnswerProblem(f"expected a pair (my_forward, my_inverse), got {got}.")
    for which, fn in zip(("forward", "inverse"), answer):
        if fn is None:
            raise AnswerProblem(f"your {which} function is still None: write both functions.")
        if not callable(fn):
            raise AnswerProblem(
                f"your {which} must be a function ({which}(point, mask, conditioner)), got {describe(fn)}."
            )
    return answer[0], answer[1]


def _outputs(fn: CouplingFn, which: str, point: Tensor, mask: Tensor, cond: Conditioner) -> tuple[Tensor, Tensor, bool]:
    """(points, log_det) that the learner's function returns, as float64, and whether it returned float32.

    AnswerProblem, naming the fix, if it does not return two finite torch tensors of shapes (B, D) and (B,).
    """
    out = call(fn, point.clone(), mask, cond, what=f"a {which} function")
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise AnswerProblem(
            f"your {which} must return two things, (points, log_det); it returned {describe(out)}"
            + (f" of {len(out)}" if isinstance(out, (tuple, list)) else "")
            + "."
        )
    for part, value in zip(("points", "log_det"), out):
        if not isinstance(value, Tensor):
            raise AnswerProblem(
                f"your {which} returned its {part} as {describe(value)}; return torch tensors (torch.exp, "
                "not np.exp), so that a flow can train through the layer with autograd."
            )
    pts, log_det = out
    B, D = point.shape
    if tuple(pts.shape) != (B, D):
        raise AnswerProblem(
            f"your {which} returned points of shape {tuple(pts.shape)}, expected {(B, D)}: one row per point."
        )
    if tuple(log_det.shape) != (B,):
        raise AnswerProblem(
            f"your {which}'s log_det has shape {tuple(log_det.shape)}, expected {(B,)}: log_det must be "
            "summed over coordinates, one number per point (.sum(dim=1))."
        )
    if not (torch.isfinite(pts).all() and torch.isfinite(log_det).all()):
        raise AnswerProblem(f"your {which} returned NaN or infinity at these {B} ordinary points.")
    low = pts.dtype != torch.float64 or log_det.dtype != torch.float64
    return pts.detach().double(), log_det.detach().double(), low


def _first_match(got: Tensor, ref: Tensor, mistakes: list[tuple[tuple[Tensor, ...], str]], tol) -> list[str]:
    """[the message of the first known mistake whose values ``got`` equals], or [] when ``got`` is right or unknown."""
    if _close(got, ref, tol):
        return []
    return next(([message] for values, message in mistakes if any(_close(got, v, tol) for v in values)), [])


def _whole_input(v: Tensor, mask: Tensor, cond: Conditioner, which: str) -> tuple[tuple[Tensor], str]:
    """The mistake of feeding the conditioner all of ``v``, not only its kept coordinates: (values, message)."""
    s, t = cond(v)
    free = 1 - mask
    if which == "forward":
        values = mask * v + free * (v * torch.exp(s) + t)
        why = "the inverse knows only those (x * mask == z * mask) when it recomputes s and t"
    else:
        values = mask * v + free * (v - t) * torch.exp(-s)
        why = "the same numbers the forward gave it"
    return (values,), (
        f"your {which} feeds the conditioner every coordinate. Give it only the kept ones, "
        f"conditioner({'z' if which == 'forward' else 'x'} * mask): {why}."
    )


def _forward_hints(x: Tensor, ld: Tensor, z: Tensor, mask: Tensor, cond: Conditioner, tol) -> list[str]:
    """Targeted hints for a wrong forward: its outputs against the signatures of the usual mistakes."""
    x_ref, ld_ref = reference_forward(z, mask, cond)
    s, t = cond(z * mask)
    free = 1 - mask
    points = _first_match(
        x,
        x_ref,
        [
            _whole_input(z, mask, cond, "forward"),
            (
                (z,),
                "your forward returns z unchanged. The transformed coordinates (mask 0) are scaled by exp(s) and "
                "shifted by t: x = m*z + (1-m)*(z*exp(s) + t).",
            ),
            (
                (mask * z + free * (z + t),),
                "your forward only shifts: x = z + t is an additive (NICE) coupling. The affine "
                "coupling also scales, x = z*exp(s) + t, and then its log-det is the sum of s, not 0.",
            ),
            (
                (reference_inverse(z, mask, cond)[0],),
                "your forward computes the inverse map (subtract t, divide by exp(s)): forward and inverse swapped?",
            ),
            (
                (z * torch.exp(s) + t,),
                "your forward transforms every coordinate, the kept half too. Coordinates with mask 1 "
                "must pass through unchanged (x = m*z + (1-m)*(...)): the inverse needs them intact to "
                "recompute s and t.",
            ),
        ],
        tol,
    )
    log_det = _first_match(
        ld,
        ld_ref,
        [
            (
                ((free * torch.exp(s)).sum(1), torch.exp(s).sum(1)),
                "your forward log_det sums exp(s). The scale is exp(s), so log|scale| is s itself: sum s.",
            ),
            (
                (s.sum(1),),
                "your forward log_det also sums s over the kept coordinates. Only transformed coordinates are "
                "scaled; multiply s by (1 - mask) before summing.",
            ),
            (
                (-ld_ref,),
                "your forward log_det has the wrong sign: the forward map multiplies by exp(+s), so it adds s.",
            ),
            (
                (torch.zeros_like(ld),),
                "your forward log_det is 0 everywhere: only a layer that does not scale keeps volume; "
                "here it is the sum of s over the transformed coordinates.",
            ),
        ],
        tol,
    )
    return points + log_det


def _inverse_hints(zb: Tensor, ild: Tensor, x: Tensor, mask: Tensor, cond: Conditioner, tol) -> list[str]:
    """Targeted hints for a wrong inverse, evaluated at the reference forward's points x."""
    z_ref, ild_ref = reference_inverse(x, mask, cond)
    s, t = cond(x * mask)
    free = 1 - mask
    log_det = _first_match(
        ild,
        ild_ref,
        [
            (
                (-ild_ref,),
                "your inverse log_det has the wrong sign: undoing a stretch by exp(s) shrinks by exp(-s), so it is -sum s.",
            ),
            (
                (-(free * torch.exp(s)).sum(1), (free * torch.exp(-s)).sum(1)),
                "your inverse log_det uses exp(s). log|exp(-s)| = -s: sum -s over the transformed coordinates.",
            ),
        ],
        tol,
    )
    points = _first_match(
        zb,
        z_ref,
        [
            _whole_input(x, mask, cond, "inverse"),
            (
                (mask * x + free * (x * torch.exp(-s) - t),),
                "your inverse divides before subtracting. Undo the steps in reverse order: first subtract t, then divide by exp(s).",
            ),
            (
                (mask * x + free * (x - t) * torch.exp(s),),
                "your inverse multiplies by exp(s) again. To undo a multiplication by exp(s), multiply by exp(-s).",
            ),
            (
                (mask * x + free * (x - t),),
                "your inverse only subtracts t, the inverse of an additive coupling. Also divide by exp(s).",
            ),
            (
                (reference_forward(x, mask, cond)[0],),
                "your inverse computes the forward map (multiply by exp(s), add t): forward and inverse swapped?",
            ),
            (
                (x * torch.exp(-s) - t, (x - t) * torch.exp(-s)),
                "your inverse changes the kept coordinates too. They pass through unchanged in both directions.",
            ),
        ],
        tol,
    )
    return log_det + points


def _differences(got: list[Tensor], want: list[Tensor], tol) -> list[str]:
    names = ("forward points x", "forward log_det", "inverse points z", "inverse log_det")
    return [
        f"{n}: largest difference from the reference layer {float((g - w).abs().max()):.3g}."
        for n, g, w in zip(names, got, want)
        if not _close(g, w, tol)
    ]


@checker(
    "affine coupling",
    how="Write both functions and run the cell again.",
    answer=lambda forward, inverse=None: forward if inverse is None else (forward, inverse),
)
def check_affine_coupling(forward, inverse: CouplingFn | None = None) -> CheckResult:
    """Check a learner's affine coupling against the reference layer, with targeted hints, then by autograd.

    Call as ``check_affine_coupling(my_forward, my_inverse)`` or ``check_affine_coupling(answer)`` with
    ``answer = (my_forward, my_inverse)``; None means not attempted yet. Both functions must return torch
    tensors (float64 or float32) equal to the reference at fixed points, and pass verify_bijector.
    """
    name = "affine coupling"
    fwd, inv = _pair(forward if inverse is None else (forward, inverse))
    mask, cond, z = exercise_mask(), exercise_conditioner(), _exercise_points()
    with torch.no_grad():
        x_ref, ld_ref = reference_forward(z, mask, cond)
        x, ld, low_f = _outputs(fwd, "forward", z, mask, cond)
        zb, ild, low_i = _outputs(inv, "inverse", x_ref, mask, cond)
        tol = (1e-5, 1e-5) if low_f or low_i else (1e-6, 1e-7)
        hints = _forward_hints(x, ld, z, mask, cond, tol) + _inverse_hints(zb, ild, x_ref, mask, cond, tol)
        problems = _differences([x, ld, zb, ild], [x_ref, ld_ref, *reference_inverse(x_ref, mask, cond)], tol)
    if not problems:
        loose = {"atol": 1e-4, "rtol": 1e-4} if low_f or low_i else {}
        problems = verify_bijector(FunctionCoupling(fwd, inv, mask, cond), z, **loose)
    if not problems:
        return CheckResult(
            name, True, f"✅ {name}: invertible, and both log-dets match the autograd Jacobian at {z.shape[0]} points."
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


@checker("zero entries of J")
def check_zero_entries(answer) -> CheckResult:
    """``answer``: (D, D) array of 0/1, 1 where J_f[i, j] (row: output x_i, column: input z_j) is always 0."""
    want = zero_entries_reference()
    m = np.asarray(ZERO_ENTRIES_MASK)
    kept_rows_only_diag = np.where(m[:, None] == 1, 1.0 - np.eye(len(m)), 0.0)  # forgot the transformed rows' zeros
    hints = [
        hint_if_equal(
            lambda w: w.T, "you have rows and columns swapped: row i is the output x_i, column j the input z_j."
        ),
        hint_if_equal(
            lambda w: 1 - w, "you marked the entries that can be nonzero; mark the ones that are always zero."
        ),
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
    return compare("zero entries of J", read_array(answer, "a 4 x 4 table of 0s and 1s"), want, hints=hints)


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


@checker("log p_X(x)")
def check_log_density(answer) -> CheckResult:
    """``answer``: log p_X(x) at LOG_DENSITY_POINT for the layer above and a standard normal base (nats)."""
    answer = read_number(answer)  # a number, a 1-element list or tensor: all fine
    x1, x2 = LOG_DENSITY_POINT
    c = LOG_DENSITY_CURVES
    s, t = c["a"] + c["b"] * math.sin(c["c"] * x1), c["d"] + c["e"] * x1**2
    z2 = (x2 - t) * math.exp(-s)
    log_pz = -math.log(2 * math.pi) - 0.5 * (x1**2 + z2**2)
    want = log_pz - s
    log_pz_at_x = -math.log(2 * math.pi) - 0.5 * (x1**2 + x2**2)
    z2_wrong = (x2 - t) * math.exp(s)
    hints = [
        hint_if_equal(
            lambda w: log_pz + s,
            "you added the forward log-det. log p_X(x) = log p_Z(z) - log|det J_f(z)| = log p_Z(z) - s.",
        ),
        hint_if_equal(lambda w: log_pz, "that is log p_Z(z) alone: the log-det term -s is missing."),
        hint_if_equal(
            lambda w: log_pz - math.exp(s), "you subtracted exp(s); the log-det of the scale exp(s) is s itself."
        ),
        hint_if_equal(
            lambda w: log_pz_at_x - s,
            "you evaluated the base density at x. Invert first: z = f^-1(x), then log p_Z(z).",
        ),
        hint_if_equal(
            lambda w: log_pz_at_x,
            "you evaluated the base density at x and left out the log-det: invert first, then subtract s.",
        ),
        hint_if_equal(
            lambda w: -math.log(2 * math.pi) - 0.5 * (x1**2 + z2_wrong**2) - s,
            "your z2 multiplies by exp(s). The inverse divides: z2 = (x2 - t) * exp(-s).",
        ),
    ]
    return compare("log p_X(x)", answer, want, rtol=1e-4, atol=1e-4, hints=hints, unit="nats")
