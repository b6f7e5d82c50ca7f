"""Notebook 03's widget (every slider, the Train button), figures and exercise checkers."""

import math

import matplotlib

matplotlib.use("module://ipympl.backend_nbagg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from lessonlib import exercises03 as ex  # noqa: E402
from lessonlib.data import load_old_faithful  # noqa: E402
from lessonlib.training import train  # noqa: E402
from lessonlib.widget_nll import (  # noqa: E402
    LiveTraining, NLLExplorer, make_flow, plot_fits, plot_samples, plot_snapshots, plot_without_log_det,
    sample_cdf_gap,
)

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
    for k, (v, lo, hi, _) in NLLExplorer.RANGES.items():
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


def test_figures_and_live_training_run():
    flow = make_flow(X)
    live = LiveTraining(flow, X, steps=50, snapshot_steps=(0, 25, 50))
    result = train(flow, X, steps=50, lr=0.05, batch_size=None, callback=live, callback_every=25)
    assert sorted(live.snapshots) == [0, 25, 50]
    assert live.loss_line.get_xdata()[-1] == 50
    plot_snapshots(live, result.losses)
    plot_fits({"a": flow}, X)
    plot_without_log_det(flow, flow, X)
    torch.manual_seed(0)
    with torch.no_grad():
        s = flow.sample(2000)
    plot_samples(flow, s, X)
    assert 0 < sample_cdf_gap(flow, s) < 0.1


# --- exercise checkers: typical wrong answers get the right hint -----------------------------------


def _wrong_losses():
    def right(flow, x):
        z, ld = flow.bijector.inverse_and_log_det(x)
        return -(flow.base.log_prob(z) + ld).mean()

    def sign_logdet(flow, x):
        z, ld = flow.bijector.inverse_and_log_det(x)
        return -(flow.base.log_prob(z) - ld).mean()

    def missing(flow, x):
        z, _ = flow.bijector.inverse_and_log_det(x)
        return -flow.base.log_prob(z).mean()

    def summed(flow, x):
        z, ld = flow.bijector.inverse_and_log_det(x)
        return -(flow.base.log_prob(z) + ld).sum()

    def flipped(flow, x):
        return -right(flow, x)

    def per_point(flow, x):
        z, ld = flow.bijector.inverse_and_log_det(x)
        return -(flow.base.log_prob(z) + ld)

    def detached(flow, x):
        return torch.tensor(right(flow, x).item())

    return right, sign_logdet, missing, summed, flipped, per_point, detached


def test_nll_loss_checker():
    right, sign_logdet, missing, summed, flipped, per_point, detached = _wrong_losses()
    assert "not attempted" in ex.check_nll_loss(None).message
    ok = ex.check_nll_loss(right)
    assert ok and "gradient" in ok.message
    for fn, words in [(sign_logdet, "wrong sign"), (missing, "log-det term is missing"), (summed, "summed"),
                      (flipped, "wrong sign"), (per_point, "one number per point"), (detached, "not a torch tensor")]:
        r = ex.check_nll_loss(fn)
        assert not r and words in r.message, (fn.__name__, r.message)
    assert "failed" in ex.check_nll_loss(lambda flow, x: 1 / 0).message


def test_gaussian_nll_checker():
    x, mu, s = np.array(ex.GAUSSIAN_DATA), ex.GAUSSIAN_MU, ex.GAUSSIAN_SIGMA
    want = ex.gaussian_nll_reference()
    direct = -np.mean(-0.5 * np.log(2 * np.pi * s**2) - (x - mu) ** 2 / (2 * s**2))
    assert want == pytest.approx(direct, rel=1e-12)
    assert ex.check_gaussian_nll(want)
    sq = np.mean((x - mu) ** 2)
    cases = [
        (want - 0.5 * math.log(2 * math.pi), "1/2 log(2 pi)"),
        (want - math.log(s), "log sigma"),
        (0.5 * math.log(2 * math.pi) + math.log(s) + sq / (2 * s), "not by 2 sigma"),
        (0.5 * math.log(2 * math.pi) + math.log(s) + sq / s**2, "factor 1/2"),
        (4 * want, "mean"),
        (-want, "sign"),
        (0.5 * math.log(2 * math.pi * s**2) - sq / (2 * s**2), "wrong sign"),
    ]
    for got, words in cases:
        r = ex.check_gaussian_nll(got)
        assert not r and words in r.message, (got, r.message)


def test_sign_checker():
    words = ["positive", "negative", "negative", "zero"]
    assert ex.check_nll_signs(words)
    r = ex.check_nll_signs(["positive", "positive", "positive", "positive"])
    assert not r and "3 of 4" in r.message and "log 60" in r.message and "exactly 1" in r.message
    assert "list of 4" in ex.check_nll_signs("negative").message
    assert "use the words" in ex.check_nll_signs(["pos", "neg", "neg", "0"]).message
    for _, value, _ in ex.SIGN_CASES:
        assert math.isfinite(value)


def test_unit_change_checker():
    assert ex.check_unit_change(math.log(60))
    for got, words in [(60.0, "LOG"), (1 / 60, "log of the factor"), (-math.log(60), "wrong direction"),
                       (math.log10(60), "log10")]:
        r = ex.check_unit_change(got)
        assert not r and words in r.message, (got, r.message)
