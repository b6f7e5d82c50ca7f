"""Notebook 10's widget: every slider position gives a picture and a readout that obeys the maths."""

import numpy as np
import pytest
import torch

from lessonlib.lessons.l10_image_flows import experiments as E
from lessonlib.lessons.l10_image_flows.widgets import ScaleExplorer, control_name


@pytest.fixture(scope="module")
def explorer(quick_study):
    eps = torch.randn(8, 64, generator=torch.Generator().manual_seed(4))
    w = ScaleExplorer(quick_study.models[E.VARIANTS[3]].flow, eps)
    yield w
    import matplotlib.pyplot as plt

    plt.close(w.fig)


def test_one_slider_and_one_row_per_level(explorer):
    assert list(explorer.controls) == ["level_1", "level_2", "level_3"]
    assert [c.description for c in explorer.controls.values()] == ["T, level 1", "T, level 2", "T, level 3"]
    assert len(explorer.rows) == 3 and all(c.value == 0.7 for c in explorer.controls.values())


def test_every_position_draws_and_obeys_the_maths(explorer):
    seen = []

    def check(name, value):
        n = explorer.numbers()
        assert explorer.problem is None, (name, value, explorer.problem)
        for lv in ("level 1", "level 2", "level 3"):
            assert n[f"z norm {lv}"] == pytest.approx(n[f"T {lv}"] * n[f"eps norm {lv}"])
            assert n[f"spread {lv}"] >= 0
            assert f"T = {n[f'T {lv}']:.2f}" in explorer.readout.value
        for row in explorer.rows:
            a = np.asarray(row.get_array(), dtype=float)
            assert np.isfinite(a[~np.isnan(a)]).all() and np.nanmax(a) <= 17 and np.nanmin(a) >= 0
        seen.append(name)

    explorer.sweep(n=5, callback=check)
    assert set(seen) == {"level_1", "level_2", "level_3"}


@pytest.mark.parametrize("level", ["level 1", "level 2", "level 3"])
def test_temperature_zero_gives_one_picture_eight_times(explorer, level):
    explorer.set(**{control_name(level): 0.0})
    row = np.asarray(explorer.rows[["level 1", "level 2", "level 3"].index(level)].get_array())
    for k in range(1, 8):
        np.testing.assert_allclose(row[:, 9 * k : 9 * k + 8], row[:, :8], atol=1e-4)
    assert explorer.numbers()[f"spread {level}"] < 1e-4
    explorer.reset()
    assert explorer.controls[control_name(level)].value == 0.7


def test_the_other_rows_keep_the_first_draw(explorer):
    explorer.reset()
    rows = [np.asarray(r.get_array()) for r in explorer.rows]
    # image 1 of every row uses eps[0] at every level: the same picture in all three rows
    np.testing.assert_allclose(rows[0][:, :8], rows[1][:, :8], atol=1e-4)
    np.testing.assert_allclose(rows[0][:, :8], rows[2][:, :8], atol=1e-4)


def test_a_flow_without_levels_is_refused(quick_study):
    with pytest.raises(ValueError, match="multi-scale"):
        ScaleExplorer(quick_study.models[E.VARIANTS[0]].flow, torch.zeros(8, 64))
