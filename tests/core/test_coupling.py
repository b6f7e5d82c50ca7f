"""Coupling layers: masks, the kept-first order, block-triangular Jacobians, identity at the start, dtypes."""

import pytest
import torch

from lessonlib.coupling import AffineCoupling, alternating_mask, checkerboard_mask, half_mask, jacobian_matrix, kept_first_order
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
