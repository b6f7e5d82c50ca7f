"""Notebook 07's computations: the widget's spline, mass per bin, parameter matching, the training helpers and the
failure demonstrations, each checked against the maths it claims (small sizes, a few seconds in all)."""

import math

import numpy as np
import pytest
import torch

from lessonlib.cov1d import Normal
from lessonlib.flows import make_flow
from lessonlib.lessons.l07_splines import experiments
from lessonlib.lessons.l07_splines.experiments import (
    affine_parameter_count,
    bin_masses,
    fit_1d_spline,
    float32_next_to_knots,
    matched_affine_width,
    pull,
    push,
    pushed_density,
    resample_knots,
    spline_knots,
    train_depths,
    train_family,
    trimodal_1d,
    unconstrained_derivative,
    wave_coupling,
)
from lessonlib.lessons.l07_splines.widgets import DEFAULT_KNOTS
from lessonlib.splines import spline_parameter_count
from lessonlib.toy2d import TARGETS
from lessonlib.training import Diverged

KNOTS = spline_knots(*DEFAULT_KNOTS)


def test_spline_knots_refuse_a_knot_past_its_neighbour():
    z, x, d = (a.copy() for a in DEFAULT_KNOTS)
    z[2] = z[3] + 0.1
    with pytest.raises(ValueError):
        spline_knots(z, x, d)


def test_push_and_pull_are_inverses_and_their_log_derivatives_cancel():
    z = np.linspace(-4.0, 4.0, 801)  # both tails and every bin
    x, log_d = push(z, KNOTS)
    z_back, log_d_inv = pull(x, KNOTS)
    np.testing.assert_allclose(z_back, z, atol=1e-12)
    np.testing.assert_allclose(log_d_inv, -log_d, atol=1e-12)
    assert (np.diff(x) > 0).all()
    np.testing.assert_allclose(push(KNOTS.u.numpy(), KNOTS)[0], KNOTS.v.numpy(), atol=1e-12)  # through every knot


def test_pushed_density_integrates_to_one():
    x = np.linspace(-12.0, 12.0, 200_001)
    p = pushed_density(Normal(0.0, 1.0), KNOTS, x)
    assert (p >= 0).all() and abs(p.sum() * (x[1] - x[0]) - 1) < 1e-6


@pytest.mark.parametrize("d_middle", [2.5, 0.05])  # the widget's start, and a slope at its smallest: a tall spike
def test_bin_masses_agree_in_z_and_in_x(d_middle):
    z, x, d = (a.copy() for a in DEFAULT_KNOTS)
    d[2] = d_middle
    m = bin_masses(Normal(0.0, 1.0), spline_knots(z, x, d))
    assert m["z"].shape == m["x"].shape == (5,)
    np.testing.assert_allclose(m["x"], m["z"], atol=1e-6)
    assert abs(m["below"] + m["z"].sum() + m["above"] - 1) < 1e-12
    assert m["below"] == pytest.approx(m["above"]) and m["below"] == pytest.approx(0.5 * math.erfc(3 / math.sqrt(2)))


def test_resample_knots_puts_the_new_knots_on_the_old_curve():
    new = resample_knots(KNOTS, 8)
    assert new.n_bins == 8
    np.testing.assert_allclose(new.u.numpy(), np.linspace(-3, 3, 9))
    x_old, log_d_old = push(new.u.numpy(), KNOTS)
    np.testing.assert_allclose(new.v.numpy(), x_old, atol=1e-12)
    np.testing.assert_allclose(new.d.numpy(), np.exp(log_d_old), atol=1e-12)


def test_wave_coupling_is_the_identity_without_bend_and_bends_with_it():
    x = torch.tensor([[0.3, -1.0], [-2.0, 0.5], [1.0, 2.9]], dtype=torch.float64)
    z, log_det = wave_coupling(0.0, 5).inverse_and_log_det(x)
    torch.testing.assert_close(z, x)
    assert log_det.abs().max() < 1e-12
    bent = wave_coupling(1.5, 5)
    z, log_det = bent.inverse_and_log_det(x)
    assert torch.equal(z[:, 0], x[:, 0]) and (z[:, 1] - x[:, 1]).abs().max() > 0.05
    torch.testing.assert_close(bent.forward(z), x)
    assert bent.conditioner(x[:, :1]).shape == (3, 3 * 5 - 1)


def test_parameter_counts_match_the_layers_and_the_width_is_the_smallest_that_matches():
    affine = make_flow(2, 1, "coupling", hidden=(40, 40))
    assert affine_parameter_count(2, (40, 40)) == sum(p.numel() for p in affine.parameters())
    spline = make_flow(2, 1, "spline", hidden=(32, 32), n_bins=8)
    want = spline_parameter_count(1, 1, 8, (32, 32))
    assert want == sum(p.numel() for p in spline.parameters())
    h = matched_affine_width((32, 32), n_bins=8)
    assert affine_parameter_count(2, (h, h)) >= want > affine_parameter_count(2, (h - 1, h - 1))


def test_train_family_reports_what_it_trained():
    ring = TARGETS["gaussian_ring"]()
    run = train_family("spline", 2, 0, ring, steps=3, hidden=(8,), n_bins=4)
    assert (run.layer, run.n_layers, run.seed) == ("spline", 2, 0)
    assert run.parameters == sum(p.numel() for p in run.flow.parameters()) == 2 * spline_parameter_count(1, 1, 4, (8,))
    assert math.isfinite(run.kl) and run.kl > 0 and 0 < run.kl_se < run.kl and run.seconds_per_step > 0


def test_train_depths_adds_the_known_run_and_sorts_by_depth():
    ring = TARGETS["gaussian_ring"]()
    known = train_family("coupling", 2, 0, ring, steps=2, hidden=(8,))
    runs = train_depths("coupling", (3, 1), ring, steps=2, hidden=(8,), known=known)
    assert list(runs) == [1, 2, 3] and runs[2] is known and runs[3].n_layers == 3
    with pytest.raises(ValueError, match="one recipe"):
        train_depths("spline", (1,), ring, steps=2, hidden=(8,), known=known)


def test_trimodal_1d_is_a_normalised_density_with_three_bumps():
    t = trimodal_1d()
    x = torch.linspace(-6, 6, 120_001, dtype=torch.float64)[:, None]
    p = t.log_prob(x).exp()
    assert abs(float(p.sum()) * 12 / 120_000 - 1) < 1e-6
    peaks = ((p[1:-1] > p[:-2]) & (p[1:-1] > p[2:])).sum()
    assert peaks == 3
    s = t.sample(30_000, torch.Generator().manual_seed(0))
    assert s.shape == (30_000, 1) and abs(float(s.mean()) - 0.2 / 3) < 0.03


def test_fit_1d_spline_learns():
    t = trimodal_1d()
    _, start, _ = fit_1d_spline(4, t, steps=0)  # the identity: a standard normal
    flow, trained, se = fit_1d_spline(4, t, steps=40)
    assert flow.bijector.n_bins == 4 and 0 < se < 0.05
    assert trained < start - 0.1


def test_unconstrained_derivative_breaks_the_inverse_and_a_positive_one_does_not():
    fine = unconstrained_derivative(0.7)
    assert fine["decreasing"] == 0 and fine["worst"] < 1e-12 and fine["nan"] == 0
    broken = unconstrained_derivative(-1.5)
    assert broken["decreasing"] > 0.1 and broken["worst"] > 1.0
    assert (np.diff(broken["x"]) < 0).any()


def test_float32_from_the_nearer_knot_stays_at_float32_rounding():
    f = float32_next_to_knots(derivative=1e-3, n=12)
    assert f["distance"].shape == f["from_left"].shape == f["from_nearer"].shape == (12,)
    assert f["from_nearer"].max() < 1e-6 < 1e-5 < f["from_left"].max()
    assert float32_next_to_knots(derivative=1.0, n=12)["from_left"].max() < 1e-6  # straight bins: no trouble


def test_train_family_goes_on_at_the_smaller_rate_after_a_divergence(monkeypatch):
    calls = []

    class Stumbling(experiments.Trainer):  # diverges in the first part, after 5 good steps
        def run(self, n, *args, **kwargs):
            calls.append((self.lr, n))
            if len(calls) == 1:
                super().run(5)
                raise Diverged(6, 1e3, 1.0)
            return super().run(n, *args, **kwargs)

    monkeypatch.setattr(experiments, "Trainer", Stumbling)
    ring = TARGETS["gaussian_ring"]()
    run = train_family("coupling", 1, 0, ring, steps=20, hidden=(8,), lr=5e-3)
    assert calls == [(pytest.approx(5e-3), 15), (pytest.approx(1e-3), 15)] and math.isfinite(run.kl)
