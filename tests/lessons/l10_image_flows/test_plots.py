"""Notebook 10's figures: each is a Figure with the parts the text refers to."""

import torch
from matplotlib.figure import Figure

from lessonlib.lessons.l08_images.experiments import load_digit_tensors
from lessonlib.lessons.l10_image_flows import experiments as E
from lessonlib.lessons.l10_image_flows import plots as P


def test_plot_squeeze_shows_the_digit_and_four_channels():
    fig = P.plot_squeeze(load_digit_tensors().train[0])
    assert isinstance(fig, Figure) and len(fig.axes) == 5
    assert [ax.get_title().split(":")[0] for ax in fig.axes[1:]] == [f"channel {k}" for k in range(4)]


def test_plot_ablation_has_a_row_per_variant(quick_study):
    fig = P.plot_ablation(quick_study, 2.423)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == list(E.VARIANTS)[::-1]
    assert len(ax.get_legend().get_texts()) == 3


def test_plot_levels_has_a_row_per_level(quick_study):
    flow = quick_study.models[E.VARIANTS[3]].flow
    eps = torch.randn(8, 64, generator=torch.Generator().manual_seed(0))
    assert len(P.plot_levels(flow, eps).axes) == 3
