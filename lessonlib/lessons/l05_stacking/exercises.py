"""Exercise checkers for notebook 05 (stacking layers into a flow), with hints for the usual mistakes.

1. ``check_two_layer_log_prob``: log p_X(x) from a two-layer ledger written in the forward direction.
2. ``check_keep_mask`` and ``check_masks_cover``: masks, and a stack in which every coordinate is transformed.
3. ``check_more_layers``: which of two pictured densities came from the deeper model.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from lessonlib.checks import AnswerProblem, CheckResult, checker, compare, hint_if, hint_if_equal, read_array, read_choice, read_number

__all__ = [
    "LOG_PZ",
    "FORWARD_LOG_DETS",
    "two_layer_log_prob",
    "check_two_layer_log_prob",
    "check_keep_mask",
    "check_masks_cover",
    "check_more_layers",
    "DEEPER_PANEL",
]

# ----------------------------------------------------------------------------------------------
# Exercise 1: a two-layer ledger
# ----------------------------------------------------------------------------------------------

#: log p_Z(z) at the base point z = f^-1(x) of the exercise.
LOG_PZ: float = -2.35
#: Forward log-dets log|det J_{f_1}(z)| and log|det J_{f_2}(f_1(z))| of the two layers at that point.
FORWARD_LOG_DETS: tuple[float, float] = (0.62, -0.17)


def two_layer_log_prob(log_pz: float = LOG_PZ, forward_log_dets: Sequence[float] = FORWARD_LOG_DETS) -> float:
    """log p_X(x) = log p_Z(z) - sum_k log|det J_{f_k}|, the forward log-dets of the layers along the way."""
    return float(log_pz - sum(forward_log_dets))


@checker("log p_X(x) for the two-layer flow")
def check_two_layer_log_prob(answer: Any, log_pz: float = LOG_PZ, forward_log_dets: Sequence[float] = FORWARD_LOG_DETS) -> CheckResult:
    """Check log p_X(x) for a two-layer flow, given log p_Z(z) and the two forward log-dets."""
    a, b = forward_log_dets
    want = two_layer_log_prob(log_pz, forward_log_dets)
    total = a + b
    hints = [
        hint_if_equal(lambda _: log_pz + total, "you added the forward log-dets. Stretching space (a positive "
                      "forward log-det) spreads the probability thinner, so it lowers the density: subtract them."),
        hint_if_equal(lambda _: log_pz - a * b, "you multiplied the two log-dets. Determinants multiply, so their "
                      "logarithms add: log|det J_f| = log|det J_{f_1}| + log|det J_{f_2}|."),
        hint_if_equal(lambda _: log_pz - a, "only layer 1 is in your answer: every layer's log-det enters the sum."),
        hint_if_equal(lambda _: log_pz - b, "only layer 2 is in your answer: every layer's log-det enters the sum."),
        hint_if_equal(lambda _: log_pz - a + b, "you subtracted layer 1 but added layer 2 (or the reverse): both "
                      "are forward log-dets of the same pass, so they get the same sign."),
        hint_if_equal(lambda w: math.exp(w), "that is the density p_X(x) itself; the question asks for its log."),
        hint_if_equal(lambda _: log_pz - math.exp(a) * math.exp(b), "you subtracted the determinant exp(sum) "
                      "instead of its log: inside log p_X(x) it is the log-determinant that appears."),
        hint_if_equal(lambda _: log_pz, "the log-dets are missing: without them the density would not "
                      "integrate to 1 (this is the classic 'forgot the Jacobian' mistake)."),
    ]
    return compare("log p_X(x) for the two-layer flow", read_number(answer), want, rtol=0, atol=5e-4, hints=hints, unit="nats")


# ----------------------------------------------------------------------------------------------
# Exercise 2: masks
# ----------------------------------------------------------------------------------------------


def _as_mask(m: Any, dim: int) -> np.ndarray:
    """A 0/1 float vector of length dim; AnswerProblem saying what is wrong with ``m`` otherwise."""
    a = read_array(m, f"a list of {dim} zeros and ones")
    if a.shape != (dim,):
        raise AnswerProblem(f"each mask needs one entry per coordinate ({dim}), got shape {a.shape}.")
    if not np.isin(a, (0.0, 1.0)).all():
        raise AnswerProblem("mask entries must be 1 (kept, passed through unchanged) or 0 (transformed).")
    if a.all():
        raise AnswerProblem("a mask of all ones keeps every coordinate: that layer would be the identity.")
    if not a.any():
        raise AnswerProblem("a mask of all zeros transforms every coordinate with nothing left to condition on: the "
                            "inverse would have nothing to compute the scales and shifts from.")
    return a


@checker("mask")
def check_keep_mask(answer: Any) -> CheckResult:
    """The mask for 4 coordinates that keeps x_0, x_1 and transforms x_2, x_3 (1 = kept, 0 = transformed)."""
    want = np.array([1.0, 1.0, 0.0, 0.0])
    hints = [
        hint_if_equal(lambda w: 1 - w, "you swapped the meaning: in lessonlib a 1 marks a coordinate that is "
                      "KEPT (it passes through and feeds the conditioner), a 0 one that is transformed."),
        hint_if(lambda g, w: g.shape == w.shape and g.sum() == 2,
                "two ones and two zeros is right, but in the wrong places: keep the FIRST two coordinates."),
    ]
    return compare("mask", _as_mask(answer, 4), want, hints=hints)


def _masks_name(dim: int = 4, n_layers: int = 2) -> str:
    return f"{n_layers} masks covering all {dim} coordinates"


@checker(_masks_name)
def check_masks_cover(answer: Any, dim: int = 4, n_layers: int = 2) -> CheckResult:
    """``n_layers`` masks on ``dim`` coordinates such that every coordinate is transformed by some layer."""
    name = _masks_name(dim, n_layers)
    if isinstance(answer, (str, bytes, dict)) or not hasattr(answer, "__len__") or getattr(answer, "ndim", 1) == 0:
        raise AnswerProblem(f"give a list of {n_layers} masks, e.g. [[1, 1, 0, 0], [...]].")
    masks = list(answer)
    if len(masks) != n_layers:
        raise AnswerProblem(f"give exactly {n_layers} masks (one per layer), got {len(masks)}.")
    checked = []
    for i, m in enumerate(masks):
        try:
            checked.append(_as_mask(m, dim))
        except AnswerProblem as problem:
            raise AnswerProblem(f"mask {i + 1}: {problem}") from None
    transformed = (np.stack(checked) == 0).any(axis=0).astype(np.float64)
    never = [int(i) for i in np.flatnonzero(transformed == 0)]
    same = all(np.array_equal(checked[0], c) for c in checked[1:])
    if same:
        msg = (f"every layer uses the same mask, so coordinates {never} are never transformed: stacking "
               "adds nothing for them. Flip the mask in the next layer (1 - mask).")
    else:
        msg = (f"coordinate{'s' if len(never) > 1 else ''} {never} {'are' if len(never) > 1 else 'is'} kept "
               "(mask 1) by every layer, so nothing ever transforms it. Give it a 0 in at least one mask.")
    hints = [hint_if(lambda g, w: True, msg)]
    return compare(name, transformed, np.ones(dim), hints=hints)


# ----------------------------------------------------------------------------------------------
# Exercise 3: which picture came from the deeper model?
# ----------------------------------------------------------------------------------------------

#: The panel (in plot_guess_pair as the notebook calls it) that shows the 8-layer model.
DEEPER_PANEL: str = "B"


@checker("the deeper model")
def check_more_layers(answer: Any, deeper: str = DEEPER_PANEL) -> CheckResult:
    """Answer "A" or "B": which panel shows the model with more coupling layers."""
    name = "the deeper model"
    got = read_choice(answer, ("A", "B"))
    other = "B" if deeper == "A" else "A"
    hint = (f"follow a vertical line through the middle of each panel. A single affine coupling with mask "
            "[1, 0] keeps the horizontal coordinate and only shifts and scales the vertical one, by amounts that "
            "depend on the horizontal one; so along every vertical line its density is one Gaussian bump. "
            f"Panel {got} is built from such bumps; panel {other} has two separate bumps on one vertical line, "
            "which no single coupling layer can draw.")
    return compare(name, float(got == deeper), 1.0, hints=[hint_if(lambda g, w: True, hint)])
