"""Training: the NLL goes down, runs are reproducible, a run in chunks is the same run, blow-ups stop it."""

import pytest
import torch

from lessonlib.bijectors import Affine
from lessonlib.flows import Flow, make_flow, standard_normal
from lessonlib.toy2d import TARGETS, target_sampler
from lessonlib.training import MAX_RISE, Diverged, Trainer, nll, train


def test_training_reduces_nll_and_is_reproducible():
    data = torch.randn(400, 1, generator=torch.Generator().manual_seed(0)) * 0.5 + 3.0

    def fit():
        torch.manual_seed(0)
        flow = Flow(standard_normal(1), Affine([1.0], [0.0]))
        return flow, train(flow, data, steps=300, lr=0.05, batch_size=100, seed=0)

    flow, res = fit()
    assert res.losses[-1] < res.losses[0] - 1.0
    assert abs(flow.bijector.shift.item() - 3.0) < 0.1
    assert abs(abs(flow.bijector.scale.item()) - 0.5) < 0.1
    assert nll(flow, data).item() < 0.85  # a N(3, 0.5) has entropy 0.73 nats
    assert fit()[1].losses == res.losses


def test_train_rejects_bad_settings():
    flow = Flow(standard_normal(1), Affine([1.0]))
    with pytest.raises(ValueError, match="learning rate"):
        train(flow, torch.zeros(3, 1), lr=0)
    with pytest.raises(ValueError, match="NaN"):
        train(flow, torch.tensor([[float("nan")]]))


def ring_sampler():
    return target_sampler(TARGETS["gaussian_ring"]())


def ring_trainer(seed: int = 0) -> tuple[Flow, Trainer]:
    flow = make_flow(2, 2, hidden=(8,), seed=seed)
    return flow, Trainer(flow, ring_sampler(), lr=5e-3, batch_size=64, seed=seed)


def test_a_run_in_chunks_is_the_same_run_as_one_call():
    flow_a, whole = ring_trainer()
    whole.run(30)
    flow_b, chunked = ring_trainer()
    for n in (7, 0, 13, 10):
        chunked.run(n)
    assert chunked.steps == 30 and chunked.result.losses == whole.result.losses
    for pa, pb in zip(flow_a.parameters(), flow_b.parameters()):
        assert torch.equal(pa, pb)
    flow_c = make_flow(2, 2, hidden=(8,), seed=0)
    assert train(flow_c, ring_sampler(), steps=30, lr=5e-3, batch_size=64).losses == whole.result.losses


def test_callbacks_run_every_so_many_steps_of_the_whole_training_and_after_the_last():
    _, trainer = ring_trainer()
    seen = []
    trainer.run(5, callback=lambda step, result: seen.append((step, len(result.losses))), callback_every=2)
    trainer.run(4, callback=lambda step, result: seen.append((step, len(result.losses))), callback_every=2)
    assert seen == [(2, 2), (4, 4), (5, 5), (6, 6), (8, 8), (9, 9)]
    with pytest.raises(ValueError, match="callback_every"):
        trainer.run(1, callback=print, callback_every=0)


def test_changing_the_learning_rate_keeps_the_optimiser_state():
    _, trainer = ring_trainer()
    trainer.run(3)
    state = trainer.optimizer.state_dict()["state"]
    trainer.lr = 1e-3
    assert trainer.lr == 1e-3 and trainer.optimizer.state_dict()["state"] == state
    with pytest.raises(ValueError, match="learning rate"):
        trainer.lr = 0.0


def test_a_non_finite_loss_stops_training_before_the_bad_step():
    flow = Flow(standard_normal(1), Affine([1.0], [0.0]))
    trainer = Trainer(flow, torch.zeros(4, 1), batch_size=None, loss_fn=lambda f, x: nll(f, x) / torch.tensor(0.0))
    before = [p.detach().clone() for p in flow.parameters()]
    with pytest.raises(Diverged, match="became (inf|nan) at step 1") as info:
        trainer.run(10)
    assert isinstance(info.value, FloatingPointError) and info.value.step == 1 and trainer.steps == 0
    assert all(torch.equal(p, q) for p, q in zip(flow.parameters(), before))  # the model is as it was


def test_a_loss_that_rises_far_above_its_start_stops_training():
    flow = Flow(standard_normal(1), Affine([1.0], [0.0]))
    rising = iter(range(100))
    trainer = Trainer(flow, torch.zeros(4, 1), batch_size=None,
                      loss_fn=lambda f, x: nll(f, x) + 10.0 * next(rising))  # 10 nats more at every step
    with pytest.raises(Diverged, match="rose from") as info:
        trainer.run(10)
    assert info.value.step == 5 and trainer.steps == 4  # +40 nats at step 5: more than MAX_RISE = 30 above the start
    assert info.value.loss > info.value.first + MAX_RISE
