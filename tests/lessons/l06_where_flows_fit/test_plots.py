"""Notebook 06's figures: Hutchinson's estimates against the exact trace, and the flagged eruptions."""

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from lessonlib.data import load_old_faithful, standardise, train_validation_split
from lessonlib.lessons.l06_where_flows_fit.experiments import fit_maf
from lessonlib.lessons.l06_where_flows_fit.plots import plot_density_and_outliers, plot_trace_estimates


def test_plot_trace_estimates_shows_both_histograms_and_the_exact_trace():
    single = torch.randn(320, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    fig = plot_trace_estimates(single, exact=0.1, group=16)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("1 probe" in s for s in labels) and any("16 probes" in s for s in labels)
    assert any("exact trace" in s and "+0.100" in s for s in labels)
    with pytest.raises(ValueError, match="multiple of 16"):
        plot_trace_estimates(single[:100], exact=0.1, group=16)


def test_plot_density_and_outliers_marks_training_held_out_and_made_up_eruptions():
    train_raw, held_raw = train_validation_split(load_old_faithful(), n_validation=68, seed=0)
    data, mean, std = standardise(train_raw, dtype=torch.float64)
    held = torch.as_tensor((held_raw - mean) / std)
    flow = fit_maf(data, n_layers=1, hidden=(8,), steps=30)
    extra = torch.tensor([[0.0, 2.0]], dtype=torch.float64)
    with torch.no_grad():
        threshold = float(torch.quantile(flow.log_prob(data), 0.1))
    fig = plot_density_and_outliers(flow, data, threshold, mean, std, extra=extra, held=held)
    assert isinstance(fig, Figure) and len(fig.axes) == 2  # the density and its colour bar
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[:3] == ["training eruptions", "held-out eruptions", "made-up eruptions"]
    assert f"{threshold:.2f}" in labels[3]
    ticks = fig.axes[1].get_yticks()
    assert np.allclose(ticks, np.round(ticks))  # whole nats on the colour bar
