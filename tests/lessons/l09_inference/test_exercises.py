"""Notebook 09's exercise checkers: the right answers pass, the plausible wrong answers get their hint."""

import math

import numpy as np
import torch

from lessonlib.lessons.l09_inference.exercises import (
    LOG_WEIGHTS,
    check_dropped_mode_kl,
    check_ess,
    check_log_evidence,
    check_reverse_kl_loss,
    check_reverse_kl_passes,
)

LW = np.array(LOG_WEIGHTS)
W = np.exp(LW)


def test_check_log_evidence():
    assert check_log_evidence(float(np.log(W.mean())))
    assert "ELBO" in check_log_evidence(float(LW.mean())).message
    assert "subtract log n" in check_log_evidence(float(np.log(W.sum()))).message
    assert "Z itself" in check_log_evidence(float(W.mean())).message
    assert "largest weight" in check_log_evidence(float(LW.max())).message
    assert "not attempted" in check_log_evidence(None).message


def test_check_ess():
    assert check_ess(float(W.sum() ** 2 / (W**2).sum()))
    assert "number of samples" in check_ess(5).message
    assert "FRACTION" in check_ess(float(W.sum() ** 2 / (W**2).sum() / 5)).message
    assert "inverted" in check_ess(float((W**2).sum() / W.sum() ** 2)).message
    assert "normalised" in check_ess(float(1 / (W**2).sum())).message
    assert "not attempted" in check_ess(None).message


def test_check_reverse_kl_passes():
    assert check_reverse_kl_passes((6, 1))
    assert "swapped" in check_reverse_kl_passes((1, 6)).message
    assert "no extra density pass" in check_reverse_kl_passes((7, 1)).message
    assert "one pass" in check_reverse_kl_passes((6, 6)).message
    assert "cannot sample in one pass" in check_reverse_kl_passes((1, 1)).message
    assert "batch size" in check_reverse_kl_passes((256, 1)).message
    assert "not attempted" in check_reverse_kl_passes(None).message


def right(flow, log_target, n, generator):
    x, log_q = flow.sample_and_log_prob(n, generator)
    return (log_q - log_target(x)).mean()


def recipe(flow, log_target, n, generator, dtype=torch.float32, direction="forward_and_log_det", sign=-1):
    """The notebook's recipe: z from the generator, pushed through the flow, scored with the forward log-det."""
    z = torch.randn(n, 2, generator=generator, dtype=dtype)
    x, log_det = getattr(flow.bijector, direction)(z)
    return (flow.base.log_prob(z) + sign * log_det - log_target(x)).mean()


def test_check_reverse_kl_loss_passes_every_correct_construction():
    def scored_again(flow, log_target, n, generator):  # a second (inverse) pass gives the same value and gradient
        x = flow.sample(n, generator)
        return (flow.log_prob(x) - log_target(x)).mean()

    def base_sample(flow, log_target, n, generator):
        x, log_det = flow.bijector.forward_and_log_det(flow.base_sample(n, generator))
        return (flow.log_prob(x) - log_target(x)).mean()

    for fn in (
        right,
        scored_again,
        base_sample,
        recipe,
        lambda *a: recipe(*a, dtype=torch.float64),
        lambda *a: right(*a).reshape(1),  # a loss of shape (1,)
        lambda f, t, n, g: (lambda x, lq: (lq - t(x)).sum() / n)(*f.sample_and_log_prob(n, g)),
    ):
        result = check_reverse_kl_loss(fn)
        assert result, result.message


def test_check_reverse_kl_loss_explains_the_plausible_mistakes():
    def without_log_q(flow, log_target, n, generator):
        return -log_target(flow.sample(n, generator)).mean()

    def summed(flow, log_target, n, generator):
        x, log_q = flow.sample_and_log_prob(n, generator)
        return (log_q - log_target(x)).sum()

    def per_sample(flow, log_target, n, generator):
        x, log_q = flow.sample_and_log_prob(n, generator)
        return log_q - log_target(x)

    def detached(flow, log_target, n, generator):  # right value, no gradient through the samples
        x = flow.sample(n, generator).detach()
        return (flow.log_prob(x) - log_target(x)).mean()

    def global_generator(flow, log_target, n, generator):  # ignores the generator: the global one draws
        x, log_q = flow.sample_and_log_prob(n)
        return (log_q - log_target(x)).mean()

    def two_batches(flow, log_target, n, generator):  # log q of other samples than the ones scored by p~
        x, _ = flow.sample_and_log_prob(n, generator)
        return (flow.sample_and_log_prob(n, generator)[1] - log_target(x)).mean()

    def base_draws(flow, log_target, n, generator):  # samples of p_Z, never pushed through the flow
        z = torch.randn(n, 2, generator=generator)
        return (flow.base.log_prob(z) - log_target(z)).mean()

    def base_sample_with_generator(flow, log_target, n, generator):
        return flow.base.sample(n, generator).sum()

    state = torch.get_rng_state()
    for fn, words in (
        (lambda *a: -right(*a), "wrong sign"),
        (lambda *a: recipe(*a, sign=1), "log-det has the wrong sign"),
        (lambda *a: recipe(*a, direction="inverse_and_log_det"), "through the inverse"),
        (without_log_q, "left out log q"),
        (summed, "mean"),
        (per_sample, "one number per sample"),
        (detached, "gradient is not"),
        (global_generator, "do not change with the generator"),
        (lambda f, t, n, g: right(f, t, n, torch.Generator().manual_seed(123)), "do not change with the generator"),
        (two_batches, "same samples"),
        (base_draws, "draws of the base"),
        (base_sample_with_generator, "takes no generator"),
        (lambda f, t, n, g: right(f, t, 64, g), "n = 2000"),
        (lambda f, t, n, g: -f.log_prob(f.sample(n, g).detach()).mean(), "never called log_target"),
        (lambda *a: a[0].nonexistent(), "raised"),
        (lambda *a: None, "forget the return"),  # an attempt: "not attempted" is None itself
    ):
        result = check_reverse_kl_loss(fn)
        assert not result and words in result.message, result.message
    assert torch.equal(torch.get_rng_state(), state)  # the checker leaves torch's global random state alone


def test_check_dropped_mode_kl():
    assert check_dropped_mode_kl(math.log(2))
    assert "HALF" in check_dropped_mode_kl(0.0).message
    assert "mass" in check_dropped_mode_kl(0.5).message
    assert "FORWARD" in check_dropped_mode_kl(50.0).message
    assert "bits" in check_dropped_mode_kl(1.0).message
    assert "wrong sign" in check_dropped_mode_kl(-math.log(2)).message
    assert "not attempted" in check_dropped_mode_kl(None).message
