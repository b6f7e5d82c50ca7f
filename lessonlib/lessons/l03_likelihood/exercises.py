"""Checkers for notebook 03's exercises: the NLL loss, a Gaussian NLL by hand, the sign of an NLL, units.

Each checker returns a lessonlib.checks.CheckResult (truthy when right) whose message names the
typical mistake it recognised: a sign flip, a missing or sign-flipped log-det, a sum instead of a
mean, a forgotten normalising constant, a forgotten log.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lessonlib.bijectors import Affine, Chain
from lessonlib.checks import CheckResult, call, checker, compare, failed, hint_if_equal, read_number, read_words
from lessonlib.flows import Flow, standard_normal
from lessonlib.monotone1d import MonotoneMixture
from lessonlib.training import nll

__all__ = [
    "exercise_flow",
    "check_nll_loss",
    "GAUSSIAN_DATA",
    "GAUSSIAN_MU",
    "GAUSSIAN_SIGMA",
    "gaussian_nll_reference",
    "check_gaussian_nll",
    "SIGN_CASES",
    "check_nll_signs",
    "check_unit_change",
]


def exercise_flow() -> tuple[Flow, Tensor]:
    """A fixed 1D flow (mixture + affine, float64) and 40 fixed data points for exercise 1."""
    mix = MonotoneMixture(
        torch.tensor([[-1.0, 0.2, 1.3]], dtype=torch.float64),
        torch.tensor([[-0.7, -0.2, -1.0]], dtype=torch.float64),
        torch.tensor([[0.3, -0.5, 0.1]], dtype=torch.float64),
    )
    flow = Flow(
        standard_normal(1, torch.float64),
        Chain(mix, Affine(torch.tensor([0.8], dtype=torch.float64), torch.tensor([0.5], dtype=torch.float64))),
    )
    x = torch.linspace(-2.0, 3.0, 40, dtype=torch.float64)[:, None]
    return flow, x


@checker("NLL loss")
def check_nll_loss(nll_loss: Callable[[Flow, Tensor], Tensor] | None) -> CheckResult:
    """Exercise 1: ``nll_loss(flow, x)`` must return -(1/B) sum_i [log p_Z(z_i) + log|det J_{f^-1}(x_i)|].

    Checked by value and by its gradient (autograd) against lessonlib.training.nll.
    """
    name = "NLL loss"
    flow, x = exercise_flow()
    with torch.no_grad():
        z, log_det = flow.bijector.inverse_and_log_det(x)
        base = flow.base.log_prob(z)
        z_fwd, ld_fwd = flow.bijector.forward_and_log_det(x)  # the swap: the sampling direction applied to data
        swapped = (
            -(flow.base.log_prob(z_fwd) + ld_fwd).mean().item(),
            -(flow.base.log_prob(z_fwd) - ld_fwd).mean().item(),
        )
    b, ld = base.numpy(), log_det.numpy()
    got = call(nll_loss, flow, x, what="a function nll_loss(flow, x)")
    if getattr(got, "shape", None) is not None and tuple(got.shape) == (x.shape[0],):
        return failed(
            name,
            f"you returned one number per point (shape {tuple(got.shape)}). A loss is one number: "
            "average over the batch with .mean().",
        )
    hints = [
        hint_if_equal(
            lambda w: -(b - ld).mean(),
            "the log-det enters with the wrong sign. In the density direction, log p_X(x) = log p_Z(z) "
            "+ log|det J_{f^-1}(x)|: ADD the inverse log-det (or subtract the forward one).",
        ),
        hint_if_equal(
            lambda w: -b.mean(),
            "the log-det term is missing: you scored z under the base only. Without log|det J| the "
            "'density' does not integrate to 1 and training squeezes all data onto z = 0.",
        ),
        hint_if_equal(
            lambda w: -(b + ld).sum(),
            f"you summed over the {x.shape[0]} points instead of averaging: divide by the batch size (.mean()).",
        ),
        hint_if_equal(
            lambda w: -ld.mean(), "only the log-det term is there: add the base log-density log p_Z(z) at z = f^-1(x)."
        ),
        hint_if_equal(
            lambda w: (b + ld).mean(),
            "that is the mean log-likelihood itself; the loss that training minimises is its negative, the NLL.",
        ),
        *(
            hint_if_equal(
                lambda w, v=v: v,
                "forward and inverse are swapped: forward_and_log_det is the sampling direction, z to x. A density "
                "takes the data back to the base: z, log_det = flow.bijector.inverse_and_log_det(x), and that "
                "log_det is log|det J_{f^-1}(x)|, which is added.",
            )
            for v in swapped
        ),
    ]
    value = compare(name, _one_number(got), nll(flow, x).detach(), hints=hints, unit="nats")
    if not value:
        return value
    return _check_gradient(name, nll_loss, got, flow, x)


def _one_number(got: Any) -> Any:
    """A one-element tensor as a scalar: a loss of shape (1,) is one number, as ``train``'s loss_fn takes it."""
    return got.reshape(()) if isinstance(got, Tensor) and got.numel() == 1 else got


def _check_gradient(name: str, nll_loss: Callable[[Flow, Tensor], Tensor], got, flow: Flow, x: Tensor) -> CheckResult:
    """The right value: is it also a tensor whose gradient is the NLL's?"""
    if not isinstance(got, Tensor) or not got.requires_grad:
        return failed(
            name,
            "the value is right, but it is not a torch tensor connected to the flow's parameters, so "
            "training could not take its gradient. Avoid .item(), .detach(), numpy and torch.no_grad() "
            "inside the loss.",
        )
    params = [p for p in flow.parameters()]
    want_grads = torch.autograd.grad(nll(flow, x), params)
    got_grads = torch.autograd.grad(call(nll_loss, flow, x).sum(), params, allow_unused=True)
    if any(g is None for g in got_grads):
        return failed(
            name,
            "some parameters get no gradient from your loss: did you use every layer of the flow "
            "(flow.bijector, not one of its parts)?",
        )
    flat = lambda gs: torch.cat([g.reshape(-1).double() for g in gs])  # noqa: E731
    grad = compare("its gradient", flat(got_grads), flat(want_grads))
    if not grad:
        return failed(name, f"the value matches but the gradient does not ({grad.message}).")
    return CheckResult(name, True, f"✅ {name}: correct, value and gradient (autograd) match lessonlib.training.nll.")


#: Exercise 2: data and a Gaussian N(mu, sigma^2) to score them with.
GAUSSIAN_DATA = (1.2, 0.3, -0.5, 2.0)
GAUSSIAN_MU, GAUSSIAN_SIGMA = 0.5, 0.8


def gaussian_nll_reference(
    data: Sequence[float] = GAUSSIAN_DATA, mu: float = GAUSSIAN_MU, sigma: float = GAUSSIAN_SIGMA
) -> float:
    """Mean NLL of N(mu, sigma^2): 1/2 log(2 pi sigma^2) + mean (x - mu)^2 / (2 sigma^2)."""
    x = np.asarray(data, dtype=np.float64)
    return float(0.5 * math.log(2 * math.pi * sigma**2) + np.mean((x - mu) ** 2) / (2 * sigma**2))


@checker("Gaussian NLL")
def check_gaussian_nll(answer: float | None) -> CheckResult:
    """Exercise 2: the mean NLL, in nats, of GAUSSIAN_DATA under N(GAUSSIAN_MU, GAUSSIAN_SIGMA^2)."""
    x, mu, s = np.asarray(GAUSSIAN_DATA), GAUSSIAN_MU, GAUSSIAN_SIGMA
    want = gaussian_nll_reference()
    sq = np.mean((x - mu) ** 2)
    half_log_2pi = 0.5 * math.log(2 * math.pi)
    hints = [
        hint_if_equal(
            lambda w: w - half_log_2pi,
            "the constant 1/2 log(2 pi) is missing; it is part of the density's normaliser and of the NLL.",
        ),
        hint_if_equal(
            lambda w: w - math.log(s),
            "the log sigma term is missing: the normaliser is 1/(sigma sqrt(2 pi)), so -log p gets + log sigma.",
        ),
        hint_if_equal(
            lambda w: 0.5 * math.log(2 * math.pi * s) + sq / (2 * s**2),
            "the normaliser is 1/sqrt(2 pi sigma^2): its log is 1/2 log(2 pi) + log sigma, not 1/2 log(2 pi sigma).",
        ),
        hint_if_equal(
            lambda w: half_log_2pi + math.log(s) + sq / (2 * s),
            "divide the squared distance by 2 sigma^2 (the variance), not by 2 sigma.",
        ),
        hint_if_equal(
            lambda w: half_log_2pi + math.log(s) + sq / s**2,
            "the square term is (x - mu)^2 / (2 sigma^2): the factor 1/2 is missing.",
        ),
        hint_if_equal(
            lambda w: len(x) * w, f"that is the total over the {len(x)} points; the question asks for the mean."
        ),
        hint_if_equal(
            lambda w: 0.5 * math.log(2 * math.pi * s**2) - sq / (2 * s**2),
            "the square term has the wrong sign: -log p = + (x - mu)^2 / (2 sigma^2) + ...",
        ),
    ]
    return compare("Gaussian NLL", read_number(answer), want, rtol=1e-4, hints=hints, unit="nats")


#: Exercise 3: (description, mean NLL of the data under the density, explanation of the sign).
SIGN_CASES: tuple[tuple[str, float, str], ...] = (
    (
        "a: Old Faithful durations in minutes under a flow fitted to them (its density stays below 1 per minute)",
        0.94,
        "densities below 1 almost everywhere, so log p < 0 and the NLL is positive",
    ),
    (
        "b: the same durations in hours, under the same flow rescaled to hours",
        0.94 - math.log(60),
        "in hours the same bumps are 60 times narrower and 60 times taller (above 1), "
        "so the NLL drops by log 60 = 4.09 and turns negative",
    ),
    (
        "c: samples of N(0, 0.1^2) scored under N(0, 0.1^2)",
        0.5 * math.log(2 * math.pi * math.e * 0.01),
        "a narrow Gaussian peaks at 1/(0.1 sqrt(2 pi)) = 3.99 > 1: its NLL (entropy) is 1.419 + log 0.1 = -0.884",
    ),
    (
        "d: samples of Uniform(0, 1) scored under Uniform(0, 1)",
        0.0,
        "the density is exactly 1 on [0, 1], so log p = 0 at every point",
    ),
)


def _sign_word(v: float) -> str:
    return "zero" if abs(v) < 1e-12 else ("negative" if v < 0 else "positive")


@checker("NLL signs")
def check_nll_signs(answer: Sequence[str] | None) -> CheckResult:
    """Exercise 3: 'positive', 'negative' or 'zero' for each case of SIGN_CASES, in order."""
    name = "NLL signs"
    words = read_words(
        answer, len(SIGN_CASES), ("positive", "negative", "zero"), "['positive', 'positive', 'negative', 'zero']"
    )
    wrong = [
        f"case {label[0]}: {why}" for (label, value, why), word in zip(SIGN_CASES, words) if word != _sign_word(value)
    ]
    if wrong:
        return CheckResult(
            name, False, f"❌ {name}: {len(wrong)} of {len(SIGN_CASES)} wrong. Hint: " + "; ".join(wrong) + "."
        )
    return CheckResult(
        name,
        True,
        f"✅ {name}: all {len(SIGN_CASES)} right. The sign of an NLL says whether the "
        "density is mostly above or below 1 where the data are: a statement about units, not about fit.",
    )


@checker("NLL change, minutes to seconds")
def check_unit_change(answer: float | None) -> CheckResult:
    """Exercise 4: by how many nats does the mean NLL change when durations are given in seconds, not minutes?"""
    want = math.log(60)
    hints = [
        hint_if_equal(
            lambda w: np.exp(w),
            "that is the scale factor itself; the NLL changes by its LOG (the log-det of x -> 60 x).",
        ),
        hint_if_equal(
            lambda w: np.exp(-w), "the density is divided by 60, but the NLL changes by the log of the factor."
        ),
        hint_if_equal(
            lambda w: -w,
            "wrong direction: in seconds the density is 60 times LOWER (spread over 60 times more "
            "units), so -log p goes UP by log 60.",
        ),
        hint_if_equal(lambda w: w / math.log(10), "that is log10(60); flows use natural logs (nats)."),
    ]
    return compare("NLL change, minutes to seconds", read_number(answer), want, rtol=1e-4, hints=hints, unit="nats")
