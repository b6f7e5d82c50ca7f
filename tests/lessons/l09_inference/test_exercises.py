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


def test_check_reverse_kl_loss_passes_the_right_loss_and_the_two_pass_version():
    assert check_reverse_kl_loss(right)

    def scored_again(flow, log_target, n, generator):  # a second (inverse) pass gives the same value and gradient
        x = flow.sample(n, generator)
        return (flow.log_prob(x) - log_target(x)).mean()

    assert check_reverse_kl_loss(scored_again)


def test_check_reverse_kl_loss_explains_the_plausible_mistakes():
    def flipped(flow, log_target, n, generator):
        return -right(flow, log_target, n, generator)

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

    def other_samples(flow, log_target, n, generator):  # ignores the generator: the global one draws
        x, log_q = flow.sample_and_log_prob(n)
        return (log_q - log_target(x)).mean()

    torch.manual_seed(0)
    assert "wrong sign" in check_reverse_kl_loss(flipped).message
    assert "left out log q" in check_reverse_kl_loss(without_log_q).message
    assert "mean" in check_reverse_kl_loss(summed).message
    assert "one number per sample" in check_reverse_kl_loss(per_sample).message
    assert "gradient is not" in check_reverse_kl_loss(detached).message
    assert "same samples" in check_reverse_kl_loss(other_samples).message
    assert "raised" in check_reverse_kl_loss(lambda *a: a[0].nonexistent()).message
    assert (
        "forget the return" in check_reverse_kl_loss(lambda *a: None).message
    )  # an attempt: "not attempted" is None itself


def test_check_dropped_mode_kl():
    assert check_dropped_mode_kl(math.log(2))
    assert "HALF" in check_dropped_mode_kl(0.0).message
    assert "mass" in check_dropped_mode_kl(0.5).message
    assert "FORWARD" in check_dropped_mode_kl(50.0).message
    assert "bits" in check_dropped_mode_kl(1.0).message
    assert "wrong sign" in check_dropped_mode_kl(-math.log(2)).message
    assert "not attempted" in check_dropped_mode_kl(None).message
