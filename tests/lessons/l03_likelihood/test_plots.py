"""Notebook 03's figures draw from a trained flow, and the samples they show follow its density."""

import matplotlib.figure
import pytest
import torch

from lessonlib.data import load_old_faithful
from lessonlib.flows import make_flow
from lessonlib.lessons.l03_likelihood.experiments import DensitySnapshots, sample_cdf_gap
from lessonlib.lessons.l03_likelihood.plots import plot_fits, plot_samples, plot_snapshots, plot_without_log_det
from lessonlib.training import train

X = torch.as_tensor(load_old_faithful()[:, :1])


@pytest.fixture(scope="module")
def trained():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # module fixtures run before the suite's float64 fixture
    try:
        flow = make_flow(1, layer="mixture", scale_to=X)
        snaps = DensitySnapshots(flow, X, snapshot_steps=(0, 25, 50))
        result = train(flow, X, steps=50, lr=0.05, batch_size=None, callback=snaps, callback_every=25)
    finally:
        torch.set_default_dtype(old)
    return flow, snaps, result


def test_every_figure_is_returned_with_its_panels(trained):
    flow, snaps, result = trained
    torch.manual_seed(0)
    with torch.no_grad():
        s = flow.sample(2000)
    figs = {
        "snapshots": (plot_snapshots(snaps, result.losses), 3),
        "fits": (plot_fits({"a": flow, "b": flow}, X), 2),
        "without log-det": (plot_without_log_det(flow, flow, X), 2),
        "samples": (plot_samples(flow, s, X), 1),
    }
    for name, (fig, panels) in figs.items():
        assert isinstance(fig, matplotlib.figure.Figure), name
        assert len(fig.axes) == panels, name
    assert [ax.get_title() for ax in figs["fits"][0].axes] == ["a", "b"]
    assert 0 < sample_cdf_gap(flow, s) < 0.1
