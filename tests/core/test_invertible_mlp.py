"""The invertible MLP: LU-parameterised square linear maps between leaky ReLUs.

Log-dets against autograd, round trips and shapes are checked by the property suite (LULinear, LeakyReLU,
InvertibleMLP are registered); here: what the lesson says about them.
"""

import math

import pytest
import torch

from lessonlib.flows import make_flow
from lessonlib.invertible_mlp import LeakyReLU, LULinear, invertible_mlp


def test_log_det_of_w_is_the_sum_of_log_diagonal_and_never_depends_on_the_point():
    layer = LULinear(4, permute=True, generator=torch.Generator().manual_seed(0)).double()
    with torch.no_grad():
        for p in layer.parameters():
            p.normal_(generator=torch.Generator().manual_seed(1))
    W = layer.matrix()
    z = torch.randn(5, 4, dtype=torch.float64)
    _, log_det = layer.forward_and_log_det(z)
    assert torch.allclose(log_det, torch.linalg.slogdet(W)[1].expand(5))
    assert torch.allclose(layer(z), z @ W.T + layer.bias)


def test_parameters_per_linear_map_are_d_squared_plus_d():
    # D(D-1)/2 below the diagonal, as many above, D on it, D in the bias
    for d in (2, 3, 8):
        assert sum(p.numel() for p in LULinear(d).parameters()) == d * d + d


@pytest.mark.parametrize("slope", [0.0, -0.5, 1.5, math.nan])
def test_a_slope_that_is_not_in_0_1_is_refused_with_the_reason(slope):
    with pytest.raises(ValueError, match="negative_slope must be"):
        LeakyReLU(slope)


def test_the_density_jumps_where_a_pre_activation_changes_sign():
    """Either side of z = 0 the leaky ReLU's log-det differs by log a: a piecewise-linear flow has a
    density with jumps, unlike a coupling flow with a smooth conditioner."""
    a = 0.2
    layer = LeakyReLU(a)
    eps = 1e-9
    z = torch.tensor([[-eps], [eps]], dtype=torch.float64)
    _, log_det = layer.forward_and_log_det(z)
    assert math.isclose(float(log_det[0] - log_det[1]), math.log(a))


def test_make_flow_builds_it_from_its_seed():
    flow = make_flow(2, 3, "invertible-mlp", dtype=torch.float64)
    assert sum(isinstance(layer, LeakyReLU) for layer in flow.bijector.layers) == 3
    z = torch.randn(100, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x = flow.bijector.forward(z)
    assert torch.allclose(flow.bijector.inverse(x), z, atol=1e-10)
    again = make_flow(2, 3, "invertible-mlp", dtype=torch.float64)
    assert torch.equal(again.bijector.forward(z), x)
    assert invertible_mlp(2, n_hidden=1).dim == 2
