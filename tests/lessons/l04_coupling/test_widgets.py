"""CouplingExplorer: every control across its range, clicks, and the maths it displays."""

import math

import numpy as np
import pytest
import torch
from matplotlib.backend_bases import MouseEvent

from lessonlib.coupling import AffineCoupling
from lessonlib.lessons.l04_coupling.experiments import CurveConditioner
from lessonlib.lessons.l04_coupling.widgets import EXP_MODE, RAW_MODE, CouplingExplorer


@pytest.fixture
def explorer(make_widget):
    return make_widget(CouplingExplorer)


def check_state(wdg: CouplingExplorer) -> None:
    """What the widget shows obeys the maths at its current setting."""
    n = wdg.numbers()
    assert n["J11"] == 1.0 and n["J12"] == 0.0, "x1 = z1: first row of J is (1, 0)"
    assert math.isclose(n["det"], n["J11"] * n["J22"], rel_tol=1e-12, abs_tol=1e-300)
    assert math.isclose(n["log_det"], n["log_det_autograd"], rel_tol=1e-9, abs_tol=1e-9)
    cond = wdg.conditioner()
    s = float(cond.s(torch.tensor([n["z1"]], dtype=torch.float64)))
    want = s if not wdg.raw() else math.log(abs(s))
    assert math.isclose(n["log_det"], want, rel_tol=1e-9, abs_tol=1e-9)
    img = wdg.density_grid()
    assert img.shape == (wdg.N_PIX, wdg.N_PIX) and np.all(np.isfinite(img)) and np.all(img >= 0)
    assert img.max() > 0, "a picture exists"
    # the round trip from the picked x back through f
    x_back = wdg.forward_map(torch.tensor([[n["z1"], n["z2"]]], dtype=torch.float64))
    assert torch.allclose(x_back, wdg.point[None], atol=1e-9)


def test_default_state(explorer):
    assert explorer.problem is None
    check_state(explorer)
    assert "exactly" in explorer.J_text[0][1].get_text()
    assert "autograd" in explorer.readout.value


def test_sweep_every_control(explorer):
    seen = []

    def cb(name, value):
        seen.append(name)
        if explorer.problem is not None:
            # the only teaching message: a raw scale that crosses zero
            assert explorer.raw() and "reaches 0" in explorer.problem, explorer.problem
            x1 = torch.linspace(-explorer.LIM, explorer.LIM, 2001, dtype=torch.float64)
            sc = explorer.conditioner().s(x1)
            assert sc.min() <= 0 <= sc.max() or sc.abs().min() < 1e-9
        else:
            check_state(explorer)

    explorer.sweep(n=9, callback=cb)
    assert set(seen) == set(explorer.controls)


def test_sweep_in_raw_mode_and_the_message(explorer):
    explorer.controls["mode"].value = RAW_MODE
    assert explorer.problem and "reaches 0" in explorer.problem  # default a = 0: s = 0.6 sin(1.5 x1) crosses 0
    assert "reaches 0" in explorer.message.value
    explorer.set(a=1.0, b=0.5)  # s >= 0.5: invertible
    assert explorer.problem is None
    check_state(explorer)
    explorer.set(a=-1.0, b=0.5)  # s <= -0.5 < 0: invertible, orientation flipped
    assert explorer.problem is None
    check_state(explorer)
    assert explorer.numbers()["det"] < 0
    for name in "bcde":
        for v in np.linspace(explorer.controls[name].min, explorer.controls[name].max, 7):
            explorer.set(**{"a": 1.5, "b": 0.5, name: float(v)})
            assert explorer.problem is None or "reaches 0" in explorer.problem
            if explorer.problem is None:
                check_state(explorer)
    explorer.controls["mode"].value = EXP_MODE
    explorer.reset()
    assert explorer.problem is None


def _click(wdg, x1, x2):
    px, py = wdg.ax_x.transData.transform((x1, x2))
    ev = MouseEvent("button_press_event", wdg.fig.canvas, px, py, button=1)
    wdg.fig.canvas.callbacks.process("button_press_event", ev)


def test_clicks_pick_points(explorer):
    for x1, x2 in [(-3.0, -3.0), (0.0, 0.0), (2.5, -1.0), (1.2, 3.0)]:
        _click(explorer, x1, x2)
        n = explorer.numbers()
        assert abs(n["x1"] - x1) < 0.05 and abs(n["x2"] - x2) < 0.05
        assert explorer.problem is None
        check_state(explorer)
        mx, my = explorer.marker.get_data()
        assert abs(mx[0] - x1) < 0.05 and abs(my[0] - x2) < 0.05
    before = explorer.numbers()
    px, py = explorer.ax_curves.transData.transform((0.0, 0.0))  # a click on another panel is ignored
    explorer.fig.canvas.callbacks.process(
        "button_press_event", MouseEvent("button_press_event", explorer.fig.canvas, px, py, button=1)
    )
    assert explorer.numbers() == before
    for a in np.linspace(-1.5, 1.5, 5):  # the pick survives slider moves
        explorer.controls["a"].value = float(a)
        check_state(explorer)


def test_density_is_the_library_flow_and_integrates_to_one(explorer):
    explorer.set(a=-0.5, b=0.3, c=1.0, d=0.0, e=0.0)  # keep the mass inside the window
    from lessonlib.flows import Flow, standard_normal

    layer = AffineCoupling(
        torch.tensor([1.0, 0.0], dtype=torch.float64), CurveConditioner(-0.5, 0.3, 1.0, 0.0, 0.0), log_scale_bound=None
    )
    flow = Flow(standard_normal(2, torch.float64), layer)
    want = flow.log_prob(explorer._pixels).exp().reshape(explorer.N_PIX, explorer.N_PIX).numpy()
    assert np.allclose(explorer.density_grid(), want, rtol=1e-10, atol=1e-14)
    cell = (2 * explorer.LIM / (explorer.N_PIX - 1)) ** 2
    assert abs(explorer.density_grid().sum() * cell - 1) < 0.02


def test_update_moves_artists_not_new_ones(explorer):
    n_artists = len(explorer.fig.get_children()), [len(ax.get_children()) for ax in explorer.fig.axes]
    explorer.sweep(n=3)
    assert (len(explorer.fig.get_children()), [len(ax.get_children()) for ax in explorer.fig.axes]) == n_artists


def test_no_broken_image_before_the_view_exists(explorer):
    """An ipympl draw before the browser view connects stores an image URL without its data: prefix,
    and the browser then shows no figure. The widget must lay itself out without such a draw."""
    url = explorer.fig.canvas._data_url
    assert url is None or str(url).startswith("data:image/png;base64,")
