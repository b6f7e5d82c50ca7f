"""Exercise checkers for notebook 05 (stacking layers into a flow), with hints for the usual mistakes.

1. ``check_two_layer_log_prob``: log p_X(x) from a two-layer ledger written in the forward direction.
2. ``check_keep_mask`` and ``check_masks_cover``: masks, and a stack in which every coordinate is transformed.
3. ``check_more_layers``: which of two pictured densities came from the deeper model.
4. ``check_own_stack``: masks, NLL and sampling of a stack the learner builds, then trained on two moons.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lessonlib.bijectors import Chain
from lessonlib.checks import (
    AnswerProblem,
    CheckResult,
    checker,
    compare,
    hint_if,
    hint_if_equal,
    read_array,
    read_choice,
    read_items,
    read_number,
)
from lessonlib.coupling import AffineCoupling
from lessonlib.flows import Flow, standard_normal
from lessonlib.nets import randomise
from lessonlib.toy2d import kl_gap, two_moons
from lessonlib.training import train

__all__ = [
    "LOG_PZ",
    "FORWARD_LOG_DETS",
    "two_layer_log_prob",
    "check_two_layer_log_prob",
    "check_keep_mask",
    "check_masks_cover",
    "check_more_layers",
    "DEEPER_PANEL",
    "OWN_STACK_STEPS",
    "check_own_stack",
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
def check_two_layer_log_prob(
    answer: Any, log_pz: float = LOG_PZ, forward_log_dets: Sequence[float] = FORWARD_LOG_DETS
) -> CheckResult:
    """Check log p_X(x) for a two-layer flow, given log p_Z(z) and the two forward log-dets."""
    a, b = forward_log_dets
    want = two_layer_log_prob(log_pz, forward_log_dets)
    total = a + b
    hints = [
        hint_if_equal(
            lambda _: log_pz + total,
            "you added the forward log-dets. Stretching space (a positive "
            "forward log-det) spreads the probability thinner, so it lowers the density: subtract them.",
        ),
        hint_if_equal(
            lambda _: log_pz - a * b,
            "you multiplied the two log-dets. Determinants multiply, so their "
            "logarithms add: log|det J_f| = log|det J_{f_1}| + log|det J_{f_2}|.",
        ),
        hint_if_equal(lambda _: log_pz - a, "only layer 1 is in your answer: every layer's log-det enters the sum."),
        hint_if_equal(lambda _: log_pz - b, "only layer 2 is in your answer: every layer's log-det enters the sum."),
        *(
            hint_if_equal(
                lambda _, v=v: v,
                "you subtracted layer 1 but added layer 2 (or the reverse): both "
                "are forward log-dets of the same pass, so they get the same sign.",
            )
            for v in (log_pz - a + b, log_pz + a - b)
        ),
        hint_if_equal(lambda w: math.exp(w), "that is the density p_X(x) itself; the question asks for its log."),
        hint_if_equal(
            lambda _: log_pz - math.exp(a) * math.exp(b),
            "you subtracted the determinant exp(sum) "
            "instead of its log: inside log p_X(x) it is the log-determinant that appears.",
        ),
        hint_if_equal(
            lambda _: log_pz,
            "the log-dets are missing: without them the density would not "
            "integrate to 1 (this is the classic 'forgot the Jacobian' mistake).",
        ),
    ]
    return compare(
        "log p_X(x) for the two-layer flow", read_number(answer), want, rtol=0, atol=5e-4, hints=hints, unit="nats"
    )


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
        raise AnswerProblem(
            "a mask of all zeros transforms every coordinate with nothing left to condition on: the "
            "inverse would have nothing to compute the scales and shifts from."
        )
    return a


@checker("mask")
def check_keep_mask(answer: Any) -> CheckResult:
    """The mask for 4 coordinates that keeps the first two and transforms the last two (1 = kept, 0 = transformed)."""
    want = np.array([1.0, 1.0, 0.0, 0.0])
    hints = [
        hint_if_equal(
            lambda w: 1 - w,
            "you swapped the meaning: in lessonlib a 1 marks a coordinate that is "
            "KEPT (it passes through and feeds the conditioner), a 0 one that is transformed.",
        ),
        hint_if(
            lambda g, w: g.shape == w.shape and g.sum() == 2,
            "two ones and two zeros is right, but in the wrong places: keep the FIRST two coordinates.",
        ),
    ]
    return compare("mask", _as_mask(answer, 4), want, hints=hints)


def _counted(indices: np.ndarray) -> str:
    """Coordinates by their place, counted from 1 as the text counts them: "coordinate 3 is", "coordinates 1 and 4 are"."""
    places = [str(int(i) + 1) for i in indices]
    if len(places) == 1:
        return f"coordinate {places[0]} is"
    return f"coordinates {', '.join(places[:-1])} and {places[-1]} are"


def _masks_name(dim: int = 4, n_layers: int = 2) -> str:
    return f"{n_layers} masks covering all {dim} coordinates"


@checker(_masks_name)
def check_masks_cover(answer: Any, dim: int = 4, n_layers: int = 2) -> CheckResult:
    """``n_layers`` masks on ``dim`` coordinates such that every coordinate is transformed by some layer."""
    name = _masks_name(dim, n_layers)
    masks = read_items(answer, f"a list of {n_layers} masks, e.g. [[1, 1, 0, 0], [...]]")
    if len(masks) != n_layers:
        raise AnswerProblem(f"give exactly {n_layers} masks (one per layer), got {len(masks)}.")
    checked = []
    for i, m in enumerate(masks):
        try:
            checked.append(_as_mask(m, dim))
        except AnswerProblem as problem:
            raise AnswerProblem(f"mask {i + 1}: {problem}") from None
    transformed = (np.stack(checked) == 0).any(axis=0).astype(np.float64)
    if transformed.all():
        return compare(name, transformed, np.ones(dim))
    never = _counted(np.flatnonzero(transformed == 0))
    same = all(np.array_equal(checked[0], c) for c in checked[1:])
    if same:
        msg = (
            f"every layer uses the same mask, so {never} never transformed: stacking "
            f"adds nothing for {'it' if never.endswith(' is') else 'them'}. Flip the mask in the next layer (1 - mask)."
        )
    else:
        msg = f"{never} kept (mask 1) by every layer, so no layer transforms {'it' if never.endswith(' is') else 'them'}. Give a 0 in at least one mask."
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
    hint = (
        f"follow a vertical line through the middle of each panel. A single affine coupling with mask "
        "[1, 0] keeps the horizontal coordinate and only shifts and scales the vertical one, by amounts that "
        "depend on the horizontal one; so along every vertical line its density is one Gaussian bump. "
        f"Panel {got} is built from such bumps; panel {deeper} has two separate bumps on one vertical line, "
        "which no single coupling layer can draw."
    )
    return compare(name, float(got == deeper), 1.0, hints=[hint_if(lambda g, w: True, hint)])


# ----------------------------------------------------------------------------------------------
# Exercise 4: build and train your own stack
# ----------------------------------------------------------------------------------------------

#: Steps the checker trains the learner's stack for, on two moons (batch 256, Adam 5e-3).
OWN_STACK_STEPS = 300


def _attempt(fn: Callable, *args: Any) -> tuple[Any, str | None]:
    """fn(*args), or the sentence that says how calling it failed (a checker never shows a traceback)."""
    try:
        return fn(*args), None
    except Exception as e:  # noqa: BLE001 - any mistake in the learner's code becomes feedback
        return None, f"calling {getattr(fn, '__name__', 'your function')} failed: {type(e).__name__}: {e}"


def _stack(masks: list[np.ndarray], scramble: bool = False) -> Flow:
    """Affine couplings with these masks: identities (zero last layers) to train, or scrambled (random
    weights everywhere) to check a loss and a sampler on, where forward, inverse and log-det all differ."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        chain = Chain(*[AffineCoupling(torch.as_tensor(m), hidden=(32, 32), log_scale_bound=3.0) for m in masks])
        if scramble:
            chain = randomise(chain, torch.Generator().manual_seed(1), std=0.4)
    return Flow(standard_normal(len(masks[0]), torch.float32), chain.float())


def _check_loss(stack_nll: Callable, flow: Flow, x: Tensor) -> str | None:
    """None when stack_nll(flow, x) is the NLL with its gradient, else what is wrong with it."""
    got, error = _attempt(stack_nll, flow, x)
    if error:
        return error
    if not isinstance(got, Tensor) or got.numel() != 1 or not got.requires_grad:
        return "stack_nll must return the mean NLL as a one-number torch tensor that autograd can differentiate."
    with torch.no_grad():
        z, log_det = flow.bijector.inverse_and_log_det(x)
        base = flow.base.log_prob(z)
    value = float(got.detach())
    want = float(-(base + log_det).mean())
    if math.isclose(value, want, rel_tol=1e-5, abs_tol=1e-6):
        return None  # right: checked first, so a right answer is never mistaken for a wrong one it nearly equals
    for wrong, why in (
        (
            -base.mean(),
            "the log-det term is missing: -mean(log p_Z(z)) rewards squeezing all data onto the base's peak.",
        ),
        (
            -(base - log_det).mean(),
            "the log-det has the wrong sign: inverse_and_log_det returns log|det J_{f^-1}(x)|, "
            "which is ADDED to log p_Z(z).",
        ),
        ((base + log_det).mean(), "that is the mean log-likelihood; the loss to minimise is its negative."),
        (
            -(base + log_det).sum(),
            "that is the sum over the batch; use the mean, so the step size does not depend on the batch size.",
        ),
    ):
        if math.isclose(value, float(wrong), rel_tol=1e-5, abs_tol=1e-6):
            return why
    return f"stack_nll gives {value:.4f}, the NLL is {want:.4f}: use z, log_det = flow.bijector.inverse_and_log_det(x)."


def _check_draw(draw: Callable, flow: Flow, z: Tensor) -> str | None:
    """None when draw(flow, z) sends base points to data points, else what is wrong with it."""
    got, error = _attempt(draw, flow, z)
    if error:
        return error
    with torch.no_grad():
        forward, inverse = flow.bijector.forward(z), flow.bijector.inverse(z)
    if not isinstance(got, Tensor) or got.shape != z.shape:
        return f"draw must return a tensor of the same shape as z, {tuple(z.shape)}."
    if torch.allclose(got.detach(), inverse, atol=1e-5) and not torch.allclose(inverse, forward, atol=1e-5):
        return "you sent z through the inverse. Sampling runs the flow FORWARD, from base to data: x = f(z)."
    if not torch.allclose(got.detach(), forward, atol=1e-5):
        return "draw(flow, z) should return flow.bijector.forward(z): the base points pushed to data space."
    return None


@checker("your stack", answer=lambda *fns: None if all(f is None for f in fns) else fns)
def check_own_stack(
    make_masks: Callable | None = None, stack_nll: Callable | None = None, draw: Callable | None = None
) -> CheckResult:
    """Exercise 4: masks for a stack of affine couplings, its NLL, and sampling; then train it on two moons.

    ``make_masks(dim, n_layers)`` returns a list of masks; ``stack_nll(flow, x)`` the mean NLL as a tensor;
    ``draw(flow, z)`` the data points of base points z. The checker diagnoses the usual mistakes of each,
    then trains a 4-layer stack with your masks and loss for OWN_STACK_STEPS steps and reports its KL gap.
    """
    name = "your stack"
    given = {"make_masks": make_masks, "stack_nll": stack_nll, "draw": draw}
    not_functions = [n for n, f in given.items() if f is not None and not callable(f)]
    if not_functions:
        return CheckResult(
            name,
            False,
            f"❌ {name}: give {' and '.join(not_functions)} as {'a function' if len(not_functions) == 1 else 'functions'} (def {not_functions[0]}(...): "
            f"...), then pass the functions themselves; got {type(given[not_functions[0]]).__name__}.",
        )
    missing = [n for n, f in given.items() if f is None]
    if missing:
        return CheckResult(
            name,
            False,
            f"❌ {name}: the checker needs all three functions, check_own_stack(make_masks, "
            f"stack_nll, draw); {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} still None.",
        )
    masks, error = _attempt(make_masks, 2, 4)
    if error:
        return CheckResult(name, False, f"❌ {name}: {error}")
    cover = check_masks_cover(masks, dim=2, n_layers=4)
    if not cover:
        return CheckResult(name, False, f"❌ {name}: make_masks(2, 4): " + cover.message.split(": ", 1)[-1])
    checked = [_as_mask(m, 2) for m in masks]
    flow = _stack(checked, scramble=True)
    target = two_moons()
    x = target.sample(256, torch.Generator().manual_seed(3)).float()
    z = torch.randn(64, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float32)
    for problem in (_check_loss(stack_nll, flow, x), _check_draw(draw, flow, z)):
        if problem:
            return CheckResult(name, False, f"❌ {name}: {problem}")
    flow = _stack(checked)
    train(
        flow,
        lambda n, gen: target.sample(n, gen).float(),
        steps=OWN_STACK_STEPS,
        lr=5e-3,
        batch_size=256,
        loss_fn=stack_nll,
    )
    gap, se = kl_gap(flow.log_prob, target, dtype=torch.float32)
    return CheckResult(
        name,
        True,
        f"✅ {name}: masks, loss and sampling are right; after {OWN_STACK_STEPS} steps of your "
        f"loss the KL gap to the two moons is {gap:.2f} ± {se:.3f} nats.",
    )
