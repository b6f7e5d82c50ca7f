"""Notebook 09's figures are built from small flows, with the panels the notebook describes."""

import torch
from matplotlib.figure import Figure

from lessonlib.flows import make_flow
from lessonlib.lessons.l09_inference.experiments import (
    LinearGaussian,
    challenger_posterior,
    quadrature,
    unnormalised_banana,
)
from lessonlib.lessons.l09_inference.plots import plot_amortised, plot_banana_fit, plot_posterior, plot_two_ways


def test_plot_banana_fit_shows_target_flow_and_the_loss_floor():
    log_p, log_z = unnormalised_banana()
    fig = plot_banana_fit(log_p, make_flow(2, 1, "iaf", hidden=(4,)), [3.0, 2.0, 1.5], log_z)
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    floor = [line for line in fig.axes[2].lines if line.get_linestyle() == "--"]
    assert floor and abs(floor[0].get_ydata()[0] + log_z) < 1e-12


def test_plot_two_ways_has_one_panel_per_kl(quick_fits):
    fig = plot_two_ways(quick_fits[-1])
    assert isinstance(fig, Figure) and [ax.get_title() for ax in fig.axes] == [
        "fitted by forward KL (samples)",
        "fitted by reverse KL (density)",
    ]


def test_plot_posterior_and_plot_amortised():
    post = challenger_posterior()
    quad = quadrature(post.log_joint, n=41)
    theta = torch.randn(200, 2, generator=torch.Generator().manual_seed(0)) * 0.5 + torch.tensor([-1.0, -1.8])
    fig = plot_posterior(quad, theta, post)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    encoder = make_flow(2, 1, hidden=(4,), context_dim=1)
    fig = plot_amortised(encoder, LinearGaussian(), (-1.0, 0.0, 2.0))
    assert isinstance(fig, Figure) and len(fig.axes) == 3
