"""Notebook 03's widget (every slider, the Train button) and the live view of a training run."""

import numpy as np
import pytest
import torch

from lessonlib.data import load_old_faithful
from lessonlib.flows import make_flow
from lessonlib.lessons.l03_likelihood.widgets import LiveTraining, NLLExplorer
from lessonlib.training import train

X = torch.as_tensor(load_old_faithful()[:, :1])


@pytest.fixture(scope="module")
def explorer():
    return NLLExplorer(X)


def test_every_slider_position_draws_and_obeys_the_maths(explorer):
    seen = []

    def check(name, value):
        n = explorer.numbers()
        assert explorer.problem is None, (name, value, explorer.problem)
        assert n[name] == pytest.approx(value)
        assert abs(n["nll"] + n["base_term"] + n["log_det_term"]) < 1e-12
        y = explorer.line.get_ydata()
        assert np.all(np.isfinite(y)) and np.all(y >= 0) and y.max() > 0
        assert [b.get_height() for b in explorer.bars][2] == pytest.approx(np.clip(-n["nll"], -5.8, 2.8))
        assert abs(explorer.mass() - 1) < 1e-4, (name, value)  # the log-det keeps the mass at one
        assert n["nll"] > 0.9  # in minutes no setting makes the density exceed 1 over most eruptions
        seen.append(name)

    explorer.sweep(n=7, callback=check)
    assert set(seen) == set(NLLExplorer.RANGES)
    assert "NLL" in explorer.readout.value


def test_log_scale_trades_the_two_terms(explorer):
    explorer.reset()
    terms = []
    for v in (0.5, 0.0, -0.5):
        explorer.controls["log_scale"].value = v
        n = explorer.numbers()
        terms.append((n["base_term"], n["log_det_term"]))
        assert n["nll"] > 0.9 and "positive" in explorer.readout.value  # minutes: the NLL stays positive
    assert terms[0][1] < terms[1][1] < terms[2][1]  # narrower: the log-det term grows
    assert terms[0][0] > terms[1][0] > terms[2][0]  # ... and the base term falls: the tug of war
    explorer.reset()


def test_train_button_fits_and_moves_the_sliders(explorer):
    explorer.reset()
    start = explorer.numbers()["nll"]
    explorer.train_button.click()
    first = list(explorer.train_losses)
    end = explorer.numbers()
    assert end["nll"] < 1.05 < start
    assert first[-1] < first[0]
    for k, (_, lo, hi, _) in NLLExplorer.RANGES.items():
        assert lo <= end[k] <= hi
    assert end["separation"] > 2.0  # it found the two modes
    assert "Trained" in explorer.message.value and not explorer.train_button.disabled
    explorer.reset()
    explorer.train()
    assert explorer.train_losses == first  # deterministic from the same start
    explorer.reset()


def test_update_cost_is_small_compared_to_a_draw(explorer):
    explorer.update_times_ms.clear()
    for v in np.linspace(-1.5, 1.0, 10):
        explorer.controls["log_scale"].value = float(v)
    assert len(explorer.update_times_ms) == 10
    explorer.reset()


def test_live_training_keeps_its_snapshots_and_moves_its_curves():
    flow = make_flow(1, layer="mixture", scale_to=X)
    live = LiveTraining(flow, X, steps=50, snapshot_steps=(0, 25, 50))
    train(flow, X, steps=50, lr=0.05, batch_size=None, callback=live, callback_every=25)
    assert sorted(live.snapshots) == [0, 25, 50]
    assert live.loss_line.get_xdata()[-1] == 50
    np.testing.assert_array_equal(live.fit_line.get_ydata(), live.snapshots[50])
    assert not np.array_equal(live.snapshots[0], live.snapshots[50])  # training moved the density


@pytest.mark.parametrize(
    "x, error, words",
    [
        (torch.zeros(0), ValueError, "the data x is empty"),
        (torch.full((5,), float("nan")), ValueError, "NaN or infinity"),
        ("abc", TypeError, "numbers"),
    ],
)
def test_nll_explorer_refuses_data_it_cannot_score(x, error, words):
    with pytest.raises(error, match=words):
        NLLExplorer(x)
