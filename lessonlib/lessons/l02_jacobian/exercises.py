"""Exercise checkers of notebook 02 (2D maps, determinants, log-determinants).

Each ``check_*`` takes the learner's answer (``None`` while not attempted) and returns a
CheckResult whose message names the typical mistake when the answer matches one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lessonlib.checks import (
    AnswerProblem,
    CheckResult,
    checker,
    compare,
    hint_if,
    hint_if_equal,
    read_array,
    read_items,
    read_number,
)
from lessonlib.inputs import describe
from lessonlib.linear2d import det2, gaussian_density, rotation

__all__ = [
    "EX1_SCALE",
    "EX1_ANGLE",
    "EX1_POINT",
    "ex1_matrix",
    "check_rotation_scaling_density",
    "SIGN_QUIZ",
    "check_signs",
    "big_triangular_matrix",
    "check_big_log_det",
]

# --------------------------------------------------------------------------------------
# 1. The density of a rotation plus a scaling
# --------------------------------------------------------------------------------------
EX1_SCALE = 2.0
EX1_ANGLE = np.pi / 6  # 30 degrees, counter-clockwise
EX1_POINT = np.array([1.0, 0.5])


def ex1_matrix() -> np.ndarray:
    """A = s R(theta) with s = 2, theta = 30 degrees. Shapes: (2, 2)."""
    return EX1_SCALE * rotation(EX1_ANGLE)


def _ex1_parts() -> dict[str, float]:
    A = ex1_matrix()
    x = EX1_POINT[None]
    z = np.linalg.solve(A, x.T).T
    d = abs(det2(A))
    pz = float(gaussian_density(z)[0])
    return {
        "right": pz / d,
        "times_det": pz * d,
        "over_s": pz / EX1_SCALE,
        "no_det": pz,
        "forward": float(gaussian_density(x @ A.T)[0]) / d,
        "not_mapped": float(gaussian_density(x)[0]) / d,
        "no_2pi": pz * 2 * np.pi / d,
        "identity": float(gaussian_density(x)[0]),
    }


def _ex1_points() -> dict[str, np.ndarray]:
    """The point z* with A z* = x*, and the points the usual mistakes give instead. Shapes: each (2,)."""
    x = EX1_POINT
    return {
        "right": rotation(-EX1_ANGLE) @ x / EX1_SCALE,
        "wrong_way": rotation(EX1_ANGLE) @ x / EX1_SCALE,
        "forward": ex1_matrix() @ x,
        "not_mapped": x,
        "scale_only": x / EX1_SCALE,
        "turn_only": rotation(-EX1_ANGLE) @ x,
        "times_s": EX1_SCALE * rotation(-EX1_ANGLE) @ x,
    }


def _check_point(z_star: Any) -> CheckResult:
    """The learner's z*: A^-1 x*, checked for the wrong turn, the forward map, a half-undone map."""
    z = read_array(z_star, "the point z_star, two numbers")
    if z.size != 2:
        raise AnswerProblem(f"z_star is a point of the plane, two numbers; you gave shape {z.shape}.")
    pts = _ex1_points()
    near = lambda key: pts[key]  # noqa: E731 - the point a known mistake gives
    hints = [
        hint_if_equal(
            lambda w: near("wrong_way"),
            "you turned the wrong way. A turns by +30° (counter-clockwise), so A^-1, going back, turns by -30° "
            "(clockwise): z* = R(-30°) x* / 2. For this base the density is the same either way (it depends on |z| "
            "only), but the point is not.",
        ),
        hint_if_equal(
            lambda w: near("forward"), "that is A x*, where x* goes. z* is the point that lands ON x*: A^-1 x*."
        ),
        hint_if_equal(lambda w: near("not_mapped"), "that is x* itself: map it back, z* = A^-1 x*."),
        hint_if_equal(lambda w: near("scale_only"), "you undid the scaling but not the turn: z* = R(-30°) x* / 2."),
        hint_if_equal(lambda w: near("turn_only"), "you undid the turn but not the scaling by 2: divide by 2 too."),
        hint_if_equal(lambda w: near("times_s"), "you multiplied by 2; undoing the scaling divides by 2."),
    ]
    return compare("the point z* = A^-1 x*", z.reshape(2), pts["right"], rtol=1e-6, hints=hints)


def _pair_like(value: Any) -> bool:
    """True for a value of two items (z*'s two coordinates), as far as len() can tell."""
    try:
        return len(value) == 2
    except TypeError:
        return False


@checker(
    "density p_X(x*)",
    how="Give both values, z_star and answer, and run the cell again.",
    answer=lambda z_star, density=None: None if z_star is None and density is None else (z_star, density),
)
def check_rotation_scaling_density(z_star: Any, density: Any = None) -> CheckResult:
    """z*, the point with A z* = x*, and p_X(x*) = p_Z(z*) / |det A|, for x = A z, A = 2 R(30 deg), z standard normal,
    x* = (1, 0.5). The two may come as one pair, check_rotation_scaling_density((z_star, answer))."""
    if density is None and isinstance(z_star, (tuple, list)) and len(z_star) == 2 and _pair_like(z_star[0]):
        z_star, density = z_star
    if z_star is None or density is None:
        raise AnswerProblem(
            "give both values: z_star, the point z with A z = x* (two numbers), and answer, p_X(x*) (one number): "
            "check_rotation_scaling_density(z_star, answer)."
        )
    point = _check_point(z_star)
    if not point:
        return point
    p = _ex1_parts()
    near = lambda key: p[key]  # noqa: E731 - the value a known mistake gives
    hints = [
        hint_if_equal(
            lambda w: near("times_det"),
            "you multiplied by |det A|. Stretching spreads probability thinner: divide by |det A|.",
        ),
        hint_if_equal(
            lambda w: near("over_s"),
            "you divided by s = 2, but A scales both directions by 2, so areas grow by |det A| = s^2 = 4.",
        ),
        hint_if_equal(lambda w: near("no_det"), "that is p_Z(A^-1 x*) alone: the area factor 1 / |det A| is missing."),
        hint_if_equal(
            lambda w: near("forward"),
            "you evaluated p_Z at A x*. The density needs the point that lands on x*: z = A^-1 x*.",
        ),
        hint_if_equal(
            lambda w: near("not_mapped"),
            "you evaluated p_Z at x* itself. First map back: z = A^-1 x* (the rotation keeps |z|, the scaling does not).",
        ),
        hint_if_equal(
            lambda w: near("no_2pi"),
            "the standard normal on the plane has the factor 1 / (2 pi) in front of the exponential.",
        ),
        hint_if_equal(
            lambda w: near("identity"),
            "that is p_Z(x*), the base density at x* as if A were the identity: map "
            "back first, z = A^-1 x*, then divide by |det A| = 4.",
        ),
    ]
    result = compare("density p_X(x*)", read_number(density), p["right"], rtol=1e-6, hints=hints)
    if result:
        return CheckResult(result.name, True, f"{result.message.rstrip('.')}, and so is z* = A^-1 x*.")
    return result


# --------------------------------------------------------------------------------------
# 2. The sign of det A from a picture (pictures P, Q, R drawn by plots.plot_sign_quiz)
# --------------------------------------------------------------------------------------

#: The matrices behind the "sign of det from a picture" exercise, labelled P, Q, R.
SIGN_QUIZ: dict[str, np.ndarray] = {
    "P": np.array([[1.2, 0.9], [-0.3, 1.1]]),
    "Q": np.array([[0.4, 1.3], [1.2, 0.2]]),
    "R": np.array([[-1.1, -0.6], [0.5, -1.2]]),
}


def _quiz_signs() -> np.ndarray:
    return np.array([np.sign(det2(A)) for A in SIGN_QUIZ.values()])


_SIGN_WORDS = {"+": 1.0, "-": -1.0, "+1": 1.0, "-1": -1.0, "positive": 1.0, "negative": -1.0}


def _read_signs(answer: Any) -> np.ndarray:
    """Three signs as +1 / -1 from numbers (only their sign counts) or the words '+', '-', 'positive', 'negative'."""
    if isinstance(answer, (str, bytes)) or not hasattr(answer, "__iter__"):
        raise AnswerProblem(f"give three numbers, +1 or -1, for P, Q and R, e.g. (1, 1, -1); got {describe(answer)}.")
    answer = read_items(answer, "three numbers, +1 or -1, for P, Q and R, e.g. (1, 1, -1)")
    if any(isinstance(a, str) for a in answer):
        words = [str(a).strip().lower() for a in answer]
        if not all(wd in _SIGN_WORDS for wd in words):
            raise AnswerProblem("give three numbers, +1 or -1 (or the words '+' and '-'), for P, Q and R.")
        answer = [_SIGN_WORDS[wd] for wd in words]
    g = read_array(answer, "three numbers, +1 or -1, for P, Q and R")
    if g.shape != (3,):
        raise AnswerProblem(f"give exactly three signs (P, Q, R); you gave shape {g.shape}.")
    if not np.all(np.isfinite(g)):
        raise AnswerProblem("give three numbers, +1 or -1; your answer contains NaN or infinity.")
    if np.any(g == 0):
        raise AnswerProblem("none of the three pictures is flat, so no determinant is 0.")
    return np.sign(g)


@checker("signs of det")
def check_signs(answer: Any) -> CheckResult:
    """The signs of det A for pictures P, Q, R, as three numbers +1 or -1."""
    want = _quiz_signs()
    answer = _read_signs(answer)
    hints = [
        hint_if_equal(
            lambda w: -w,
            "all three are reversed. det > 0 when turning from a1 to a2 the short way goes counter-clockwise, as from e1 to e2.",
        ),
        hint_if(
            lambda g, w: g[2] != w[2] and g[0] == w[0] and g[1] == w[1],
            "R: both columns point left, but that is about a half turn of the plane, and a turn keeps orientation. "
            "Check the turn from a1 to a2.",
        ),
        hint_if(
            lambda g, w: g[1] != w[1] and g[0] == w[0] and g[2] == w[2],
            "Q: from a1 to a2 the short way turns clockwise, the mirror image of e1 to e2.",
        ),
        hint_if(
            lambda g, w: g[0] != w[0] and g[1] == w[1] and g[2] == w[2],
            "P: a1 points a little down, but from a1 to a2 the short way still turns counter-clockwise.",
        ),
    ]
    return compare("signs of det", answer, want, hints=hints)


# --------------------------------------------------------------------------------------
# 3. A log-determinant in d = 1000 without overflow
# --------------------------------------------------------------------------------------
D_BIG = 1000


def big_triangular_matrix(d: int = D_BIG, seed: int = 2) -> np.ndarray:
    """A lower-triangular d x d matrix whose diagonal entries have sizes between 1.5 and 3, some negative.

    Its determinant, the product of the diagonal, is near e^790: far above float64's largest number.
    Shapes: (d, d).
    """
    rng = np.random.default_rng(seed)
    L = np.tril(0.1 * rng.standard_normal((d, d)), k=-1)
    diag = rng.uniform(1.5, 3.0, d) * rng.choice([-1.0, 1.0], d)
    return L + np.diag(diag)


def _read_log_det(answer: Any) -> float:
    """The answer as one number, with slogdet's pair and the three non-finite results explained."""
    if (isinstance(answer, tuple) and len(answer) == 2) or (hasattr(answer, "logabsdet") and hasattr(answer, "sign")):
        raise AnswerProblem("slogdet returns two things, (sign, logabsdet). Give the second: np.linalg.slogdet(L)[1].")
    v = read_number(answer)
    if np.isposinf(v):
        raise AnswerProblem(
            "got inf. det L, a product of 1000 numbers of size about 2, is near e^790, beyond float64's "
            "largest number (about e^709), so it overflowed before the log. Add the logs of the diagonal "
            "instead of multiplying."
        )
    if np.isnan(v):
        raise AnswerProblem(
            "got NaN. Some diagonal entries are negative and their log is undefined: take the absolute "
            "value first (density only needs |det L|)."
        )
    if np.isneginf(v):
        raise AnswerProblem("got -inf, the log of 0. Did a product of the diagonal underflow or overflow on the way?")
    return v


@checker("log|det L|")
def check_big_log_det(answer: Any) -> CheckResult:
    """log|det L| for L = big_triangular_matrix(): the sum of log|L_ii|."""
    L = big_triangular_matrix()
    diag = np.diagonal(L)
    want = float(np.sum(np.log(np.abs(diag))))
    hints = [
        hint_if_equal(
            lambda w: diag.sum(), "you added the diagonal entries themselves; add their logs: sum log|L_ii|.", rtol=1e-6
        ),
        hint_if_equal(lambda w: np.abs(diag).sum(), "you added |L_ii|; add their logs: sum log|L_ii|.", rtol=1e-6),
        hint_if_equal(
            lambda w: w / np.log(10.0), "that is log base 10. Densities use the natural log: np.log, not np.log10."
        ),
        hint_if_equal(lambda w: -w, "right size, wrong sign: that is the log-det of the inverse map L^-1."),
        hint_if(
            lambda g, w: abs(float(g.ravel()[0])) == 1.0,
            "that is the sign of det L (slogdet's first output); give the second, logabsdet.",
        ),
    ]
    return compare("log|det L|", _read_log_det(answer), want, rtol=1e-8, hints=hints)
