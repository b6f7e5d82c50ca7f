"""The drag-the-transform widget: every control at every position gives a picture that obeys the maths."""

import matplotlib
import numpy as np
import pytest
from matplotlib.backend_bases import MouseEvent

from lessonlib.cov1d import MonotoneSpline
from lessonlib.lessons.l01_change_of_variables.widgets import BASES, KNOTS_Z, ChangeOfVariables1D

# the settings where the map is not invertible, and the sentence that must say so
INTENDED = ("zero slope", "f'(0) = 1 + a·b = 0")


@pytest.fixture(scope="module")
def widget():
    wd = ChangeOfVariables1D()
    wd.fig.canvas.draw()
    yield wd
    matplotlib.pyplot.close(wd.fig)


def check_picture(wd):
    """The numbers shown obey the formula, and the artists hold the picture of those numbers."""
    n = wd.numbers()
    assert n["mass_x"] == pytest.approx(n["mass_z"], abs=1e-7), n
    assert 0.0 <= n["mass_z"] <= 1.0
    assert n["p_x"] == pytest.approx(n["p_z"] / n["stretch"], rel=1e-9)
    assert n["stretch"] == pytest.approx(abs(n["derivative"])) and n["stretch"] > 0
    zc, xc = wd.line_pz.get_data(), wd.line_px.get_data()
    assert len(zc[0]) > 100 and np.all(np.isfinite(zc[1])) and np.all(np.asarray(xc[0]) >= 0)
    z, x = (np.asarray(v) for v in wd.curve.get_data())
    assert np.all(np.diff(x) > 0) or np.all(np.diff(x) < 0), "the drawn map must be strictly monotone"
    assert wd.fill_z.get_xy().shape[0] > 10 and wd.fill_x.get_xy().shape[0] > 10
    ky = np.asarray(wd.knot_marks.get_data()[1])
    np.testing.assert_allclose(ky, wd.knots_x)
    np.testing.assert_allclose(wd.fmap.forward(KNOTS_Z), wd.knots_x, atol=1e-12)


def test_default_picture(widget):
    widget.reset()
    assert widget.problem is None
    check_picture(widget)
    n = widget.numbers()
    assert n["stretch"] == pytest.approx(1.0) and n["mass_z"] == pytest.approx(0.3829249225, abs=1e-9)


def test_sweep_every_control_and_every_base(widget):
    seen_problems = set()
    steps = []

    def after(name, value):
        steps.append(name)
        if widget.problem is None:
            check_picture(widget)
        else:
            assert any(words in widget.problem for words in INTENDED), (name, value, widget.problem)
            assert "unexpected" not in widget.problem
            seen_problems.add(name)
        if len(steps) % 6 == 0:  # a full render now and then: drawing must not raise either
            widget.fig.canvas.draw()

    widget.sweep(n=13, callback=after)
    for base in BASES:  # the sweep of every control again, with each base
        widget.controls["base"].value = base
        for name in ("slope", "nonlinearity", "centre", "width"):
            c = widget.controls[name]
            for v in np.linspace(c.min, c.max, 5):
                c.value = float(v)
                after(name, v)
            c.value = widget._defaults[name]
    widget.reset()
    assert seen_problems == {"slope", "nonlinearity"}  # both ends where the map stops being invertible


def test_slope_zero_is_a_sentence_and_keeps_the_last_picture(widget):
    widget.reset()
    widget.controls["slope"].value = 2.0
    before = widget.numbers()
    widget.controls["slope"].value = 0.0
    assert "zero slope" in widget.problem and "zero slope" in widget.message.value
    assert widget.numbers() == before
    widget.controls["slope"].value = -1.0
    assert widget.problem is None and widget.numbers()["derivative"] < 0
    assert "decreasing" in widget.readout.value
    widget.reset()


def _event(wd, name, z, x, button=1):
    px, py = wd.ax_map.transData.transform((z, x))
    return MouseEvent(name, wd.fig.canvas, px, py, button=button)


def _drag(wd, i, x_to, steps=5):
    """Press on knot i, move to height x_to in a few steps, release: through the canvas callbacks."""
    canvas = wd.fig.canvas
    z0, x0 = KNOTS_Z[i], wd.knots_x[i]
    canvas.callbacks.process("button_press_event", _event(wd, "button_press_event", z0, x0))
    for x in np.linspace(x0, x_to, steps)[1:]:
        canvas.callbacks.process("motion_notify_event", _event(wd, "motion_notify_event", z0, x))
    canvas.callbacks.process("button_release_event", _event(wd, "button_release_event", z0, x_to))


def test_drag_a_knot(widget):
    widget.reset()
    _drag(widget, 4, 1.8)  # the knot at z = 1 goes up from x = 1 to x = 1.8 (the next one is at 2)
    assert widget.problem is None
    assert widget.knots_x[4] == pytest.approx(1.8, abs=0.02)
    check_picture(widget)
    # steeper between z = 0 and z = 1: the density there is diluted
    widget.set(centre=0.5, width=0.4)
    assert widget.numbers()["stretch"] > 1.5
    check_picture(widget)
    widget.reset()
    assert widget.knots_x[4] == pytest.approx(1.0)


def test_drag_that_breaks_monotonicity_is_refused_with_a_sentence(widget):
    widget.reset()
    _drag(widget, 4, -0.5, steps=9)  # the knot at z = 1 pulled below the knot at z = 0
    assert widget.problem is not None and widget.problem.startswith("Refused")
    assert "one z per x" in widget.problem and "Refused" in widget.message.value
    assert "unexpected" not in widget.problem
    # the map kept is the last invertible one: still strictly increasing, knot above its neighbour
    assert widget.knots_x[4] > widget.knots_x[3]
    MonotoneSpline(KNOTS_Z, widget.knots_x)
    check_picture(widget)
    # the next valid move clears the message
    _drag(widget, 4, 1.5)
    assert widget.problem is None and widget.message.value == ""
    widget.reset()


def test_a_burst_of_moves_ending_past_a_neighbour_draws_the_last_good_place(widget, monkeypatch):
    """A loaded kernel draws a drag's moves that came faster than frames as one frame, of the latest move. When that
    move is refused, the frame shows the move before it, with the refusal's sentence, as the drag's film does."""
    widget.reset()
    drawn = []
    monkeypatch.setattr(widget, "request_refresh", lambda *a, **k: drawn.append(widget._trial))  # no frame yet
    _drag(widget, 4, 2.6, steps=9)  # 1.2, 1.4, ... 2.6: past the knot at z = 2 (x = 2) from 2.2 on
    monkeypatch.undo()
    widget.refresh()  # the one frame of the burst
    assert len(drawn) == 8
    assert widget.knots_x[4] == pytest.approx(1.8) and widget.knots_x[4] < widget.knots_x[5]
    assert widget.problem.startswith("Refused") and "Refused" in widget.message.value
    check_picture(widget)
    _drag(widget, 4, 1.5)  # a good move clears the sentence
    assert widget.problem is None and widget.message.value == ""
    widget.reset()


def test_press_away_from_knots_does_nothing(widget):
    widget.reset()
    before = widget.knots_x.copy()
    canvas = widget.fig.canvas
    canvas.callbacks.process("button_press_event", _event(widget, "button_press_event", 0.5, -4.0))
    canvas.callbacks.process("motion_notify_event", _event(widget, "motion_notify_event", 0.5, 3.0))
    canvas.callbacks.process("button_release_event", _event(widget, "button_release_event", 0.5, 3.0))
    np.testing.assert_array_equal(widget.knots_x, before)


def test_drag_on_a_decreasing_map(widget):
    widget.reset()
    widget.controls["slope"].value = -1.0
    _drag(widget, 2, 1.5)  # z = -1 knot (x = 1) moved to 1.5: still decreasing
    assert widget.problem is None and widget.knots_x[2] == pytest.approx(1.5, abs=0.02)
    check_picture(widget)
    _drag(widget, 2, -0.5)  # below the knot at z = 0 (x = 0): would turn the map around
    assert widget.problem and widget.problem.startswith("Refused")
    widget.reset()


def test_what_the_notebook_invites_you_to_try(widget):
    """The 'things to try' list of notebook 01, checked."""
    widget.reset()
    widget.controls["slope"].value = 0.3  # squeezing: the pushed density towers above the base
    px_peak = float(np.max(widget.line_px.get_data()[0]))
    pz_peak = float(np.max(widget.line_pz.get_data()[1]))
    assert widget.problem is None and px_peak > 3 * pz_peak
    widget.controls["slope"].value = -1.0  # decreasing: still a positive density
    assert widget.problem is None and np.all(np.asarray(widget.line_px.get_data()[0]) >= 0)
    widget.reset()
    widget.set(nonlinearity=1.5, centre=0.3, width=0.1)  # a narrow interval: widths ratio -> |f'(centre)|
    n = widget.numbers()
    assert n["width_x"] / n["width_z"] == pytest.approx(n["stretch"], rel=0.02)
    widget.reset()


def test_p_x_axis_holds_still_so_the_flattening_shows(widget):
    """From slope 1 to slope 2 the pushed density halves; its axis keeps its scale, so the curve visibly drops."""
    widget.reset()
    left = widget.ax_px.get_xlim()[0]
    peak = np.max(widget.line_px.get_xdata())
    widget.controls["slope"].value = 2.0
    assert widget.ax_px.get_xlim()[0] == left
    assert np.max(widget.line_px.get_xdata()) == pytest.approx(peak / 2, rel=1e-3)
    widget.controls["slope"].value = 0.3  # 3.3 times the peak: beyond the axis, which grows
    assert widget.ax_px.get_xlim()[0] > np.max(widget.line_px.get_xdata()) > left
    widget.reset()
    assert widget.ax_px.get_xlim()[0] == pytest.approx(left)
