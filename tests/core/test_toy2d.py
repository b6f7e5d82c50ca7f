"""The 2D targets: normalised, sampled where their density is, and a KL gap that matches a closed form."""

import math

import pytest
import torch
from torch.distributions import Normal

from lessonlib.toy2d import TARGETS, kl_gap


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_targets_are_normalised_and_match_their_samples(name):
    t = TARGETS[name]()
    x0, x1, y0, y1 = t.extent
    gx, gy = torch.linspace(x0 - 2, x1 + 2, 500), torch.linspace(y0 - 2, y1 + 2, 500)
    X, Y = torch.meshgrid(gx, gy, indexing="ij")
    pts = torch.stack([X.flatten(), Y.flatten()], 1)
    mass = t.log_prob(pts).exp().sum() * (gx[1] - gx[0]) * (gy[1] - gy[0])
    assert abs(mass.item() - 1) < 0.01
    # the target against itself: KL is zero
    gap, se = kl_gap(t.log_prob, t, n=2000)
    assert gap == 0.0
    # samples lie where the density is
    s = t.sample(2000, torch.Generator().manual_seed(0))
    assert torch.isfinite(t.log_prob(s)).all()


def test_kl_gap_of_a_wrong_model_is_positive_and_known():
    t = TARGETS["banana"]()
    wide = torch.distributions.Independent(Normal(torch.zeros(2), 3 * torch.ones(2)), 1)
    gap, se = kl_gap(wide.log_prob, t, n=50_000)
    # KL = E_p[log p] - E_p[log q]; E_p[log q] has a closed form from the banana's moments
    c, s2 = 0.5, 0.25
    ex2 = 2 * c**2 + s2  # E[x2^2] = Var(c(x1^2 - 1)) + s^2, and E[x2] = 0
    e_logq = -0.5 * (1 + ex2) / 9 - 2 * math.log(3) - math.log(2 * math.pi)
    want = -t.entropy - e_logq
    assert abs(gap - want) < 4 * se + 1e-3
