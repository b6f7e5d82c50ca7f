"""Exercise checkers for notebook 09 (flows for inference): importance weights, the reverse-KL loss, which pass
is cheap, and what mode-seeking costs."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from lessonlib.bijectors import Affine
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
from lessonlib.flows import Flow, standard_normal
from lessonlib.inputs import describe
from lessonlib.lessons.l09_inference.experiments import effective_sample_size, log_evidence

__all__ = [
    "LOG_WEIGHTS",
    "check_log_evidence",
    "check_ess",
    "check_reverse_kl_passes",
    "check_reverse_kl_loss",
    "check_dropped_mode_kl",
]

#: log w_i = log p~(x_i) - log q(x_i) for five samples x_i of a flow q: the data of exercises 1 and 2
LOG_WEIGHTS = (-1.2, -0.4, -2.0, -0.9, -3.1)


def _near(value: float) -> Callable[[np.ndarray, np.ndarray], bool]:
    return lambda g, w: g.size == 1 and abs(float(g) - value) < 1e-3


@checker("log Z by importance weighting")
def check_log_evidence(answer) -> CheckResult:
    """log Z estimate from LOG_WEIGHTS: log((1/n) sum_i exp(log w_i))."""
    answer = read_number(answer)
    lw = np.array(LOG_WEIGHTS)
    want = log_evidence(torch.tensor(lw))
    hints = [
        hint_if(
            _near(float(lw.mean())),
            "that is the mean of the log-weights: the ELBO, a LOWER bound on log Z "
            "(Jensen). Average the weights themselves, then take the log.",
        ),
        hint_if(
            _near(float(np.log(np.exp(lw).sum()))),
            "you summed the weights; the estimate is their MEAN, so subtract log n (n = 5).",
        ),
        hint_if(
            _near(float(np.exp(lw).mean())),
            "that is the mean weight, an estimate of Z itself; the question asks for log Z.",
        ),
        hint_if(
            _near(float(lw.max())), "that keeps only the largest weight; every sample's weight counts in the mean."
        ),
    ]
    return compare("log Z by importance weighting", answer, want, hints=hints, rtol=1e-4, atol=1e-4, unit="nats")


@checker("effective sample size")
def check_ess(answer) -> CheckResult:
    """Effective sample size of LOG_WEIGHTS: (sum w)^2 / sum w^2."""
    answer = read_number(answer)
    w = np.exp(np.array(LOG_WEIGHTS))
    want = effective_sample_size(torch.tensor(LOG_WEIGHTS))
    hints = [
        hint_if(
            _near(float(len(w))),
            "that is n, the number of samples; unequal weights make them worth fewer. Use (sum w)^2 / sum w^2.",
        ),
        hint_if(_near(want / len(w)), "that is the ESS as a FRACTION of n; the question asks for the number itself."),
        hint_if(
            _near(float((w**2).sum() / w.sum() ** 2)),
            "you inverted it: the ESS is (sum w)^2 / sum w^2, between 1 and n.",
        ),
        hint_if(
            _near(float(1 / (w**2).sum())),
            "1 / sum w^2 holds only for weights normalised to sum to 1: "
            "normalise them first, or use (sum w)^2 / sum w^2.",
        ),
    ]
    return compare("effective sample size", answer, want, hints=hints, rtol=1e-4, atol=1e-4)


def _entry_is(index: int, value: int, message: str):
    """A hint for a (MAF, IAF) pair whose entry ``index`` is ``value``."""
    return hint_if(lambda g, w: g.size == 2 and g[index] == value, message)


@checker("passes to sample and score (MAF, IAF)")
def check_reverse_kl_passes(answer) -> CheckResult:
    """(MAF passes, IAF passes) to draw a batch and score it with one layer on 6 coordinates: (6, 1)."""
    answer = read_array(answer)
    swapped = hint_if_equal(
        lambda w: w[::-1],
        "you swapped them: IAF computes its scales from z, known before the "
        "pass (one pass); MAF computes them from x, which sampling builds one coordinate at a time.",
    )
    return compare(
        "passes to sample and score (MAF, IAF)",
        answer,
        [6, 1],
        hints=[
            swapped,
            _entry_is(
                0,
                7,
                "MAF's sampling pass already produced every log-scale s_i, so log q(x) = log p_Z(z) - sum s_i "
                "comes with the samples: no extra density pass.",
            ),
            _entry_is(
                1,
                6,
                "IAF's scales come from z, all known at once: its sampling pass is one pass. It is scoring "
                "OTHER points x (data) that costs IAF D passes.",
            ),
            _entry_is(
                0,
                1,
                "MAF cannot sample in one pass: coordinate i needs the scale computed from coordinates "
                "1..i-1 of the sample, which do not exist until they are drawn.",
            ),
            _entry_is(
                0,
                256,
                "the batch size does not matter: all 256 samples go through each pass together. The count "
                "depends on the dimension.",
            ),
        ],
    )


def _exercise_flow() -> Flow:
    """A fixed 2D flow in float64: N(0, I) pushed through x = (0.8, 1.5) * z + (0.3, -0.2)."""
    return Flow(
        standard_normal(2, torch.float64),
        Affine(torch.tensor([0.8, 1.5], dtype=torch.float64), torch.tensor([0.3, -0.2], dtype=torch.float64)),
    )


def _exercise_target(x: Tensor) -> Tensor:
    """log p~ of a correlated Gaussian, unnormalised. Shapes: (B, 2) -> (B,)."""
    return -0.5 * (x[:, 0] ** 2 + (x[:, 1] - 0.5 * x[:, 0]) ** 2 / 0.25)


def _loss_and_grads(fn, n: int = 64) -> tuple[Tensor, list[Tensor | None]]:
    """The loss ``fn`` gives on the exercise's flow and target, and the gradient it sends to the flow's parameters.

    The learner's function is called through ``lessonlib.checks.call``: a non-function, an exception it raises and a
    missing return become an AnswerProblem (feedback), as does a result that is not a torch tensor.
    """
    flow = _exercise_flow()
    loss = call(
        fn,
        flow,
        _exercise_target,
        n,
        torch.Generator().manual_seed(9),
        what="a function loss(flow, log_target, n, generator)",
    )
    if not isinstance(loss, Tensor):
        raise AnswerProblem(
            f"your function returned {describe(loss)}; return the loss as a torch tensor, so that its "
            "gradient can reach the flow's parameters."
        )
    if loss.numel() == 1 and loss.requires_grad:
        try:
            loss.reshape(()).backward()
        except Exception as e:  # noqa: BLE001 - the learner's graph: report it as theirs
            raise AnswerProblem(f"the gradient of your loss could not be computed ({type(e).__name__}: {e}).") from None
    return loss.detach(), [p.grad for p in flow.parameters()]


def _reference(flow: Flow, log_target, n: int, generator: torch.Generator) -> Tensor:
    x, log_q = flow.sample_and_log_prob(n, generator)
    return (log_q - log_target(x)).mean()


@checker("reverse-KL loss")
def check_reverse_kl_loss(fn: Callable) -> CheckResult:
    """fn(flow, log_target, n, generator) should return mean(log q(x) - log p~(x)) over x ~ q, with gradients
    through the samples."""
    name = "reverse-KL loss"
    want, want_grads = _loss_and_grads(_reference)
    got, grads = _loss_and_grads(fn)
    if got.numel() == 64:
        return CheckResult(
            name, False, f"❌ {name}: you returned one number per sample; the loss is their MEAN (a scalar)."
        )
    verdict = compare(name, got, want, hints=_loss_hints(), rtol=1e-9, atol=1e-9, unit="nats")
    if not verdict:
        return verdict
    if any(g is None for g in grads) or not all(torch.allclose(g, h) for g, h in zip(grads, want_grads)):
        return CheckResult(
            name,
            False,
            f"❌ {name}: the value is right but the gradient is not: it must flow through "
            "the samples x = f(z) into the flow's parameters. Do not detach x or compute it under "
            "torch.no_grad(); draw it with flow.sample_and_log_prob(n, generator).",
        )
    return verdict


def _loss_hints() -> list:
    flow = _exercise_flow()
    with torch.no_grad():
        x, log_q = flow.sample_and_log_prob(64, torch.Generator().manual_seed(9))
        terms = log_q - _exercise_target(x)
    without_q = float(-_exercise_target(x).mean())
    summed, se = float(terms.sum()), float(terms.std() / 8)  # 8 = sqrt(64 samples)
    return [
        hint_if(
            _near(without_q),
            "you left out log q(x). Without it the loss is lowest when every sample sits on "
            "the peak of p~: -E[log q] (the entropy of q) is the term that keeps q spread out.",
        ),
        hint_if(_near(summed), "you summed over the samples; take the mean, so the loss does not grow with n."),
        hint_if(
            lambda g, w: g.size == 1 and abs(float(g) - float(w)) < 3 * se,
            "close, but not from the same samples: draw them with flow.sample_and_log_prob(n, generator), "
            "using the generator you are given.",
        ),
    ]


@checker("KL(q || p) for a dropped mode")
def check_dropped_mode_kl(answer) -> CheckResult:
    """KL(q || p) when p is two equal, far-apart modes and q is exactly one of them: log 2."""
    answer = read_number(answer)
    want = math.log(2)
    hints = [
        hint_if(
            _near(0.0),
            "q matches the shape of its mode, but p there is only HALF as high as q (p puts half "
            "its mass on each mode): log q(x) - log p(x) = log 2 at every sample of q.",
        ),
        hint_if(_near(0.5), "0.5 is the mass p puts on the dropped mode; KL is in nats: E_q[log q - log p]."),
        hint_if(
            lambda g, w: g.size == 1 and float(g) > 5,
            "a huge value is what FORWARD KL(p || q) gives here: "
            "p's samples on the dropped mode have q(x) near 0. Reverse KL only looks where q has samples.",
        ),
        hint_if(_near(1.0), "in nats, not bits: the answer is log 2 with the natural logarithm."),
    ]
    return compare("KL(q || p) for a dropped mode", answer, want, hints=hints, rtol=1e-3, atol=1e-3, unit="nats")
