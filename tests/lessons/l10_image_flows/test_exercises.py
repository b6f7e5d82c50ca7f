"""Notebook 10's checkers: right answers pass in the forms a learner writes them, and each plausible wrong answer
gets its own hint."""

import math

import numpy as np
import pytest
import torch

from lessonlib.image_layers import Squeeze
from lessonlib.lessons.l10_image_flows import exercises as E
from lessonlib.lessons.l10_image_flows.exercises import (
    check_conv_log_det,
    check_unsqueeze,
    check_variational_bound,
)

RIGHT_CONV = 16 * (math.log(0.5) + math.log(3.0) + math.log(1.5))
M_EXERCISE = np.array(E.CONV_P) @ np.array(E.CONV_L) @ np.array(E.CONV_U)


def test_check_conv_log_det_accepts_the_answer():
    assert E.conv_log_det() == pytest.approx(RIGHT_CONV) == pytest.approx(12.9749, abs=1e-4)
    M = torch.tensor(E.CONV_P) @ torch.tensor(E.CONV_L) @ torch.tensor(E.CONV_U)
    assert 16 * torch.linalg.slogdet(M)[1].item() == pytest.approx(RIGHT_CONV)  # the formula is the determinant
    for right in (RIGHT_CONV, round(RIGHT_CONV, 3), np.float32(RIGHT_CONV), torch.tensor([RIGHT_CONV])):
        assert check_conv_log_det(right), right
    assert "not attempted" in check_conv_log_det(None).message


@pytest.mark.parametrize(
    "wrong,hint",
    [
        (RIGHT_CONV / 16, "ONE pixel"),
        (3 * RIGHT_CONV / 16, "number of channels"),
        (3 * RIGHT_CONV, "every coordinate"),
        (16 * float(np.sum(np.log(np.abs(np.diagonal(M_EXERCISE))))), "diagonal of M"),
        (16 * (0.5 - 3.0 + 1.5), "LOGS"),
        (math.log(16 * 2.25), "not go inside the log"),
        (2.25**16, "|det J| itself"),
        (-RIGHT_CONV, "density direction"),
        (7.0, "Re-read"),
        ("13", "without quotes"),
    ],
)
def test_check_conv_log_det_explains_wrong_answers(wrong, hint):
    result = check_conv_log_det(wrong)
    assert not result and hint in result.message, result.message


def test_check_unsqueeze_accepts_the_inverse_of_the_library_squeeze():
    def via_library(y):
        b, c4, h2, w2 = y.shape
        flat = Squeeze((c4 // 4, 2 * h2, 2 * w2)).double().forward(y.reshape(b, -1))  # sampling direction
        return flat.reshape(b, c4 // 4, 2 * h2, 2 * w2)

    assert check_unsqueeze(E.unsqueeze_reference)
    assert check_unsqueeze(via_library)
    assert check_unsqueeze(lambda y: E.unsqueeze_reference(y).float())  # float32 is fine
    assert check_unsqueeze(lambda y: E.unsqueeze_reference(y).numpy())  # so is numpy
    x = torch.randn(3, 2, 6, 4, dtype=torch.float64)
    assert torch.equal(E.unsqueeze_reference(E.squeeze_reference(x)), x)
    assert "not attempted" in check_unsqueeze(None).message


def _shuffle(y):
    out = E.unsqueeze_reference(y).clone()
    return out.flip(-1)


@pytest.mark.parametrize(
    "wrong,hint",
    [
        (lambda y: y.reshape(y.shape[0], y.shape[1] // 4, 2 * y.shape[2], 2 * y.shape[3]), "memory order"),
        (E._blocks_transposed, "transposed"),
        (E._channel_last_order, "(dy, dx, c)"),
        (_shuffle, "wrong places"),
        (lambda y: y, "the shape it was given"),
        (lambda y: E.unsqueeze_reference(y).reshape(y.shape[0], -1), "(B, C, H, W)"),
        (lambda y: E.squeeze_reference(y), "shape"),
        (lambda y: None, "forget the return"),
        (lambda y: 1 / 0, "ZeroDivisionError"),
        (3.0, "a function"),
    ],
)
def test_check_unsqueeze_explains_wrong_answers(wrong, hint):
    result = check_unsqueeze(wrong)
    assert not result and hint in result.message, result.message


def test_check_variational_bound_accepts_the_answer():
    want = float(np.mean(np.array(E.LOG_P) - np.array(E.LOG_Q)))
    assert E.variational_bound() == pytest.approx(want) == pytest.approx(-98.95)
    for right in (want, -98.95, np.float32(want), [want]):
        assert check_variational_bound(right), right
    assert "not attempted" in check_variational_bound(None).message


@pytest.mark.parametrize(
    "wrong,hint",
    [
        (float(np.mean(np.array(E.LOG_P) + np.array(E.LOG_Q))), "SUBTRACTS"),
        (float(np.mean(E.LOG_P)), "missing"),
        (98.95, "minus the bound"),
        (-395.8, "summed"),
        (float(np.log(np.mean(np.exp(np.array(E.LOG_P) - np.array(E.LOG_Q))))), "importance-weighted"),
        (-98.95 / (64 * math.log(2)), "bits per dimension"),
        (-50.0, "Re-read"),
        ([1.0, 2.0], "one number"),
    ],
)
def test_check_variational_bound_explains_wrong_answers(wrong, hint):
    result = check_variational_bound(wrong)
    assert not result and hint in result.message, result.message
