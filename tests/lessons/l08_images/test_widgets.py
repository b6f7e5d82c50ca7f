"""Notebook 08's widget: every slider position gives a picture and a readout that obeys the maths."""

import math

import numpy as np
import pytest
import torch

from lessonlib.lessons.l08_images import experiments as E
from lessonlib.lessons.l08_images.widgets import LatentExplorer


@pytest.fixture(scope="module")
def explorer():
    d = E.load_digit_tensors()
    flow = E.image_flow(n_layers=2, hidden=16)
    E.train_with_validation(flow, d, steps=40, every=20, lr=3e-3)
    eps = torch.randn(8, 64, generator=torch.Generator().manual_seed(4))
    w = LatentExplorer(flow, d.test[0], d.test[1], eps)
    yield w
    import matplotlib.pyplot as plt

    plt.close(w.fig)


def test_every_position_draws_and_obeys_the_maths(explorer):
    seen = []

    def check(name, value):
        n = explorer.numbers()
        assert explorer.problem is None, (name, value, explorer.problem)
        assert n["latent_norm"] == pytest.approx(n["temperature"] * n["eps_norm"])
        assert math.isfinite(n["bpd_at_t"])
        for image in (explorer.samples_image, explorer.line_image):
            a = np.asarray(image.get_array(), dtype=float)
            assert np.isfinite(a[~np.isnan(a)]).all() and np.nanmax(a) <= 17
        assert f"T = {n['temperature']:.2f}" in explorer.readout.value
        seen.append(name)

    explorer.sweep(n=7, callback=check)
    assert set(seen) == {"temperature", "t"}


def test_the_ends_of_the_line_are_the_digits(explorer):
    d = E.load_digit_tensors()
    for t, digit in ((0.0, d.test[0]), (1.0, d.test[1])):
        x, _ = explorer.image_at(t)
        assert torch.allclose(x, digit + 0.5, atol=1e-3)
    explorer.set(t=1.0)
    middle = np.asarray(explorer.line_image.get_array())[:, 10:18]  # the middle picture of the strip
    np.testing.assert_allclose(middle, (d.test[1] + 0.5).reshape(8, 8).numpy(), atol=1e-3)
    explorer.reset()


def test_temperature_zero_gives_one_picture_eight_times(explorer):
    explorer.set(temperature=0.0)
    strip = np.asarray(explorer.samples_image.get_array())
    first = strip[:, :8]
    for k in range(1, 8):
        np.testing.assert_allclose(strip[:, 9 * k : 9 * k + 8], first, atol=1e-5)
    assert explorer.numbers()["latent_norm"] == 0
    explorer.reset()
    assert explorer.controls["temperature"].value == 0.7 and explorer.controls["t"].value == 0.5
