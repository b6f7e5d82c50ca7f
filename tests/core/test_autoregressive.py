"""Autoregressive layers: MAF and IAF swap their costs, MADE is autoregressive and needs one pass per dimension."""

import pytest
import torch

from lessonlib.autoregressive import MADE, AutoregressiveAffine
from lessonlib.flows import Flow, standard_normal
from lessonlib.nets import randomise


def test_maf_and_iaf_pass_counts():
    for cond, want in (("x", (4, 1)), ("z", (1, 4))):
        layer = AutoregressiveAffine(4, conditioned_on=cond)
        flow = Flow(standard_normal(4), layer)
        layer.passes = 0
        x = flow.sample(3)
        s = layer.passes
        layer.passes = 0
        flow.log_prob(x)
        assert (s, layer.passes) == want


def test_made_is_autoregressive_and_needs_one_pass_per_dimension():
    made = randomise(MADE(5, hidden=(16,)), torch.Generator().manual_seed(0), std=0.5)
    x = torch.randn(1, 5, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda v: torch.cat(made.mean_and_log_scale(v), 1)[0], x)[:, 0, :]
    assert torch.all(jac[:5].triu() == 0) and torch.all(jac[5:].triu() == 0)  # mu_i, a_i see only x_j with j < i
    assert jac.abs().sum() > 0
    flow = Flow(standard_normal(5, torch.float64), made)
    made.passes = 0
    s = flow.sample(7)
    assert s.shape == (7, 5) and made.passes == 5
    made.passes = 0
    flow.log_prob(s)
    assert made.passes == 1


def test_made_needs_an_order():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        MADE(1)


def _paths(made: MADE) -> torch.Tensor:
    """Which input can reach which output through MADE's masks: the boolean product of the masks, (2D, D)."""
    reach = torch.eye(made.dim, dtype=torch.bool)
    for layer in (*made.hidden, made.out):
        reach = (layer.mask.double() @ reach.double()) > 0
    return reach


@pytest.mark.parametrize("dim, hidden", [(2, (3,)), (4, (6,)), (5, (3, 7)), (6, (2,)), (3, ())])
def test_made_masks_follow_the_degrees_and_never_connect_x_j_to_output_i_unless_j_before_i(dim, hidden):
    made = MADE(dim, hidden=hidden)
    strictly_lower = torch.ones(dim, dim, dtype=torch.bool).tril(diagonal=-1)
    reach = _paths(made)
    for half in (reach[:dim], reach[dim:]):  # mu_i and a_i
        assert not (half & ~strictly_lower).any()  # never from x_j with j >= i
        if all(h >= dim - 1 for h in hidden):  # every degree 1..D-1 present: every allowed path exists
            assert torch.equal(half, strictly_lower)
    if hidden:  # hidden unit k has degree k mod (D - 1) + 1 and sees exactly the inputs of lower or equal degree
        degrees = torch.arange(hidden[0]) % (dim - 1) + 1
        assert torch.equal(made.hidden[0].mask.sum(1), degrees.to(made.hidden[0].mask.dtype))


def test_made_flow_jacobian_is_lower_triangular_with_both_log_dets_from_autograd():
    made = randomise(MADE(5, hidden=(16, 8)), torch.Generator().manual_seed(3), std=0.5)
    z = torch.randn(4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    x, log_det_fwd = made.forward_and_log_det(z)
    z_back, log_det_inv = made.inverse_and_log_det(x)
    for zi, xi, lf, li in zip(z, x, log_det_fwd, log_det_inv):
        J_f = torch.autograd.functional.jacobian(lambda v: made.forward(v[None])[0], zi)
        J_inv = torch.autograd.functional.jacobian(lambda v: made.inverse(v[None])[0], xi)
        assert torch.all(J_f.triu(diagonal=1) == 0) and torch.all(J_inv.triu(diagonal=1) == 0)
        assert torch.allclose(lf, torch.linalg.slogdet(J_f)[1], atol=1e-10)
        assert torch.allclose(li, torch.linalg.slogdet(J_inv)[1], atol=1e-10)
    assert torch.allclose(z_back, z, atol=1e-10) and torch.allclose(log_det_inv, -log_det_fwd, atol=1e-12)
