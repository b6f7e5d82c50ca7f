"""Notebook 06's computations: MAF read as the chain rule, Jacobi's formula, a MAF fitted to Old Faithful."""

import torch

from lessonlib.autoregressive import AutoregressiveAffine
from lessonlib.data import load_old_faithful, standardise
from lessonlib.flows import Flow, make_flow, standard_normal
from lessonlib.lessons.l06_where_flows_fit.experiments import autoregressive_log_prob, fit_maf, linear_ode_log_det


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


def test_fit_maf_is_reproducible_learns_and_leaves_the_global_rng_alone():
    data = standardise(load_old_faithful(), dtype=torch.float64)[0]
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = fit_maf(data, n_layers=2, hidden=(8,), steps=60)
    after = torch.rand(1)
    assert torch.equal(before, after)  # fitting does not reseed or consume the global generator
    b = fit_maf(data, n_layers=2, hidden=(8,), steps=60)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb) and pa.dtype == torch.float64
    untrained = make_flow(2, 2, "maf", hidden=(8,), dtype=torch.float64)
    with torch.no_grad():
        assert -a.log_prob(data).mean() < -untrained.log_prob(data).mean() - 0.5
