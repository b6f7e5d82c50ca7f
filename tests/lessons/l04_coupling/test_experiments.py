"""Notebook 04's computations: the hand-shaped conditioner, the rivals of the same depth, and what the two safeguards
prevent in training."""

import math

import torch

from lessonlib.coupling import AffineCoupling
from lessonlib.lessons.l04_coupling.experiments import (
    RIVALS,
    STABILITY_SETUPS,
    CurveConditioner,
    hand_initialised_flow,
    rival_gaps,
    stability_runs,
)
from lessonlib.toy2d import TARGETS, two_moons


def test_stability_runs_tell_the_story():
    data = two_moons().sample(256, torch.Generator().manual_seed(0)).float()
    runs = stability_runs(data, steps=5, seeds=[0, 1])
    assert list(runs) == list(STABILITY_SETUPS) and all(len(curves) == 2 for curves in runs.values())
    safe, bounded_only, neither = runs.values()
    assert all(len(c) == 5 and all(math.isfinite(v) for v in c) for c in safe)
    assert neither[0] == [] and bounded_only[0][0] > 100 * safe[0][0]  # seed 0 overflows at once without the bound


def test_hand_initialised_flows_are_reproducible_and_zero_init_starts_at_the_identity():
    a, b = hand_initialised_flow(True, True, seed=3), hand_initialised_flow(True, True, seed=3)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb) and pa.dtype == torch.float32
    z = torch.randn(5, 2, dtype=torch.float32)
    assert torch.equal(a.bijector.forward(z), z)  # zero last layers: every coupling starts as the identity
    assert not torch.equal(hand_initialised_flow(True, False, seed=3).bijector.forward(z), z)


def test_curve_conditioner_feeds_an_affine_coupling_with_the_stated_curves():
    cond = CurveConditioner(a=0.2, b=0.5, c=1.0, d=0.0, e=1.0)
    layer = AffineCoupling(torch.tensor([1.0, 0.0], dtype=torch.float64), cond, log_scale_bound=None)
    z = torch.tensor([[1.0, -0.5]], dtype=torch.float64)
    x, log_det = layer.forward_and_log_det(z)
    s, t = 0.2 + 0.5 * math.sin(1.0), 1.0
    assert x[0, 0].item() == 1.0 and math.isclose(x[0, 1].item(), -0.5 * math.exp(s) + t)
    assert math.isclose(log_det.item(), s)


def test_rival_gaps_trains_every_rival_from_every_seed():
    flows, gaps = rival_gaps(TARGETS["two_moons"](), seeds=[0, 1], steps=3)
    assert list(flows) == list(gaps) == list(RIVALS)
    assert all(len(g) == 2 and all(math.isfinite(v) and v > 0 for v in g) for g in gaps.values())
    sizes = [sum(p.numel() for p in f.parameters()) for f in flows.values()]
    assert sizes == [24, 100, 5136]  # four 2 x 2 linear maps; four couplings with 3 and with 32 x 32 hidden units
