"""Notebook 06's computations and exercise checkers."""

import torch

from lessonlib.autoregressive import AutoregressiveAffine
from lessonlib.exercises06 import check_maf_passes, check_ode_log_density_change, check_reparameterized
from lessonlib.flows import Flow, standard_normal
from lessonlib.wider import autoregressive_log_prob, linear_ode_log_det


def test_chain_rule_equals_change_of_variables():
    torch.manual_seed(0)
    maf = AutoregressiveAffine(3, hidden=(8,))
    for p in maf.parameters():
        torch.nn.init.normal_(p, std=0.5)
    x = torch.randn(6, 3)
    torch.testing.assert_close(autoregressive_log_prob(maf, x), Flow(standard_normal(3), maf).log_prob(x))


def test_jacobi_formula():
    a, b = linear_ode_log_det(torch.tensor([[0.3, -1.0], [2.0, -0.7]]), 2.5)
    assert abs(a - b) < 1e-9


def test_pass_counts():
    for cond, want in (("x", (4, 1)), ("z", (1, 4))):
        layer = AutoregressiveAffine(4, conditioned_on=cond)
        flow = Flow(standard_normal(4), layer)
        layer.passes = 0
        x = flow.sample(3)
        s = layer.passes
        layer.passes = 0
        flow.log_prob(x)
        assert (s, layer.passes) == want


def test_maf_passes_checker():
    assert check_maf_passes((5, 1))
    assert "swapped" in check_maf_passes((1, 5)).message
    assert "batch size" in check_maf_passes((10, 1)).message
    assert "not attempted" in check_maf_passes(None).message


def test_ode_checker():
    assert check_ode_log_density_change(1.0)
    assert "MINUS" in check_ode_log_density_change(-1.0).message
    assert "T = 2" in check_ode_log_density_change(0.5).message
    assert "DIAGONAL" in check_ode_log_density_change(6.0).message


def test_reparameterized_checker():
    assert check_reparameterized(lambda e: 2.0 + 0.5 * e)
    assert "swapped" in check_reparameterized(lambda e: 0.5 + 2.0 * e).message
    assert "variance" in check_reparameterized(lambda e: 2.0 + 0.25 * e).message
    assert "inverse map" in check_reparameterized(lambda e: (e - 2.0) / 0.5).message
    assert "raised" in check_reparameterized(lambda e: e.nonexistent()).message
    assert "not attempted" in check_reparameterized(lambda e: None).message
