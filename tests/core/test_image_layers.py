"""Squeeze, ActNorm and the invertible 1x1 convolution: what each promises, beyond the property suite's checks."""

import math

import pytest
import torch

from lessonlib.flows import Flow, standard_normal
from lessonlib.image_layers import ActNorm, ImageShape, InvertibleConv1x1, Squeeze, image_shape, initialise_actnorm
from lessonlib.verify import autograd_log_det, verify_bijector

F64 = torch.float64


def test_squeeze_is_a_permutation_that_cuts_2x2_blocks_into_channels():
    layer = Squeeze((1, 4, 4))
    x = torch.arange(16, dtype=F64)[None]  # pixel (r, c) holds 4 r + c
    z, log_det = layer.inverse_and_log_det(x)
    channels = z.view(4, 2, 2)
    assert channels[0].tolist() == [[0, 2], [8, 10]]  # top-left pixel of each block
    assert channels[1].tolist() == [[1, 3], [9, 11]]  # top-right
    assert channels[2].tolist() == [[4, 6], [12, 14]]  # bottom-left
    assert channels[3].tolist() == [[5, 7], [13, 15]]  # bottom-right
    assert log_det.item() == 0
    assert torch.equal(layer.forward(z), x)
    matrix = layer.inverse(torch.eye(16, dtype=F64)).T
    assert torch.equal(matrix.sum(0), torch.ones(16)) and torch.equal(matrix.sum(1), torch.ones(16))
    assert abs(torch.linalg.det(matrix).item()) == 1.0


def test_squeeze_keeps_channels_apart():
    layer = Squeeze((2, 2, 2))
    x = torch.arange(8, dtype=F64)[None]  # channel 0: 0..3, channel 1: 4..7
    assert layer.inverse(x).tolist() == [[0, 1, 2, 3, 4, 5, 6, 7]]  # one block per channel: 4 channels each
    assert layer.squeezed == ImageShape(8, 1, 1)


@pytest.mark.parametrize(
    "shape,words", [((1, 3, 4), "even"), ((1, 8), "three"), ("1x8x8", "three"), ((0, 2, 2), "channels")]
)
def test_bad_shapes_are_refused_by_name(shape, words):
    with pytest.raises((ValueError, TypeError), match=words):
        Squeeze(shape) if words == "even" else image_shape(shape)


def test_actnorm_starts_as_the_identity_and_initialises_only_when_asked():
    layer = ActNorm((2, 2, 2), dtype=F64)
    x = 3.0 + 2.0 * torch.randn(50, 8, generator=torch.Generator().manual_seed(0), dtype=F64)
    assert torch.equal(layer.inverse(x), x) and not bool(layer.initialised)  # a density pass alone changes nothing
    flow = Flow(standard_normal(8, F64), layer)
    assert initialise_actnorm(flow, x) == [layer] and bool(layer.initialised)
    z = layer.inverse(x).view(50, 2, 4).transpose(0, 1).reshape(2, -1)
    torch.testing.assert_close(z.mean(1), torch.zeros(2, dtype=F64), atol=1e-12, rtol=0)
    torch.testing.assert_close(z.std(1, unbiased=False), torch.ones(2, dtype=F64), atol=1e-12, rtol=0)
    before = [p.clone() for p in layer.parameters()]
    assert initialise_actnorm(flow, 10 * x) == []  # already initialised: left alone
    assert all(torch.equal(a, b) for a, b in zip(before, layer.parameters()))
    assert verify_bijector(layer, torch.randn(4, 8, dtype=F64)) == []  # the round trip and log-dets hold after it


def test_actnorm_is_initialised_from_what_reaches_it():
    first, second = ActNorm((1, 2, 2), dtype=F64), ActNorm((1, 2, 2), dtype=F64)
    from lessonlib.bijectors import Affine, Chain

    chain = Chain(second, Affine(torch.full((4,), 5.0, dtype=F64), torch.zeros(4, dtype=F64)), first)
    x = torch.randn(40, 4, generator=torch.Generator().manual_seed(1), dtype=F64)
    met = initialise_actnorm(Flow(standard_normal(4, F64), chain), x)
    assert met == [first, second]  # in the density direction: the last layer of the chain first
    z = chain.inverse(x).flatten()
    assert abs(z.mean().item()) < 1e-12 and abs(z.std(unbiased=False).item() - 1) < 1e-12


def test_actnorm_log_det_counts_every_pixel():
    layer = ActNorm((3, 2, 5), dtype=F64)
    with torch.no_grad():
        layer.log_scale.copy_(torch.tensor([0.1, -0.4, 0.7], dtype=F64))
    z = torch.randn(2, 30, dtype=F64)
    assert layer.forward_and_log_det(z)[1][0].item() == pytest.approx(10 * 0.4)
    torch.testing.assert_close(autograd_log_det(layer.forward, z), layer.forward_and_log_det(z)[1])


def test_actnorm_refuses_a_batch_of_one():
    with pytest.raises(ValueError, match="at least 2"):
        ActNorm((1, 2, 2)).initialise_from(torch.zeros(1, 4))


def test_initialise_actnorm_needs_a_flow():
    with pytest.raises(TypeError, match="log_prob"):
        initialise_actnorm(ActNorm((1, 2, 2)), torch.zeros(3, 4))


def test_conv_log_det_is_pixels_times_sum_log_s_and_matches_slogdet_of_the_full_map():
    conv = InvertibleConv1x1((3, 2, 4), torch.Generator().manual_seed(3), dtype=F64)
    with torch.no_grad():
        conv.log_s.copy_(torch.tensor([0.3, -1.2, 0.5], dtype=F64))
        conv.lower.add_(0.5)
    z = torch.randn(3, 24, generator=torch.Generator().manual_seed(4), dtype=F64)
    x, log_det = conv.forward_and_log_det(z)
    assert log_det[0].item() == pytest.approx(8 * (0.3 - 1.2 + 0.5))
    assert log_det[0].item() == pytest.approx(8 * torch.linalg.slogdet(conv.matrix())[1].item())
    full = torch.linalg.slogdet(conv.forward(torch.eye(24, dtype=F64)).T)[1]  # the map's 24 x 24 matrix
    assert log_det[0].item() == pytest.approx(full.item())
    torch.testing.assert_close(autograd_log_det(conv.forward, z), log_det)
    torch.testing.assert_close(conv.inverse(x), z)


def test_conv_starts_as_a_rotation():
    conv = InvertibleConv1x1((4, 1, 1), torch.Generator().manual_seed(0), dtype=F64)
    M = conv.matrix()
    torch.testing.assert_close(M @ M.T, torch.eye(4, dtype=F64))
    assert conv.forward_and_log_det(torch.zeros(1, 4, dtype=F64))[1].item() == pytest.approx(0, abs=1e-12)
    assert math.isclose(abs(torch.linalg.det(M).item()), 1.0)
