"""Notebook 03's exercise checkers: the right answers pass, the typical wrong answers get their hint."""

import math

import numpy as np
import pytest
import torch

from lessonlib.lessons.l03_likelihood import exercises as ex


def _wrong_losses():
    def right(flow, x):
        z, ld = flow.bijector.inverse_and_log_det(x)
        return -(flow.base.log_prob(z) + ld).mean()

    def sign_logdet(flow, x):
        z, ld = flow.bijector.inverse_and_log_det(x)
        return -(flow.base.log_prob(z) - ld).mean()

    def missing(flow, x):
        z, _ = flow.bijector.inverse_and_log_det(x)
        return -flow.base.log_prob(z).mean()

    def summed(flow, x):
        z, ld = flow.bijector.inverse_and_log_det(x)
        return -(flow.base.log_prob(z) + ld).sum()

    def flipped(flow, x):
        return -right(flow, x)

    def per_point(flow, x):
        z, ld = flow.bijector.inverse_and_log_det(x)
        return -(flow.base.log_prob(z) + ld)

    def detached(flow, x):
        return torch.tensor(right(flow, x).item())

    return right, sign_logdet, missing, summed, flipped, per_point, detached


def test_check_nll_loss():
    right, sign_logdet, missing, summed, flipped, per_point, detached = _wrong_losses()
    assert "not attempted" in ex.check_nll_loss(None).message
    ok = ex.check_nll_loss(right)
    assert ok and "gradient" in ok.message
    for fn, words in [
        (sign_logdet, "wrong sign"),
        (missing, "log-det term is missing"),
        (summed, "summed"),
        (flipped, "the mean log-likelihood itself"),
        (per_point, "one number per point"),
        (detached, "not a torch tensor"),
    ]:
        r = ex.check_nll_loss(fn)
        assert not r and words in r.message, (fn.__name__, r.message)
    assert "raised ZeroDivisionError" in ex.check_nll_loss(lambda flow, x: 1 / 0).message


def test_check_nll_loss_odd_returns_and_float32():
    right = _wrong_losses()[0]
    assert ex.check_nll_loss(lambda flow, x: right(flow, x).float())  # right to float32's precision
    assert ex.check_nll_loss(lambda flow, x: right(flow, x).reshape(1))  # one number, as train's loss_fn takes it
    cases = [
        (lambda flow, x: None, "did you forget the return"),
        (lambda flow, x: right(flow, x).detach().numpy(), "not a torch tensor"),
        (lambda flow: 0.0, "raised TypeError"),
        (lambda flow, x: "nll", "got the text 'nll'"),
        (lambda flow, x: right(flow, x) * float("nan"), "NaN"),
        (lambda flow, x: right(flow, x).expand(2), "shape (2,)"),
        (3.0, "expected a function nll_loss(flow, x)"),
    ]
    for fn, words in cases:
        r = ex.check_nll_loss(fn)
        assert not r and words in r.message and "not attempted" not in r.message, (words, r.message)


def test_check_gaussian_nll():
    x, mu, s = np.array(ex.GAUSSIAN_DATA), ex.GAUSSIAN_MU, ex.GAUSSIAN_SIGMA
    want = ex.gaussian_nll_reference()
    direct = -np.mean(-0.5 * np.log(2 * np.pi * s**2) - (x - mu) ** 2 / (2 * s**2))
    assert want == pytest.approx(direct, rel=1e-12)
    assert ex.check_gaussian_nll(want)
    sq = np.mean((x - mu) ** 2)
    cases = [
        (want - 0.5 * math.log(2 * math.pi), "1/2 log(2 pi)"),
        (want - math.log(s), "log sigma"),
        (0.5 * math.log(2 * math.pi) + math.log(s) + sq / (2 * s), "not by 2 sigma"),
        (0.5 * math.log(2 * math.pi * s) + sq / (2 * s**2), "not 1/2 log(2 pi sigma)"),
        (0.5 * math.log(2 * math.pi) + math.log(s) + sq / s**2, "factor 1/2"),
        (4 * want, "mean"),
        (-want, "sign"),
        (0.5 * math.log(2 * math.pi * s**2) - sq / (2 * s**2), "wrong sign"),
    ]
    for got, words in cases:
        r = ex.check_gaussian_nll(got)
        assert not r and words in r.message, (got, r.message)
    r = ex.check_gaussian_nll(round(want, 2))
    assert not r and "Right idea, give more digits" in r.message and "Re-read" not in r.message
    r = ex.check_gaussian_nll(round(want - 0.5 * math.log(2 * math.pi), 3))  # a known mistake, rounded
    assert not r and "1/2 log(2 pi)" in r.message and "give more digits too" in r.message
    assert ex.check_gaussian_nll(torch.tensor(want, dtype=torch.float32))


def test_check_nll_signs():
    words = ["positive", "negative", "negative", "zero"]
    assert ex.check_nll_signs(words)
    r = ex.check_nll_signs(["positive", "positive", "positive", "positive"])
    assert not r and "3 of 4" in r.message and "log 60" in r.message and "exactly 1" in r.message
    assert "list of 4" in ex.check_nll_signs("negative").message
    assert "use the words" in ex.check_nll_signs(["pos", "neg", "neg", "0"]).message
    assert ex.check_nll_signs(("Positive", "NEGATIVE ", "negative", "zero"))
    for odd in (5, float("nan"), True, {"a": "positive"}, lambda: 0):  # these raised a TypeError once
        r = ex.check_nll_signs(odd)
        assert not r and "list of 4 words" in r.message, r.message
    assert "use the words" in ex.check_nll_signs([1, -1, -1, 0]).message
    for _, value, _ in ex.SIGN_CASES:
        assert math.isfinite(value)


def test_check_unit_change():
    assert ex.check_unit_change(math.log(60))
    for got, words in [
        (60.0, "LOG"),
        (1 / 60, "log of the factor"),
        (-math.log(60), "wrong direction"),
        (math.log10(60), "log10"),
        (4.09, "Right idea, give more digits"),
        (-4.09, "wrong direction"),
        (1.78, "log10"),
    ]:
        r = ex.check_unit_change(got)
        assert not r and words in r.message, (got, r.message)
