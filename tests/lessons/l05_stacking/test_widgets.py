"""Notebook 05's live figures: snapshots that draw themselves, the layer walker and the training widget
(swept, no browser)."""

import asyncio
import math

import numpy as np
import pytest
import torch

from lessonlib.lessons.l05_stacking.widgets import LEARNING_RATES, LayerWalker, LiveSnapshots, TrainingControl
from lessonlib.toy2d import target_sampler
from lessonlib.training import train
from tests.lessons.l05_stacking.conftest import RING


def test_live_snapshots_move_their_figure_at_every_record(trained):
    snaps = LiveSnapshots(trained, RING.extent, n_grid=20, n_samples=50)
    train(trained, target_sampler(RING), steps=4, lr=1e-4, callback=snaps, callback_every=2)
    snaps.live_figure()
    snaps.record(5, 1.5)
    _, _, line, image, pts = snaps._live
    assert list(line.get_xdata()) == [2, 4, 5] and image.get_array().max() > 0
    np.testing.assert_allclose(pts.get_xdata(), snaps.samples[-1][:, 0])


# ------------------------------------------------------------------------------------------------
# LayerWalker
# ------------------------------------------------------------------------------------------------


def test_layer_walker_sweep_obeys_the_ledger(trained):
    data = target_sampler(RING)(300, torch.Generator().manual_seed(2))
    walker = LayerWalker(trained, data, n_samples=200)
    with torch.no_grad():
        inv = trained.bijector.inverse_steps(data)
        z = walker.fwd_points[0]
        x_final = trained.bijector.forward(torch.as_tensor(z)).numpy()
        base, log_det = trained.log_prob_terms(data)
    seen = []

    def check(name, k):
        assert walker.problem is None
        np.testing.assert_allclose(walker.shown("inverse"), inv.points[k].numpy())
        np.testing.assert_allclose(walker.shown("forward"), walker.fwd_points[k])
        want = sum(ld for ld in inv.log_dets[:k]) if k else torch.zeros(300)
        assert walker.numbers()["inverse_log_det_mean"] == pytest.approx(float(want.mean()), abs=1e-9)
        assert walker.count_inv.get_text().startswith(f"k = {k} of 4")
        assert walker.count_fwd.get_text().endswith(": x") == (k == 4)
        seen.append(k)

    walker.sweep(n=10, callback=check)
    assert sorted(set(seen)) == list(range(5))
    walker.set(k=4)
    np.testing.assert_allclose(walker.shown("forward"), x_final, atol=1e-10)
    np.testing.assert_allclose(walker.inv_cum[-1] + walker.base_log_prob, (base + log_det).numpy(), atol=1e-10)
    assert 0.7 < walker.numbers()["inverse_std"] < 1.4  # trained briefly: close to N(0, I)


def test_layer_walker_refuses_a_single_layer():
    from lessonlib.coupling import AffineCoupling, alternating_mask
    from lessonlib.flows import Flow, standard_normal

    flow = Flow(standard_normal(2), AffineCoupling(alternating_mask(2)))
    with pytest.raises(ValueError, match="Chain"):
        LayerWalker(flow, torch.zeros(3, 2))


# ------------------------------------------------------------------------------------------------
# TrainingControl
# ------------------------------------------------------------------------------------------------


def make_control(**kw):
    return TrainingControl(RING, hidden=(16,), batch_size=64, chunk=5, n_grid=20, **kw)


def test_training_control_steps_lower_the_loss_and_redraw():
    c = make_control()
    assert c.numbers()["steps"] == 0 and math.isnan(c.numbers()["loss"])
    c.set(lr=1e-2)
    c.step(60)
    n = c.numbers()
    assert n["steps"] == 60 and c.problem is None
    assert np.mean(c.losses[-10:]) < np.mean(c.losses[:10]) - 0.2
    assert len(c.loss_line.get_xdata()) == 60
    assert c.image.get_array().max() > 0
    with torch.no_grad():
        want = c.flow.bijector.forward(c._z).numpy()
    np.testing.assert_allclose(c.samples.get_offsets(), want)
    assert "step 60" in c.readout.value


def test_training_control_changing_layers_starts_a_new_model_lr_keeps_it():
    c = make_control()
    c.step(10)
    c.controls["lr"].value = 1e-3
    assert c.numbers()["steps"] == 10 and c.trainer.optimizer.param_groups[0]["lr"] == 1e-3
    c.controls["layers"].value = 6
    assert c.numbers()["steps"] == 0 and len(c.flow.bijector) == 6


@pytest.mark.parametrize("lr", [1.0, 3.0])
def test_training_control_divergence_is_a_sentence_and_a_reset(lr):
    c = make_control()
    c.set(lr=lr)
    c.step(300)
    assert c.problem is not None and "blew up" in c.problem and "smaller learning rate" in c.problem
    assert "blew up" in c.message.value
    assert c.numbers()["steps"] == 0 and c.controls["train"].value is False
    c.set(lr=3e-3)  # the next change clears the message
    assert c.problem is None and c.message.value == ""


def test_training_control_sweep_every_control():
    c = make_control()
    problems = []

    def check(name, value):
        if c.problem is not None:
            problems.append((name, value, c.problem))
        assert c.image.get_array() is not None and len(c.samples.get_offsets()) == 600
        n = c.numbers()
        assert 1 <= n["layers"] <= 8 and n["lr"] in LEARNING_RATES

    c.sweep(n=8, callback=check)
    # setting "train" on without an event loop trains one chunk at once; large rates may blow up then
    for name, value, msg in problems:
        assert "blew up" in msg and value in (0.3, 1.0, 3.0), (name, value, msg)


def _run_in_fresh_loop(coro):
    """asyncio.run in its own thread: the browser tests' Playwright loop may still be running in this one."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_training_control_start_stop_with_an_event_loop():
    """In a kernel, Start runs chunks as an asyncio task that yields; Stop ends it."""
    c = make_control(max_steps=40)

    async def scenario():
        c.controls["train"].value = True
        assert c._task is not None
        for _ in range(200):
            await asyncio.sleep(0.001)
            if c._task is None:
                break
        return c.numbers()

    n = _run_in_fresh_loop(scenario())
    assert n["steps"] == 40 and n["running"] == 0.0  # stopped itself at max_steps
    assert c.controls["train"].value is False and "Stopped after 40 steps" in c.message.value

    c2 = make_control()

    async def start_then_stop():
        c2.controls["train"].value = True
        await asyncio.sleep(0.05)
        c2.controls["train"].value = False
        steps = c2.numbers()["steps"]
        await asyncio.sleep(0.05)
        return steps, c2.numbers()["steps"]

    at_stop, later = _run_in_fresh_loop(start_then_stop())
    assert at_stop > 0 and later == at_stop and c2._task is None


def test_training_control_reset_gives_a_fresh_model():
    c = make_control()
    c.step(10)
    c.controls["layers"].value = 2
    c.reset()
    assert c.numbers()["layers"] == 4 and c.numbers()["steps"] == 0


def test_no_broken_image_before_the_views_exist(trained):
    """An ipympl draw before the browser view connects stores an image URL without its data: prefix,
    and the browser then shows no figure. The widgets and the live figure must not draw that early."""
    data = target_sampler(RING)(50, torch.Generator().manual_seed(2))
    snaps = LiveSnapshots(trained, RING.extent, n_grid=10, n_samples=20)
    snaps.record(0, float("nan"))
    canvases = [LayerWalker(trained, data, n_samples=50).fig.canvas, make_control().fig.canvas, snaps.live_figure()]
    for canvas in canvases:
        url = canvas._data_url
        assert url is None or str(url).startswith("data:image/png;base64,")
