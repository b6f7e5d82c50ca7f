"""Exercise checkers of the spline notebook (07), with hints for the usual mistakes.

All three work on one spline bin, ``BIN``: knots (z_k, x_k) = (1.0, 0.5) and (z_{k+1}, x_{k+1}) = (3.0, 3.5),
derivatives d_k = 0.5 and d_{k+1} = 4.0, so width w = 2, height h = 3 and average slope s = 1.5.

1. ``check_bin_density(answer)``: p_X at x = f(2.0), the image of the bin's midpoint, for a standard normal base.
   Usual mistakes: multiplying by f' instead of dividing, dividing by the bin's average slope h / w or by the
   mean of the knot derivatives, evaluating the base at x instead of at z, giving log p_X.
2. ``check_bin_inverse(answer)``: the z with f(z) = 2.0, from the bin's quadratic. Usual mistakes: stopping at
   xi (the fraction of the bin), forgetting z_k, the other root, the straight line between the knots, or the
   forward map instead of the inverse.
3. ``check_spline_parameters(answer)``: the trainable numbers of a spline coupling layer on 6 coordinates (2 kept,
   4 transformed), 10 bins, hidden layers (32, 32); the network reads the 2 kept coordinates only, as SplineCoupling's
   does. Usual mistakes: 3K + 1 or 3K numbers per coordinate (the end derivatives are fixed at 1), forgetting the
   biases, outputting for all 6, or counting in notebook 04's style (AffineCoupling's network reads the whole masked
   vector, 6 numbers, and outputs for all 6 coordinates).

The references come from the library (lessonlib.splines), so they cannot drift from what the notebook teaches.
Each checker returns a lessonlib.checks.CheckResult: truthy when right, printed as one line.
"""

from __future__ import annotations

import math

import torch

from lessonlib.checks import CheckResult, checker, compare, hint_if_equal, read_number
from lessonlib.splines import Knots, SplineCoupling, rq_spline, rq_spline_inverse, spline_parameter_count

__all__ = [
    "BIN",
    "bin_knots",
    "bin_density_reference",
    "check_bin_density",
    "INVERT_AT",
    "bin_inverse_reference",
    "check_bin_inverse",
    "COUNT_SETUP",
    "spline_parameters_reference",
    "check_spline_parameters",
]

#: the exercises' bin: knots (z_k, x_k), (z_{k+1}, x_{k+1}) and the derivatives there
BIN = {"z_k": 1.0, "x_k": 0.5, "z_k1": 3.0, "x_k1": 3.5, "d_k": 0.5, "d_k1": 4.0}
MIDPOINT = 2.0
INVERT_AT = 2.0


def bin_knots() -> Knots:
    """The exercises' bin as a one-bin spline (float64). Shapes: Knots of (2,)."""
    b = BIN
    return Knots(
        *(
            torch.tensor(v, dtype=torch.float64)
            for v in ([b["z_k"], b["z_k1"]], [b["x_k"], b["x_k1"]], [b["d_k"], b["d_k1"]])
        )
    )


def _normal_pdf(v: float) -> float:
    return math.exp(-0.5 * v * v) / math.sqrt(2 * math.pi)


def _forward(z: float) -> tuple[float, float]:
    x, log_d = rq_spline(torch.tensor(z, dtype=torch.float64), bin_knots())
    return float(x), float(log_d.exp())


# ------------------------------------------------------------------------------------------
# Exercise 1: a bin's density by hand
# ------------------------------------------------------------------------------------------


def bin_density_reference() -> float:
    """p_X(f(2)) = p_Z(2) / f'(2), with f' from the spline's closed form."""
    _, slope = _forward(MIDPOINT)
    return _normal_pdf(MIDPOINT) / slope


@checker("p_X at the image of the bin's midpoint")
def check_bin_density(answer) -> CheckResult:
    """The learner's p_X at x = f(2.0), the image of the bin's midpoint z = 2.0, with a standard normal base."""
    b, want = BIN, bin_density_reference()
    x_mid, slope = _forward(MIDPOINT)
    s = (b["x_k1"] - b["x_k"]) / (b["z_k1"] - b["z_k"])
    pz = _normal_pdf(MIDPOINT)
    hints = [
        hint_if_equal(
            lambda _: pz * slope,
            "you multiplied by f'. Where the map stretches (f' > 1) the same probability "
            "covers more room, so the density goes down: divide, p_X = p_Z / f'.",
        ),
        hint_if_equal(
            lambda _: pz / s,
            "you divided by the bin's average slope h / w = 1.5. The rational quadratic bends "
            "inside the bin: its slope at the midpoint is 4 s^2 / (2 s + d_k + d_{k+1}).",
        ),
        hint_if_equal(
            lambda _: pz / (0.5 * (b["d_k"] + b["d_k1"])),
            "you divided by the mean of the two knot derivatives. "
            "The slope at the midpoint comes from the formula: 4 s^2 / (2 s + d_k + d_{k+1}).",
        ),
        hint_if_equal(
            lambda _: _normal_pdf(x_mid) / slope,
            "you evaluated the base density at x. The base lives in z: p_X(x) = p_Z(z) / f'(z) with z = f^-1(x) = 2.",
        ),
        hint_if_equal(lambda _: math.log(want), "that is log p_X. The question asks for the density itself."),
        hint_if_equal(
            lambda _: pz, "that is p_Z(2), the base density. The map changes the density by the factor 1 / f'."
        ),
    ]
    return compare(
        "p_X at the image of the bin's midpoint", read_number(answer), want, rtol=1e-4, atol=1e-6, hints=hints
    )


# ------------------------------------------------------------------------------------------
# Exercise 2: inverting one bin
# ------------------------------------------------------------------------------------------


def bin_inverse_reference() -> float:
    """z = f^-1(2.0), in closed form."""
    z, _ = rq_spline_inverse(torch.tensor(INVERT_AT, dtype=torch.float64), bin_knots())
    return float(z)


def _roots() -> tuple[float, float]:
    """(xi of the right root, xi of the other root) of the bin's quadratic at INVERT_AT."""
    b = BIN
    w, h = b["z_k1"] - b["z_k"], b["x_k1"] - b["x_k"]
    s, dx = h / w, INVERT_AT - b["x_k"]
    curve = dx * (b["d_k"] + b["d_k1"] - 2 * s)
    a, bb, c = h * (s - b["d_k"]) + curve, h * b["d_k"] - curve, -s * dx
    root = math.sqrt(bb * bb - 4 * a * c)
    return 2 * c / (-bb - root), (-bb - root) / (2 * a)


@checker("z = f^-1(2.0)")
def check_bin_inverse(answer) -> CheckResult:
    """The learner's z with f(z) = 2.0 in the exercises' bin."""
    b, want = BIN, bin_inverse_reference()
    w = b["z_k1"] - b["z_k"]
    xi, other = _roots()
    s = (b["x_k1"] - b["x_k"]) / w
    hints = [
        hint_if_equal(lambda _: xi, "that is xi, the fraction of the bin. Turn it into a position: z = z_k + xi w."),
        hint_if_equal(lambda _: xi * w, "you forgot the bin's left end: z = z_k + xi w, with z_k = 1."),
        hint_if_equal(
            lambda _: b["z_k"] + other * w,
            "that is the other root of the quadratic, which lies outside the bin "
            "(xi < 0). Take xi = 2c / (-b - sqrt(b^2 - 4ac)), the root in [0, 1].",
        ),
        hint_if_equal(
            lambda _: other,
            "that is the other root of the quadratic, outside [0, 1]. Take the root in [0, 1], then z = z_k + xi w.",
        ),
        hint_if_equal(
            lambda _: b["z_k"] + (INVERT_AT - b["x_k"]) / s,
            "you inverted the straight line between the knots. "
            "The spline bends between them: solve its quadratic for xi.",
        ),
        hint_if_equal(
            lambda _: _forward(INVERT_AT)[0],
            "you computed f(2.0), the forward map. The question asks for the z that f sends to 2.0.",
        ),
    ]
    return compare("z = f^-1(2.0)", read_number(answer), want, rtol=1e-4, atol=1e-6, hints=hints)


# ------------------------------------------------------------------------------------------
# Exercise 3: counting a spline coupling layer's parameters
# ------------------------------------------------------------------------------------------

#: the layer of exercise 3
COUNT_SETUP = {"dim": 6, "kept": 2, "n_bins": 10, "hidden": (32, 32)}


def spline_parameters_reference() -> int:
    """The count, from the formula and checked against a real SplineCoupling's parameters."""
    c = COUNT_SETUP
    n = spline_parameter_count(c["kept"], c["dim"] - c["kept"], c["n_bins"], c["hidden"])
    mask = torch.tensor([1.0] * c["kept"] + [0.0] * (c["dim"] - c["kept"]))
    layer = SplineCoupling(mask, hidden=c["hidden"], n_bins=c["n_bins"])
    if sum(p.numel() for p in layer.parameters()) != n:
        raise RuntimeError("spline_parameter_count disagrees with SplineCoupling: the exercise's reference is broken")
    return n


def _mlp(sizes: tuple[int, ...], biases: bool = True) -> int:
    return sum(a * b + (b if biases else 0) for a, b in zip(sizes[:-1], sizes[1:]))


@checker("parameters of the spline coupling layer")
def check_spline_parameters(answer) -> CheckResult:
    """The learner's count of trainable numbers in the spline coupling layer of COUNT_SETUP."""
    c = COUNT_SETUP
    kept, free, K, (h1, h2) = c["kept"], c["dim"] - c["kept"], c["n_bins"], c["hidden"]
    want = spline_parameters_reference()
    hints = [
        hint_if_equal(
            lambda _: _mlp((kept, h1, h2, free * (3 * K + 1))),
            "you gave each coordinate 3K + 1 numbers. The two "
            "end derivatives are fixed at 1 (the spline meets its identity tails smoothly), so only the K - 1 inner "
            "ones are learned: 3K - 1 per transformed coordinate.",
        ),
        hint_if_equal(
            lambda _: _mlp((kept, h1, h2, free * 3 * K)),
            "you gave each coordinate 3K numbers. There are K "
            "widths and K heights but only K - 1 inner derivatives (the end ones are fixed at 1): 3K - 1.",
        ),
        hint_if_equal(
            lambda _: _mlp((kept, h1, h2, free * (3 * K - 1)), biases=False),
            "you counted the weights only. Every linear layer also has one bias per output.",
        ),
        hint_if_equal(
            lambda _: _mlp((c["dim"], h1, h2, c["dim"] * (3 * K - 1))),
            "you counted the network in notebook 04's style, as AffineCoupling builds it: the whole masked vector "
            "in (6 numbers, the transformed ones set to 0) and numbers for all 6 coordinates out. SplineCoupling's "
            "network, the one this exercise counts, reads only the 2 kept coordinates and outputs 3K - 1 numbers "
            "for each of the 4 transformed ones.",
        ),
        hint_if_equal(
            lambda _: _mlp((c["dim"], h1, h2, free * (3 * K - 1))),
            "your network reads 6 numbers, the whole masked vector, as notebook 04's AffineCoupling does. "
            "SplineCoupling's network, the one this exercise counts, reads only the 2 kept coordinates.",
        ),
        hint_if_equal(
            lambda _: _mlp((kept, h1, h2, c["dim"] * (3 * K - 1))),
            "your network outputs spline numbers for all 6 "
            "coordinates. The kept ones pass through unchanged and need none: only the 4 transformed ones do.",
        ),
        hint_if_equal(
            lambda _: _mlp((kept, h1, free * (3 * K - 1))),
            "you left out a hidden layer: the network is 2 -> 32 -> 32 -> 4 x 29 numbers, three linear layers.",
        ),
    ]
    return compare(
        "parameters of the spline coupling layer", read_number(answer), want, rtol=0.0, atol=0.5, hints=hints
    )
