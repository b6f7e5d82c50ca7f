"""Notebook 08's figures: each is a Figure with the parts the text refers to."""

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from lessonlib.data import split_digits
from lessonlib.lessons.l08_images import experiments as E
from lessonlib.lessons.l08_images import plots as P


@pytest.fixture(scope="module")
def flow():
    return E.image_flow(n_layers=2, hidden=16)


def test_digit_strip_lays_images_out_with_gaps():
    images = np.arange(3 * 64, dtype=float).reshape(3, 64)
    strip = P.digit_strip(images, per_row=2)
    assert strip.shape == (17, 17)
    np.testing.assert_array_equal(strip[:8, 9:17], images[1].reshape(8, 8))
    assert np.isnan(strip[8]).all() and np.isnan(strip[9:, 9:]).all()  # the gap row, the empty slot


def test_static_figures(flow):
    s = split_digits()
    assert isinstance(P.plot_digits(s.train, s.train_labels), Figure)
    run = E.CollapseRun([50, 100], [2.0, 1.0], [3.0, 800.0], flow)
    grid = np.linspace(-0.5, 1.5, 41)
    fig = P.plot_collapse(run, grid, {"a": -np.abs(grid) * 900}, 0.0)
    assert fig.axes[0].get_yscale() == "symlog" and fig.axes[1].get_ylim()[0] == pytest.approx(-800)
    assert isinstance(P.plot_slices(grid, {"a": grid, "b": -grid}, 0.0, "t"), Figure)
    masks = [layer.mask for layer in flow.bijector.layers[:2]]
    assert len(P.plot_masks(masks, ["1", "2"]).axes) == 2
    hist = E.History(steps=[10, 20], train_bpd=[2.5, 2.2], val_bpd=[2.6, 2.4], best_step=20, best_val=2.4)
    fig = P.plot_training(hist, {"categorical": 2.44, "Gaussian": 2.98})
    assert len(fig.axes[0].get_legend().get_texts()) == 5
    eps = torch.randn(4, 64, generator=torch.Generator().manual_seed(0))
    assert len(P.plot_temperatures(flow, eps, [0.0, 1.0]).axes) == 2
    d = E.load_digit_tensors()
    assert len(P.plot_interpolation(flow, [(d.test[0], d.test[1])], n=5).axes) == 1
