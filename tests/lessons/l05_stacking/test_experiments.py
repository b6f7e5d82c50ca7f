"""Notebook 05's computations: the ledger adds up, densities integrate to one, snapshots record, summaries, timing."""

import numpy as np
import pytest
import torch

from lessonlib.lessons.l05_stacking.experiments import (
    Snapshots,
    bridge_profile,
    grid_density,
    ledger,
    passes_to_sample,
    ring_summary,
    sample_summary,
    time_samplers,
)
from lessonlib.toy2d import target_sampler
from lessonlib.training import train
from tests.lessons.l05_stacking.conftest import RING


def test_ledger_columns_sum_to_log_prob(trained):
    x = torch.tensor([[2.0, 0.0], [0.0, 0.0], [3.0, -3.0]])
    book = ledger(trained, x)
    assert book.log_dets.shape == (4, 3)
    np.testing.assert_allclose(book.total, book.log_prob, rtol=1e-10, atol=1e-10)
    assert "column sum" in str(book) and "layer 4 log-det (inverse)" in str(book).splitlines()[2]
    assert np.abs(book.log_dets).max() > 1e-3  # training moved the layers: the ledger is not trivially zero


def test_grid_density_integrates_to_one(trained):
    dens, area = grid_density(trained.log_prob, (-7, 7, -7, 7), 200)
    assert abs(dens.sum() * area - 1) < 0.01
    with pytest.raises(ValueError, match="min < max"):
        grid_density(trained.log_prob, (1, 0, 0, 1))


def test_bridge_profile_and_summaries(trained):
    p = bridge_profile(trained, RING)
    assert p["theta"].shape == p["flow"].shape == p["true"].shape == (720,)
    assert (p["true_peak"] / p["true_gap"]).min() > 500  # the target really is nearly cut into pieces
    assert (p["flow"] > 0).all()
    s = ring_summary(RING.sample(4000, torch.Generator().manual_seed(0)))
    assert abs(s["radius_mean"] - 2.0) < 0.05 and s["near_mode"] > 0.97
    summ = sample_summary(np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 4.0]]), split=1.0)
    assert summ["mean_0"] == 2.0 and summ["frac_above"] == pytest.approx(2 / 3)


def test_passes_are_counted_not_assumed():
    """A flow samples in one pass of its first network; an autoregressive model in one per coordinate; a
    model whose forward runs its first layer twice is counted twice (the count can fail)."""
    from lessonlib.flows import make_flow

    assert passes_to_sample(make_flow(6, 3, hidden=(8,))) == 1
    assert passes_to_sample(make_flow(6, 1, "made", hidden=(8,))) == 6
    twice = make_flow(6, 1, hidden=(8,))
    layer = twice.bijector[0]
    once = layer._forward_and_log_det
    layer._forward_and_log_det = lambda z: once(once(z)[0])
    assert passes_to_sample(twice) == 2


def test_time_samplers_counts_passes():
    t = time_samplers(dim=48, batch=4, n_layers=2, hidden=16, repeats=1)
    assert t["ar_passes"] == 48 and t["flow_passes"] == 1
    assert t["flow_seconds"] > 0 and t["ar_seconds"] > 0


def test_snapshots_record_the_density_and_samples_at_each_callback(trained):
    snaps = Snapshots(trained, RING.extent, n_grid=20, n_samples=50)
    result = train(trained, target_sampler(RING), steps=4, lr=1e-4, callback=snaps, callback_every=2)
    assert snaps.steps == [2, 4] and len(snaps.densities) == 2 and snaps.samples[0].shape == (50, 2)
    assert snaps.losses[-1] == pytest.approx(np.mean(result.losses[-25:]))
    dens, _ = grid_density(trained.log_prob, RING.extent, 20)
    np.testing.assert_allclose(snaps.densities[-1], dens)
