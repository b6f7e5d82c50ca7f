"""Notebook 05's exercise checkers: right answers pass, the typical wrong answers get the right hint."""

import math

import numpy as np
import pytest
import torch

from lessonlib.bijectors import Affine, Chain
from lessonlib.flows import Flow, standard_normal
from lessonlib.lessons.l05_stacking.exercises import (
    DEEPER_PANEL,
    FORWARD_LOG_DETS,
    LOG_PZ,
    check_keep_mask,
    check_masks_cover,
    check_more_layers,
    check_own_stack,
    check_two_layer_log_prob,
    two_layer_log_prob,
)

A, B = FORWARD_LOG_DETS


def test_two_layer_log_prob_reference_matches_a_real_chain():
    """The formula the checker uses is what a real two-layer flow computes."""
    f1, f2 = Affine(math.exp(A), 0.3, learnable=False), Affine(math.exp(B), -1.0, learnable=False)
    flow = Flow(standard_normal(1), Chain(f1, f2))
    z = torch.tensor([[0.4]])
    x = f2(f1(z))
    want = standard_normal(1).log_prob(z) - A - B
    assert torch.allclose(flow.log_prob(x), want)
    assert two_layer_log_prob(float(standard_normal(1).log_prob(z)), (A, B)) == pytest.approx(float(want))


def test_check_two_layer_log_prob_not_attempted_and_right():
    assert "not attempted" in check_two_layer_log_prob(None).message
    assert check_two_layer_log_prob(LOG_PZ - A - B)
    assert check_two_layer_log_prob(round(LOG_PZ - A - B, 3))  # rounded to 3 decimals is fine
    assert check_two_layer_log_prob(torch.tensor([LOG_PZ - A - B], dtype=torch.float32))
    assert "one number" in check_two_layer_log_prob([LOG_PZ, A, B]).message
    assert "subtract them" in check_two_layer_log_prob(round(LOG_PZ + A + B, 1)).message


@pytest.mark.parametrize(
    "wrong, words",
    [
        (LOG_PZ + A + B, "subtract them"),
        (LOG_PZ - A * B, "logarithms add"),
        (LOG_PZ - A, "only layer 1"),
        (LOG_PZ - B, "only layer 2"),
        (LOG_PZ - A + B, "same sign"),
        (LOG_PZ + A - B, "same sign"),
        (math.exp(LOG_PZ - A - B), "density p_X(x) itself"),
        (LOG_PZ - math.exp(A + B), "instead of its log"),
        (LOG_PZ, "forgot the Jacobian"),
    ],
)
def test_check_two_layer_log_prob_names_typical_mistakes(wrong, words):
    res = check_two_layer_log_prob(wrong)
    assert not res and words in res.message, res.message


def test_check_keep_mask():
    assert "not attempted" in check_keep_mask(None).message
    assert check_keep_mask([1, 1, 0, 0])
    assert check_keep_mask(torch.tensor([1.0, 1.0, 0.0, 0.0]))
    assert "swapped the meaning" in check_keep_mask([0, 0, 1, 1]).message
    assert "wrong places" in check_keep_mask([1, 0, 1, 0]).message
    assert "identity" in check_keep_mask([1, 1, 1, 1]).message
    assert "nothing left to condition" in check_keep_mask([0, 0, 0, 0]).message
    assert "one entry per coordinate" in check_keep_mask([1, 0]).message
    assert "zeros and ones, got the text '1100'" in check_keep_mask("1100").message
    assert check_keep_mask([True, True, False, False]) and check_keep_mask(np.array([1, 1, 0, 0]))
    assert "must be 1" in check_keep_mask([1, float("nan"), 0, 0]).message


def test_check_masks_cover():
    assert "not attempted" in check_masks_cover(None).message
    assert check_masks_cover([[1, 1, 0, 0], [0, 0, 1, 1]])
    assert check_masks_cover([[1, 0, 1, 0], [0, 1, 0, 1]])
    same = check_masks_cover([[1, 1, 0, 0], [1, 1, 0, 0]])
    assert not same and "same mask" in same.message and "coordinates 1 and 2 are" in same.message  # counted from 1
    several = check_masks_cover([[1, 0, 1, 1], [1, 0, 1, 1]]).message
    assert "coordinates 1, 3 and 4 are never transformed: stacking adds nothing for them" in several
    single = check_masks_cover([[1, 0, 0, 0], [1, 0, 0, 0]]).message
    assert "coordinate 1 is never transformed: stacking adds nothing for it." in single
    partial = check_masks_cover([[1, 0, 1, 0], [1, 1, 0, 0]])
    assert not partial and "coordinate 1 is kept" in partial.message
    assert check_masks_cover(m for m in [[1, 1, 0, 0], [0, 0, 1, 1]])  # any iterable of masks
    assert check_masks_cover({"a": [1, 1, 0, 0], "b": [0, 0, 1, 1]}.values())
    assert "more than 1,000,000" in check_masks_cover(range(10**20)).message
    assert "exactly 2 masks" in check_masks_cover([[1, 1, 0, 0]]).message
    assert "mask 2" in check_masks_cover([[1, 1, 0, 0], [1, 1, 1, 1]]).message
    assert "list of 2 masks" in check_masks_cover(3).message
    assert check_masks_cover(torch.tensor([[1, 1, 0, 0], [0, 0, 1, 1]]))
    for odd in ({"a": [1, 1, 0, 0]}, "1100 0011", torch.tensor(1.0), np.float32(1.0)):
        r = check_masks_cover(odd)
        assert not r and "list of 2 masks" in r.message, r.message
    assert "mask 1: each mask needs one entry per coordinate" in check_masks_cover([[1, 1], [0, 0, 1, 1]]).message


def test_check_more_layers():
    other = "A" if DEEPER_PANEL == "B" else "B"
    assert "not attempted" in check_more_layers(None).message
    assert check_more_layers(DEEPER_PANEL)
    assert check_more_layers(DEEPER_PANEL.lower() + " ")
    wrong = check_more_layers(other)
    assert not wrong and "one Gaussian bump" in wrong.message
    # the hint names the wrong panel as the one built from single bumps and the right one as the deeper
    assert f"Panel {other} is built from such bumps; panel {DEEPER_PANEL} has two separate bumps" in wrong.message
    assert "letter" in check_more_layers("C").message
    assert "letter" in check_more_layers(1).message


# --- exercise 4: build and train your own stack ---------------------------------------------------


def _masks_right(dim, n_layers):
    return [[(i + k) % 2 for i in range(dim)] for k in range(n_layers)]


def _nll_right(flow, x):
    z, log_det = flow.bijector.inverse_and_log_det(x)
    return -(flow.base.log_prob(z) + log_det).mean()


def _draw_right(flow, z):
    return flow.bijector.forward(z)


def test_check_own_stack_passes_the_right_answer_and_reports_a_trained_gap():
    r = check_own_stack(_masks_right, _nll_right, _draw_right)
    assert r and "KL gap" in r.message


def _same_mask(dim, n_layers):
    return [[1] + [0] * (dim - 1)] * n_layers


def _no_log_det(flow, x):
    z, _ = flow.bijector.inverse_and_log_det(x)
    return -flow.base.log_prob(z).mean()


def _log_det_subtracted(flow, x):
    z, log_det = flow.bijector.inverse_and_log_det(x)
    return -(flow.base.log_prob(z) - log_det).mean()


def _summed(flow, x):
    z, log_det = flow.bijector.inverse_and_log_det(x)
    return -(flow.base.log_prob(z) + log_det).sum()


def _draw_inverse(flow, z):
    return flow.bijector.inverse(z)


def _raises(*args):
    raise RuntimeError("not written yet")


@pytest.mark.parametrize(
    "masks,loss,draw,words",
    [
        (_same_mask, _nll_right, _draw_right, "every layer uses the same mask"),
        (_masks_right, _no_log_det, _draw_right, "log-det term is missing"),
        (_masks_right, _log_det_subtracted, _draw_right, "wrong sign"),
        (_masks_right, _summed, _draw_right, "sum over the batch"),
        (_masks_right, _nll_right, _draw_inverse, "through the inverse"),
        (_raises, _nll_right, _draw_right, "failed: RuntimeError"),
        (_masks_right, _raises, _draw_right, "failed: RuntimeError"),
        (_masks_right, lambda f, x: 0.5, _draw_right, "one-number torch tensor"),
        (lambda d, n: "1010", _nll_right, _draw_right, "list of"),
    ],
)
def test_check_own_stack_diagnoses_each_usual_mistake(masks, loss, draw, words):
    r = check_own_stack(masks, loss, draw)
    assert not r and words in r.message, r.message


def test_check_own_stack_says_what_is_still_missing():
    r = check_own_stack(_masks_right, None, None)
    assert not r and "needs all three functions" in r.message and "stack_nll and draw are still None" in r.message
    assert "not attempted" in check_own_stack(None, None, None).message
    r = check_own_stack(_masks_right, 5, None)
    assert not r and "give stack_nll as a function" in r.message and "got int" in r.message
