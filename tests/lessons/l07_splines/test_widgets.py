"""SplineExplorer and SplineCoupling2D: every control across its range, drags on the canvas, and the maths they show."""

import math

import numpy as np
import pytest
import torch
from matplotlib.backend_bases import MouseEvent

from lessonlib.flows import Flow, standard_normal
from lessonlib.lessons.l07_splines.experiments import push
from lessonlib.lessons.l07_splines.widgets import (
    DEFAULT_KNOTS,
    GAP,
    MIN_SLOPE,
    SplineCoupling2D,
    SplineExplorer,
)
from lessonlib.splines import check_knots


@pytest.fixture
def explorer(make_widget):
    return make_widget(SplineExplorer)


def check_state(wdg: SplineExplorer) -> None:
    """What the widget shows obeys the maths at its current setting."""
    n = wdg.numbers()
    check_knots(wdg.knots)  # increasing knots, positive slopes
    for side in ("left", "right"):
        assert math.isclose(n[f"mass_z_{side}"], n[f"mass_x_{side}"], rel_tol=1e-4, abs_tol=1e-7), n
    assert abs(n["total_x"] - 1) < 1e-5
    assert math.isclose(n["p_x"], n["p_z"] / n["slope"], rel_tol=1e-9)
    z, x, d = (t.numpy() for t in wdg.knots)
    j = int(n["knot"])
    assert (n["z"], n["x"], n["slope"]) == (z[j], x[j], d[j])
    c = wdg.controls
    assert c["knot"].value == j and c["z"].value == z[j] and c["x"].value == x[j]
    assert math.isclose(c["z"].min, z[j - 1] + GAP) and math.isclose(c["z"].max, z[j + 1] - GAP)
    assert math.isclose(c["x"].min, x[j - 1] + GAP) and math.isclose(c["x"].max, x[j + 1] - GAP)


def test_default_state(explorer):
    assert explorer.problem is None
    check_state(explorer)
    z, x, d = (t.numpy() for t in explorer.knots)
    assert np.array_equal(z, DEFAULT_KNOTS[0]) and np.array_equal(x, DEFAULT_KNOTS[1])
    assert "mass in z" in explorer.readout.value and "quadrature" in explorer.readout.value


def test_sweep_every_control(explorer):
    seen = set()

    def cb(name, value):
        seen.add(name)
        assert explorer.problem is None, (name, value, explorer.problem)
        check_state(explorer)

    explorer.sweep(n=7, callback=cb)
    assert seen == set(explorer.controls)


def test_the_knot_sliders_move_the_knot_and_only_it(explorer):
    before = [t.clone() for t in explorer.knots]
    explorer.controls["x"].value = -2.0
    after = explorer.knots
    assert after.v[1] == -2.0 and torch.equal(after.u, before[0]) and torch.equal(after.d, before[2])
    assert torch.equal(torch.cat([after.v[:1], after.v[2:]]), torch.cat([before[1][:1], before[1][2:]]))
    explorer.controls["knot"].value = 3
    explorer.controls["slope"].value = 0.3
    assert explorer.knots.d[3] == 0.3 and explorer.knots.d[1] == before[2][1]
    check_state(explorer)


def test_more_bins_keep_the_curve(explorer):
    z = np.linspace(-3, 3, 7)  # on the new knots the new spline equals the old one
    old, _ = push(z, explorer.knots)
    explorer.controls["bins"].value = 6
    assert explorer.n_bins == 6 and "6 bins" in explorer.message.value
    new, _ = push(z, explorer.knots)
    assert np.allclose(new, old, atol=1e-12)
    check_state(explorer)


def drag(wdg, start, end, steps=5):
    """Press at data point ``start`` of the map panel, move to ``end`` in steps, release."""
    canvas = wdg.fig.canvas
    px = [wdg.ax_map.transData.transform(p) for p in np.linspace(start, end, steps + 1)]
    canvas.callbacks.process("button_press_event", MouseEvent("button_press_event", canvas, *px[0], button=1))
    for p in px[1:]:
        ev = MouseEvent("motion_notify_event", canvas, *p)
        ev.inaxes, ev.xdata, ev.ydata = wdg.ax_map, *wdg.ax_map.transData.inverted().transform(p)
        canvas.callbacks.process("motion_notify_event", ev)
    canvas.callbacks.process("button_release_event", MouseEvent("button_release_event", canvas, *px[-1], button=1))


def test_dragging_a_knot_moves_it_and_stops_it_at_its_neighbours(explorer):
    z, x, _ = (t.numpy() for t in explorer.knots)
    drag(explorer, (z[2], x[2]), (z[2] + 0.3, x[2] - 0.4))
    assert explorer.numbers()["knot"] == 2 and explorer.controls["knot"].value == 2
    assert math.isclose(explorer.knots.u[2], z[2] + 0.3, abs_tol=1e-6) and math.isclose(
        explorer.knots.v[2], x[2] - 0.4, abs_tol=1e-6
    )
    assert explorer.message.value == ""
    check_state(explorer)
    drag(explorer, (z[2] + 0.3, x[2] - 0.4), (3.5, 3.5))  # far past knot 3: it stops GAP before it
    assert math.isclose(explorer.knots.u[2], z[3] - GAP) and math.isclose(explorer.knots.v[2], x[3] - GAP)
    assert explorer.problem is None and "stops between its neighbours" in explorer.message.value
    assert "no inverse" in explorer.message.value
    check_state(explorer)


def test_dragging_a_slope_handle_sets_the_slope_and_never_reaches_zero(explorer):
    hz, hx = explorer.handle_points()
    z, x, _ = (t.numpy() for t in explorer.knots)
    drag(explorer, (hz[2], hx[2]), (z[2] + 0.4, x[2] + 0.8))  # slope 2
    assert math.isclose(explorer.knots.d[2], 2.0, rel_tol=1e-6) and explorer.message.value == ""
    hz, hx = explorer.handle_points()
    drag(explorer, (hz[2], hx[2]), (z[2] + 0.5, x[2] - 0.5))  # below the knot: a negative slope is refused
    assert explorer.knots.d[2] == MIN_SLOPE and "stops at 0.05" in explorer.message.value
    assert "turn back" in explorer.message.value
    check_state(explorer)


def test_move_knot_refuses_end_knots_with_a_sentence(explorer):
    explorer.move_knot(3, 0.0, 0.0)
    check_state(explorer)
    with pytest.raises(ValueError, match="end knot"):
        explorer.move_knot(0, 0.0, 0.0)


def test_reset_restores_the_start(explorer):
    explorer.move_knot(2, 0.0, 0.4)
    explorer.set_slope(4, 3.0)
    explorer.controls["bins"].value = 3
    explorer.controls["base"].value = "Logistic(0, 0.6)"
    explorer.reset()
    z, x, d = (t.numpy() for t in explorer.knots)
    assert np.array_equal(z, DEFAULT_KNOTS[0]) and np.array_equal(d, DEFAULT_KNOTS[2])
    assert explorer.controls["base"].value == "Normal(0, 1)" and explorer.controls["knot"].value == 1
    check_state(explorer)


def test_update_moves_artists_not_new_ones(explorer):
    counts = len(explorer.fig.get_children()), [len(ax.get_children()) for ax in explorer.fig.axes]
    explorer.sweep(n=3)
    assert (len(explorer.fig.get_children()), [len(ax.get_children()) for ax in explorer.fig.axes]) == counts


# --- the 2D view -----------------------------------------------------------------------------------


@pytest.fixture
def coupling(make_widget):
    return make_widget(SplineCoupling2D)


def check_coupling(wdg: SplineCoupling2D) -> None:
    n = wdg.numbers()
    assert n["J12"] == 0.0 and math.isclose(n["log_det"], n["log_det_autograd"], rel_tol=1e-9, abs_tol=1e-12)
    want = Flow(standard_normal(2, torch.float64), wdg.layer()).log_prob(wdg.pixels()).exp().detach()
    assert np.allclose(wdg.density_grid(), want.reshape(wdg.N_PIX, wdg.N_PIX).numpy(), rtol=1e-10, atol=1e-14)


def test_coupling_view_is_the_library_layer(coupling):
    assert coupling.problem is None
    check_coupling(coupling)
    coupling.set(bend=0.0)  # no bend: straight bins, the identity, the base density itself
    n = coupling.numbers()
    assert abs(n["z2"] - 0.5) < 1e-12 and abs(n["log_det"]) < 1e-12


def test_coupling_view_sweep(coupling):
    seen = set()

    def cb(name, value):
        seen.add(name)
        assert coupling.problem is None
        check_coupling(coupling)

    coupling.sweep(n=5, callback=cb)
    assert seen == set(coupling.controls)
