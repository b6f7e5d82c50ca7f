"""Coupling layers: masks, the kept-first order, block-triangular Jacobians, identity at the start, dtypes."""

import pytest
import torch

from lessonlib.coupling import (
    AffineCoupling,
    alternating_mask,
    checkerboard_mask,
    half_mask,
    jacobian_matrix,
    kept_first_order,
)
from lessonlib.nets import MLP


def test_mlp_zero_last_makes_identity_coupling():
    layer = AffineCoupling(alternating_mask(4))
    z = torch.randn(3, 4)
    x, ld = layer.forward_and_log_det(z)
    torch.testing.assert_close(x, z)
    torch.testing.assert_close(ld, torch.zeros(3))
    assert isinstance(layer.conditioner, MLP)


def test_coupling_follows_input_dtype():
    layer = AffineCoupling(half_mask(2)).float()
    x, ld = layer.forward_and_log_det(torch.randn(3, 2, dtype=torch.float32))
    assert x.dtype == ld.dtype == torch.float32


def test_checkerboard_and_order():
    m = checkerboard_mask(4, 4)
    assert m.shape == (16,) and m.sum() == 8
    assert torch.equal(checkerboard_mask(2, 2, flip=True), torch.tensor([0.0, 1.0, 1.0, 0.0]))
    with pytest.raises(ValueError, match="at least 2 pixels"):
        checkerboard_mask(1, 1)
    assert kept_first_order(torch.tensor([0.0, 1.0, 1.0, 0.0])).tolist() == [1, 2, 0, 3]


def test_jacobian_matrix_is_block_triangular_after_reordering():
    mask = checkerboard_mask(2, 3)
    torch.manual_seed(0)
    layer = AffineCoupling(mask, MLP(6, 12, hidden=(8,), zero_last=False))
    J = jacobian_matrix(layer.forward, torch.randn(6))
    o = kept_first_order(mask)
    P = J[o][:, o]
    k = int(mask.sum())
    assert torch.equal(P[:k, :k], torch.eye(k)) and torch.all(P[:k, k:] == 0)
    assert torch.all(P[k:, k:] == torch.diag(torch.diag(P[k:, k:])))
    _, ld = layer.forward_and_log_det(torch.zeros(1, 6) + 0)  # shape check only
    assert ld.shape == (1,)
    with pytest.raises(ValueError, match="one point"):
        jacobian_matrix(layer.forward, torch.randn(2, 6))


def test_a_conditional_coupling_is_an_affine_coupling_whose_conditioner_reads_the_context():
    from lessonlib.coupling import ConditionalAffineCoupling
    from lessonlib.nets import randomise

    net = randomise(MLP(3 + 2, 6, hidden=(8,)), torch.Generator().manual_seed(0), std=0.5)
    mask = alternating_mask(3).double()
    z = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    contexts = torch.randn(4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    x, log_det = ConditionalAffineCoupling(mask, net, contexts).forward_and_log_det(z)
    for i in range(4):  # one context per row gives, row by row, what that context alone gives
        xi, ldi = ConditionalAffineCoupling(mask, net, contexts[i]).forward_and_log_det(z[i : i + 1])
        torch.testing.assert_close(x[i : i + 1], xi)
        torch.testing.assert_close(log_det[i : i + 1], ldi)
    torch.testing.assert_close(x[:, mask == 1], z[:, mask == 1])  # kept coordinates pass through
    with pytest.raises(ValueError, match="2 rows but the batch has 4"):
        ConditionalAffineCoupling(mask, net, contexts[:2]).forward(z)
    with pytest.raises(ValueError, match="context must be"):
        ConditionalAffineCoupling(mask, net, torch.zeros(2, 2, 2))
