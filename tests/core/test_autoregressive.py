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
