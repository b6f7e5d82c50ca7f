"""Notebook 09's widget: every separation shows its own precomputed fits, and bad input is explained."""

from dataclasses import replace

import numpy as np
import pytest

from lessonlib.lessons.l09_inference.experiments import FITS
from lessonlib.lessons.l09_inference.widgets import ModeExplorer


def test_mode_explorer_shows_the_fit_of_each_separation(make_widget, quick_fits):
    explorer = make_widget(ModeExplorer, quick_fits)
    assert explorer.problem is None
    for fit in quick_fits:
        explorer.set(separation=fit.separation)
        assert explorer.problem is None and explorer.numbers()["separation"] == fit.separation
        for name in FITS:
            np.testing.assert_allclose(explorer.images[name].get_array(), np.exp(fit.log_q[name]))
        x, _ = explorer.circles[FITS[0]].get_data()
        assert np.nanmax(x) == pytest.approx(fit.separation + 1.0)  # the far mode's 2-sigma circle
        assert explorer.numbers()["reverse_far"] == fit.far_share[FITS[1]]
        assert f"modes {fit.separation:.1f} apart" in explorer.readout.value
    explorer.reset()
    assert explorer.numbers()["separation"] == quick_fits[0].separation


def test_mode_explorer_explains_bad_input(quick_fits):
    with pytest.raises(ValueError, match="at least one fit"):
        ModeExplorer([])
    with pytest.raises(ValueError, match="evenly spaced"):
        ModeExplorer([quick_fits[0], quick_fits[1], replace(quick_fits[2], separation=7.5)])
