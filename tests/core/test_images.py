"""Dequantisation, the logit preprocessing and bits per dimension (lessonlib.images)."""

import math

import pytest
import torch

from lessonlib.coupling import MASKS, channel_mask, checkerboard_mask, coupling_stack, image_side
from lessonlib.flows import make_flow
from lessonlib.images import PixelLogit, bits_per_dim, check_pixels, dequantise, nats_from_bits_per_dim
from lessonlib.verify import autograd_log_det


def test_dequantise_fills_each_unit_bin_and_refuses_non_pixels():
    k = torch.tensor([[0.0, 5.0, 16.0]]).repeat(2000, 1)
    y = dequantise(k, 17, torch.Generator().manual_seed(0))
    assert ((y >= k) & (y < k + 1)).all()
    assert abs(float((y - k).mean()) - 0.5) < 0.02 and abs(float((y - k).var()) - 1 / 12) < 0.005  # U(0, 1)
    assert torch.equal(y, dequantise(k, 17, torch.Generator().manual_seed(0)))  # reproducible from a generator
    for bad, match in [
        (k + 0.5, "whole numbers 0..16"),
        (k / 16, "whole numbers"),
        (k * 16, "got values from 0 to 256"),
        (k[0], "shape"),
        (torch.tensor([[float("nan")]]), "NaN"),
    ]:
        with pytest.raises(ValueError, match=match):
            check_pixels(bad, 17)
    # integer pixels, numpy arrays and lists are converted; an empty batch gives an empty batch (lessonlib.inputs)
    assert torch.equal(check_pixels(k.long(), 17), k) and torch.equal(check_pixels(k.numpy(), 17), k)
    assert dequantise(k[:0], 17).shape == (0, 3)


def test_pixel_logit_matches_its_formula_and_autograd():
    pre = PixelLogit(17, alpha=0.05).double()
    y = torch.tensor([[0.5, 12.3], [0.0, 16.99]], dtype=torch.float64)
    z, log_det = pre.inverse_and_log_det(y)
    s = 0.05 + 0.9 * y / 17
    torch.testing.assert_close(z, torch.log(s / (1 - s)))
    torch.testing.assert_close(log_det, (math.log(0.9 / 17) - torch.log(s) - torch.log1p(-s)).sum(1))
    torch.testing.assert_close(log_det, autograd_log_det(pre.inverse, y))
    torch.testing.assert_close(pre.forward(z), y)
    # the ends of the pixel range land at logit(alpha) and logit(1 - alpha): finite
    ends = pre.inverse(torch.tensor([[0.0, 17.0]], dtype=torch.float64))
    torch.testing.assert_close(
        ends, torch.tensor([[math.log(0.05 / 0.95), math.log(0.95 / 0.05)]], dtype=torch.float64)
    )


@pytest.mark.parametrize(
    "x,match", [(torch.tensor([[-2.0, 3.0]]), "inside"), (torch.tensor([[3.0, 25.0]]), "not pixels scaled")]
)
def test_pixel_logit_refuses_values_outside_its_range(x, match):
    with pytest.raises(ValueError, match=match):
        PixelLogit(17).inverse_and_log_det(x)


@pytest.mark.parametrize(
    "levels,alpha,match", [(1, 0.05, "levels"), (2.5, 0.05, "levels"), (17, 0.5, "alpha"), (17, -0.1, "alpha")]
)
def test_pixel_logit_refuses_bad_parameters(levels, alpha, match):
    with pytest.raises(ValueError, match=match):
        PixelLogit(levels, alpha)


def test_bits_per_dim_is_nats_over_d_ln2():
    assert bits_per_dim(64 * math.log(2), 64) == pytest.approx(1.0)
    assert bits_per_dim(98.5, 64) == pytest.approx(98.5 / 64 / 0.6931471805599453)
    assert nats_from_bits_per_dim(bits_per_dim(12.0, 3), 3) == pytest.approx(12.0)
    t = bits_per_dim(torch.tensor([0.0, 64.0]), 64)
    assert t.shape == (2,)
    with pytest.raises(ValueError, match="number of pixels"):
        bits_per_dim(1.0, 0)


def test_image_masks_on_the_8x8_grid():
    cb = checkerboard_mask(8, 8).reshape(8, 8)
    assert cb[0, 0] == 1 and cb[0, 1] == 0 and cb[1, 0] == 0 and cb.sum() == 32
    ch = channel_mask(8, 8).reshape(8, 8)
    assert ch[0].sum() == 8 and ch[1].sum() == 0 and ch.sum() == 32  # the even rows: the top of each 2x2 block
    assert torch.equal(channel_mask(8, 8, flip=True), 1 - channel_mask(8, 8))
    assert image_side(64) == 8
    with pytest.raises(ValueError, match="square image"):
        image_side(60)
    with pytest.raises(ValueError, match="even number of rows"):
        channel_mask(7, 8)
    stack = coupling_stack(64, 4, mask="image")
    masks = [layer.mask for layer in stack.layers]
    assert torch.equal(masks[0], checkerboard_mask(8, 8)) and torch.equal(masks[1], 1 - masks[0])
    assert torch.equal(masks[2], channel_mask(8, 8)) and torch.equal(masks[3], 1 - masks[2])
    assert "checkerboard" in MASKS and "image" in MASKS
    with pytest.raises(ValueError, match="mask must be one of"):
        coupling_stack(64, 2, mask="diagonal")


def test_make_flow_puts_the_last_layer_last_and_checks_it():
    flow = make_flow(64, 2, mask="checkerboard", last=PixelLogit(17))
    assert isinstance(flow.bijector.layers[-1], PixelLogit)
    x = flow.sample(5)
    assert x.shape == (5, 64) and (x > -1).all() and (x < 18).all()
    with pytest.raises(ValueError, match="Bijector"):
        make_flow(64, 2, last=torch.nn.Identity())
    with pytest.raises(ValueError, match="coupling layers only"):
        make_flow(4, 2, "maf", mask="checkerboard")


def test_bits_per_dim_refuses_a_nan_likelihood_and_keeps_an_infinite_one():
    with pytest.raises(ValueError, match="NaN"):
        bits_per_dim(float("nan"), 64)
    with pytest.raises(ValueError, match="NaN"):
        bits_per_dim(torch.tensor([1.0, float("nan")]), 64)
    assert bits_per_dim(float("inf"), 64) == float("inf")  # zero likelihood: infinitely many bits
