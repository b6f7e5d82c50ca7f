"""Exercise checkers for notebook 09 (flows for inference): importance weights, the reverse-KL loss, which pass
is cheap, and what mode-seeking costs."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

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
    failed,
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
    "N_SAMPLES",
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


#: The samples the checker asks the learner's loss for: enough to tell the flow's samples from others by their
#: mean and spread in z, with a margin of about ten standard errors.
N_SAMPLES = 2000
_USE = "a function loss(flow, log_target, n, generator)"
_DRAW = (
    "flow.sample_and_log_prob(n, generator) gives x and log q(x) together; or draw z with "
    "flow.base_sample(n, generator) (or torch.randn(n, 2, generator=generator)) and push it through "
    "flow.bijector.forward_and_log_det(z)"
)


class _Recorded:
    """log_target, remembering the points it was asked about: the samples the learner's loss used."""

    def __init__(self):
        self.points: list[Tensor] = []

    def __call__(self, x):
        self.points.append(torch.as_tensor(np.asarray(x.detach() if isinstance(x, Tensor) else x, dtype=np.float64)))
        return _exercise_target(x)


@dataclass
class _Run:
    """One call of the learner's loss on a fresh exercise flow: its value, its samples, its gradient."""

    loss: Tensor
    x: Tensor | None
    grads: list[Tensor | None]


def _run(fn, seed: int) -> _Run:
    """fn(flow, log_target, N_SAMPLES, generator seeded with ``seed``), without touching torch's global random state.

    A non-function, an exception it raises and a missing return become an AnswerProblem (feedback), as does a
    result that is not a torch tensor of one number.
    """
    flow, target = _exercise_flow(), _Recorded()
    try:
        with torch.random.fork_rng(devices=[]):
            loss = call(fn, flow, target, N_SAMPLES, torch.Generator().manual_seed(seed), what=_USE)
    except AnswerProblem as problem:
        if "sample()" in str(problem):  # flow.base.sample(n, generator): torch's distributions take no generator
            raise AnswerProblem(
                f"{str(problem).rstrip('.')}. flow.base is a torch distribution, whose sample() takes no generator "
                f"(it draws from torch's global random state): {_DRAW}."
            ) from None
        raise
    if not isinstance(loss, Tensor):
        raise AnswerProblem(
            f"your function returned {describe(loss)}; return the loss as a torch tensor, so that its "
            "gradient can reach the flow's parameters."
        )
    if loss.numel() == N_SAMPLES:
        raise AnswerProblem("you returned one number per sample; the loss is their MEAN (a scalar).")
    if loss.numel() != 1:
        raise AnswerProblem(f"the loss must be one number (a scalar tensor), got shape {tuple(loss.shape)}.")
    if loss.requires_grad:
        try:
            loss.reshape(()).backward()
        except Exception as e:  # noqa: BLE001 - the learner's graph: report it as theirs
            raise AnswerProblem(f"the gradient of your loss could not be computed ({type(e).__name__}: {e}).") from None
    return _Run(
        loss.detach().reshape(()), target.points[0] if target.points else None, [p.grad for p in flow.parameters()]
    )


def _reference(x: Tensor) -> tuple[Tensor, list[Tensor]]:
    """The loss on the samples x = f(z) the learner drew, and its gradient through them (z held fixed)."""
    flow = _exercise_flow()
    z = flow.bijector.inverse(x).detach()
    x_again, log_det = flow.bijector.forward_and_log_det(z)
    loss = (flow.base.log_prob(z) - log_det - _exercise_target(x_again)).mean()
    loss.backward()
    return loss.detach(), [p.grad for p in flow.parameters()]


def _normal(z: Tensor) -> bool:
    """Do these N_SAMPLES points look like N(0, I)? Mean within 0.25 and variance within 0.3 of it: about ten
    standard errors each, so the flow's own samples always pass and the mistakes below never do."""
    return bool((z.mean(0).abs() < 0.25).all() and ((z.var(0) - 1).abs() < 0.3).all())


def _samples_problem(fn, first: _Run) -> str | None:
    """What is wrong with where the learner's samples came from: not from the generator given, or not from q."""
    x = first.x
    if x is None:
        return (
            "your loss never called log_target: the loss is the mean of log q(x) - log p~(x), and log p~(x) is "
            "log_target(x), on the flow's samples."
        )
    if tuple(x.shape) != (N_SAMPLES, 2):
        return (
            f"log_target was given shape {tuple(x.shape)}, but the checker asked for n = {N_SAMPLES} samples: "
            f"score n samples of the flow, shape (n, 2)."
        )
    again, other = _run(fn, 9), _run(fn, 10)
    if again.x is None or not torch.equal(again.x, x) or not torch.equal(again.loss, first.loss):
        return (
            "your function gives other samples for the same generator: draw every random number with the generator "
            f"you are given, so a run can be repeated: {_DRAW}."
        )
    if other.x is not None and torch.equal(other.x, x):
        return (
            "your samples do not change with the generator you are given: they come from a generator of your own, "
            f"or from torch's global one. Draw with the one you are given: {_DRAW}."
        )
    flow = _exercise_flow()
    with torch.no_grad():
        if _normal(flow.bijector.inverse(x)):
            return None
        if _normal(flow.bijector.forward(x)):
            return (
                "your samples went through the inverse, x = f^-1(z): the flow's samples are x = f(z), the forward "
                "(sampling) pass, flow.bijector.forward_and_log_det(z)."
            )
    if _normal(x):
        return "your samples are draws of the base p_Z, not of the flow: push them through it, x = f(z)."
    return f"your samples are not samples of the flow q: {_DRAW}."


@checker("reverse-KL loss")
def check_reverse_kl_loss(fn: Callable) -> CheckResult:
    """fn(flow, log_target, n, generator) should return mean(log q(x) - log p~(x)) over n samples x ~ q drawn with
    ``generator``, with gradients through the samples. Judged on the learner's own samples: any correct way of
    drawing them passes."""
    name = "reverse-KL loss"
    first = _run(fn, 9)
    problem = _samples_problem(fn, first)
    if problem:
        return failed(name, problem)
    want, want_grads = _reference(first.x)
    verdict = compare(name, first.loss, want, hints=_loss_hints(first.x), rtol=1e-9, atol=1e-9, unit="nats")
    if not verdict:
        return verdict
    if any(g is None for g in first.grads) or not all(torch.allclose(g, h) for g, h in zip(first.grads, want_grads)):
        return failed(
            name,
            "the value is right but the gradient is not: it must flow through the samples x = f(z) into the "
            "flow's parameters. Do not detach x or compute it under torch.no_grad(), and draw it with the forward "
            "pass (flow.sample_and_log_prob(n, generator)).",
        )
    return verdict


def _loss_hints(x: Tensor) -> list:
    """The plausible mistakes, as values on the learner's own samples x."""
    flow = _exercise_flow()
    with torch.no_grad():
        z, log_det = flow.bijector.inverse_and_log_det(x)  # log_det = log|det J_{f^-1}(x)| = -log|det J_f(z)|
        log_p, log_q = _exercise_target(x), flow.log_prob(x)
        terms = log_q - log_p
    se = float(terms.std() / math.sqrt(len(terms)))
    return [
        hint_if(
            _near(float(-log_p.mean())),
            "you left out log q(x). Without it the loss is lowest when every sample sits on "
            "the peak of p~: -E[log q] (the entropy of q) is the term that keeps q spread out.",
        ),
        hint_if(
            _near(float(terms.sum())), "you summed over the samples; take the mean, so the loss does not grow with n."
        ),
        hint_if(
            _near(float((flow.base.log_prob(z) - log_det - log_p).mean())),
            "the log-det has the wrong sign: log q(x) = log p_Z(z) MINUS log|det J_f(z)|, the log-det that "
            "forward_and_log_det returns with x (sample_and_log_prob does this for you).",
        ),
        hint_if(
            _near(float((flow.base.log_prob(x) + log_det - log_p).mean())),
            "you scored x with the base density: log p_Z takes z, the point x came from, not x itself.",
        ),
        hint_if(
            lambda g, w: g.size == 1 and abs(float(g) - float(w)) < 3 * se,
            "close to the loss on your samples, but not equal: compute log q(x) and log p~(x) on the same samples "
            "(one call of flow.sample_and_log_prob(n, generator) gives x and log q(x) together).",
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
