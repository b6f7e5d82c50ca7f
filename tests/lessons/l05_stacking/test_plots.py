"""Notebook 05's figures: each returns a Figure with its panels, and draws to a PNG."""

import matplotlib.figure
import torch

from lessonlib.flows import make_flow
from lessonlib.lessons.l05_stacking.experiments import Snapshots, bridge_profile
from lessonlib.lessons.l05_stacking.plots import plot_bridge, plot_depth, plot_fit_2d, plot_guess_pair, plot_snapshots
from lessonlib.toy2d import target_sampler
from lessonlib.training import train
from tests.lessons.l05_stacking.conftest import RING


def test_every_figure_is_returned_with_its_panels_and_draws(trained, tmp_path):
    snaps = Snapshots(trained, RING.extent, n_grid=20, n_samples=50)
    res = train(trained, target_sampler(RING), steps=4, lr=1e-4, callback=snaps, callback_every=2)
    figs = [
        (plot_snapshots(snaps, res, entropy=1.7), 1 + 2 * 2),
        (plot_depth({1: (1.0, 0.01), 4: (0.5, 0.01)}, {1: make_flow(2, 1), 4: trained}, RING.extent, n_grid=20), 3),
        (plot_guess_pair(make_flow(2, 1), trained, RING.extent, n_grid=20), 2),
        (
            plot_fit_2d(
                trained, RING.sample(30, torch.Generator().manual_seed(0)).numpy(), RING.extent, ("a", "b"), 30
            ),
            2,
        ),
        (plot_bridge(bridge_profile(trained, RING), trained, RING.extent), 2),
    ]
    for i, (fig, panels) in enumerate(figs):
        assert isinstance(fig, matplotlib.figure.Figure), i
        colorbars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
        assert len(fig.axes) - len(colorbars) == panels, i
        assert colorbars, f"figure {i} shows densities: it needs a colorbar to read their values"  # every one here does
        path = tmp_path / f"f{i}.png"
        fig.savefig(path)
        assert path.stat().st_size > 5000
