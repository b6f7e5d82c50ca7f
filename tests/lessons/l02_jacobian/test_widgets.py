"""The LinearMap2D widget: every control over its full range, det = 0 exactly, and drags by synthetic mouse events."""

import matplotlib
import numpy as np
import pytest
from matplotlib.backend_bases import MouseEvent

from lessonlib.lessons.l02_jacobian.widgets import LinearMap2D
from lessonlib.linear2d import MAPS, det2, get_map


@pytest.fixture
def wd(make_widget):
    return make_widget(LinearMap2D)


def check_linear_state(w: LinearMap2D) -> None:
    """What the linear mode shows obeys the maths: area = |det A|, density at 0 = p_Z(0) / |det A|."""
    A = w.matrix()
    n = w.numbers()
    img = np.asarray(w.im_x.get_array())
    assert img.shape == (w.n_grid, w.n_grid) and np.all(np.isfinite(img))
    if n["collapsed"]:
        assert abs(det2(A)) < 1e-9 and n["area"] == pytest.approx(0.0, abs=1e-9)
        assert w.line_x.get_visible() and not w.sq_x.get_visible() and img.max() == 0.0
        assert "same line" in w.problem or "zero matrix" in w.problem
        assert "no inverse" in w.message.value
    else:
        assert w.problem is None, w.problem
        assert n["det"] == pytest.approx(det2(A), rel=1e-12)
        assert n["area"] == pytest.approx(abs(det2(A)), rel=1e-9)
        assert n["density_at_origin"] == pytest.approx(1 / (2 * np.pi * abs(det2(A))), rel=1e-12)
        assert img.max() <= n["density_at_origin"] * (1 + 1e-12)
        assert w.sq_x.get_visible() and not w.line_x.get_visible()
        colour = w.sq_x.get_facecolor()[:3]
        want = matplotlib.colors.to_rgb("#1f6fb4" if det2(A) > 0 else "#d9651a")
        assert np.allclose(colour, want), "orientation colour"
        if det2(A) < 0:
            assert "flips orientation" in w.message.value or "Nearly collapsed" in w.message.value


def test_default_picture_and_numbers(wd):
    n = wd.numbers()
    assert n["det"] == 1.0 and n["area"] == pytest.approx(1.0)
    assert n["mass"] == pytest.approx(1.0, abs=0.02)  # the pushed density still integrates to 1 on the window
    check_linear_state(wd)


def test_sweep_every_control_over_its_full_range(wd):
    seen = {}

    def after(name, value):
        seen.setdefault(name, []).append(value)
        if wd.controls["mode"].value == "linear":
            check_linear_state(wd)
        else:
            assert wd.problem is None and np.isfinite(list(wd.numbers().values())).all()

    wd.sweep(n=17, callback=after)
    assert set(seen) == set(wd.controls)
    assert 0.0 in seen["a11"] and 0.0 in seen["a22"]  # passes through det A = 0 exactly


@pytest.mark.parametrize(
    "values",
    [
        dict(a11=1.0, a12=2.0, a21=0.5, a22=1.0),
        dict(a11=0.0, a12=0.0, a21=0.0, a22=0.0),
        dict(a11=2.0, a12=-2.0, a21=-1.0, a22=1.0),
        dict(a11=0.0, a12=1.0, a21=0.0, a22=1.0),
    ],
)
def test_det_exactly_zero_never_raises_and_draws_the_collapse(wd, values):
    wd.set(**values)
    assert wd.numbers()["collapsed"] == 1.0
    check_linear_state(wd)
    wd.fig.canvas.draw()
    wd.reset()
    assert wd.problem is None and wd.numbers()["det"] == 1.0


def test_near_collapse_and_reflection_messages(wd):
    wd.set(a11=1.0, a12=1.0, a21=0.9, a22=1.0)
    assert "Nearly collapsed" in wd.message.value
    check_linear_state(wd)
    wd.set(a11=0.0, a12=1.0, a21=1.0, a22=0.0)
    assert wd.numbers()["det"] == -1.0 and "flips orientation" in wd.message.value
    check_linear_state(wd)


def test_a_grid_of_all_four_entries(wd):
    vals = [-2.0, -0.5, 0.0, 1.0, 2.0]
    for a11 in vals:
        for a12 in vals:
            for a21 in vals:
                for a22 in vals:
                    wd.set(a11=a11, a12=a12, a21=a21, a22=a22)
                    check_linear_state(wd)


@pytest.mark.parametrize("name", list(MAPS))
def test_nonlinear_mode_local_jacobian(wd, name):
    wd.set(mode="nonlinear", map=name)
    m = get_map(name)
    for z1 in np.linspace(-2, 2, 9):
        for z2 in np.linspace(-2, 2, 9):
            wd.set(z1=float(z1), z2=float(z2))
            n = wd.numbers()
            z = np.array([[z1, z2]])
            assert wd.problem is None
            assert n["det_J"] == pytest.approx(m.det(z)[0], rel=1e-12)
            assert n["area_ratio"] == pytest.approx(abs(n["det_J"]), rel=0.15)  # a square of side 0.6: close, not equal
            assert n["density_at_point"] == pytest.approx(
                np.exp(-0.5 * (z1**2 + z2**2)) / (2 * np.pi * abs(n["det_J"])), rel=1e-12
            )
            assert np.all(np.isfinite(np.asarray(wd.im_x.get_array())))
    assert not wd.tips.get_visible() and wd.point_z.get_visible()
    assert wd._linear_box.layout.display == "none"


# -- drags: synthetic mouse events on the canvas callbacks -------------------------------------
def _event(w, name, ax, xy, button=1):
    x, y = ax.transData.transform(xy)
    ev = MouseEvent(name, w.fig.canvas, x, y, button=button)
    w.fig.canvas.callbacks.process(name, ev)


def drag(w, ax, start, path):
    w.fig.canvas.draw()
    _event(w, "button_press_event", ax, start)
    for p in path:
        _event(w, "motion_notify_event", ax, p, button=None)
    _event(w, "button_release_event", ax, path[-1])


def test_drag_the_tip_of_a1_and_a2_down_to_det_zero(wd):
    drag(wd, wd.ax_x, (1.0, 0.0), [(1.2, -0.2), (1.5, -0.5)])
    A = wd.matrix()
    assert A[:, 0].tolist() == [1.5, -0.5] and A[:, 1].tolist() == [0.5, 1.0]
    check_linear_state(wd)
    drag(wd, wd.ax_x, (0.5, 1.0), [(0.6, 0.2), (0.751, -0.249)])  # snaps to (0.75, -0.25): parallel to a1
    assert wd.matrix()[:, 1].tolist() == [0.75, -0.25]
    assert det2(wd.matrix()) == 0.0 and wd.numbers()["collapsed"] == 1.0
    check_linear_state(wd)


def test_a_click_away_from_the_tips_changes_nothing(wd):
    before = wd.matrix().copy()
    drag(wd, wd.ax_x, (-2.0, -2.0), [(-1.0, -1.0)])
    assert np.array_equal(wd.matrix(), before)
    drag(wd, wd.ax_z, (1.0, 0.0), [(2.0, 2.0)])  # the base panel is not draggable in linear mode
    assert np.array_equal(wd.matrix(), before)


def test_drag_the_point_in_nonlinear_mode(wd):
    wd.set(mode="nonlinear")
    drag(wd, wd.ax_z, (1.0, 0.5), [(0.0, 1.0), (-1.02, 1.49)])
    assert (wd.controls["z1"].value, wd.controls["z2"].value) == (-1.0, 1.5)
    assert wd.numbers()["det_J"] == pytest.approx(get_map("triangular").det(np.array([[-1.0, 1.5]]))[0])


def test_update_is_fast_and_draws_without_error(wd):
    for v in np.linspace(-2, 2, 9):
        wd.controls["a12"].value = float(v)
        wd.fig.canvas.draw()
    assert np.median(wd.update_times_ms) < 200  # the callback itself; generous, the draw is measured separately
