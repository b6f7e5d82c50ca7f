"""The ContinuousFlow2D widget: every control over its whole range gives a picture, the two log-dets agree, mass is kept."""

import base64

import numpy as np
import pytest
from matplotlib.backend_bases import MouseEvent

from lessonlib.lessons.l06_where_flows_fit.widgets import ContinuousFlow2D


@pytest.fixture
def wd(make_widget):
    return make_widget(ContinuousFlow2D)


def check_state(w: ContinuousFlow2D) -> None:
    """What the widget shows obeys the maths, whatever the controls say."""
    n = w.numbers()
    assert w.problem is None, w.problem
    assert n["integral"] == pytest.approx(n["log_det_fd"], abs=1e-4), "integrated trace vs finite-difference log|det J|"
    assert n["mass"] == pytest.approx(1.0, abs=2e-4), "the density on the grid must still hold all the probability"
    assert n["log_pt"] == pytest.approx(n["log_p0"] - n["integral"], abs=1e-12)
    assert (n["z1"], n["z2"]) == pytest.approx((w.controls["z1"].value, w.controls["z2"].value))
    rgba = np.asarray(w.im_p.get_array())
    assert rgba.shape == (100, 100, 4) and rgba.dtype == np.uint8
    path = np.column_stack(w.paths[1].get_data())
    assert path.shape == (round(n["t"] / 0.1) + 1, 2) and np.isfinite(path).all()
    assert path[-1] == pytest.approx((n["x1"], n["x2"]))
    if n["t"] == 0 or n["strength"] == 0:
        assert n["integral"] == 0 and abs(n["log_det_fd"]) < 1e-9 and "Nothing has moved" in w.message.value
    else:
        assert "Both columns agree" in w.message.value


def test_default_picture_and_numbers(wd):
    n = wd.numbers()
    assert (n["t"], n["strength"], n["z1"], n["z2"]) == (1.0, 1.0, -0.2, 1.5)
    assert n["integral"] > 0 and "grew" in wd.message.value  # the default path starts in the red band
    for key in ("integrated trace", "log|det J| by finite differences", "mass on the grid"):
        assert key in wd.readout.value
    check_state(wd)


def test_sweep_every_control_over_its_full_range(wd):
    seen = {}

    def after(name, value):
        seen.setdefault(name, []).append(value)
        check_state(wd)

    wd.sweep(n=13, callback=after)
    assert set(seen) == {"t", "strength", "z1", "z2"}
    assert 0.0 in seen["t"] and 2.0 in seen["t"] and 0.0 in seen["strength"] and 1.2 in seen["strength"]


@pytest.mark.parametrize("t", [0.0, 0.7, 2.0])
@pytest.mark.parametrize("strength", [0.0, 0.3, 1.2])
@pytest.mark.parametrize("z", [(-3.0, -3.0), (3.0, 0.0), (0.0, 0.0), (-0.2, 1.5)])
def test_corners_and_centre_of_the_control_space(wd, t, strength, z):
    wd.set(t=t, strength=strength, z1=z[0], z2=z[1])
    check_state(wd)


def test_time_backwards_gives_the_same_picture_as_forwards(wd):
    """Frames are cached and extended step by step: going to t = 2 and back to t = 0.5 must give what a fresh widget gives."""
    wd.set(t=2.0)
    wd.set(t=0.5)
    cached = wd.numbers()
    picture = np.asarray(wd.im_p.get_array()).copy()
    wd.set(strength=0.5)
    wd.set(strength=1.0)  # drops the cache and recomputes from scratch
    assert wd.numbers() == pytest.approx(cached) and np.array_equal(np.asarray(wd.im_p.get_array()), picture)


def test_a_click_on_the_field_moves_the_tracked_start(wd):
    wd.fig.canvas.draw()
    x, y = wd.ax_v.transData.transform((1.23, -0.87))
    event = MouseEvent("button_press_event", wd.fig.canvas, x, y, button=1)
    wd.fig.canvas.callbacks.process("button_press_event", event)
    assert (wd.controls["z1"].value, wd.controls["z2"].value) == (1.2, -0.9)
    check_state(wd)
    outside = MouseEvent("button_press_event", wd.fig.canvas, 2, 2, button=1)  # a corner of the figure, off the axes
    wd.fig.canvas.callbacks.process("button_press_event", outside)
    assert (wd.controls["z1"].value, wd.controls["z2"].value) == (1.2, -0.9)


def test_reset_restores_every_control(wd):
    wd.set(t=0.3, strength=0.2, z1=2.0, z2=-2.0)
    wd.reset()
    assert {k: c.value for k, c in wd.controls.items()} == {"t": 1.0, "strength": 1.0, "z1": -0.2, "z2": 1.5}


def test_the_displayed_widget_carries_a_still_picture(wd):
    bundle = wd._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    png = base64.b64decode(bundle["image/png"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert bundle["image/png"] in bundle["text/html"]
