"""Training: the NLL goes down, runs are reproducible, a run in chunks is the same run, blow-ups stop it."""

import math

import pytest
import torch

from lessonlib.bijectors import Affine
from lessonlib.flows import Flow, make_flow, standard_normal
from lessonlib.toy2d import TARGETS, target_sampler
from lessonlib.training import MAX_RISE, Diverged, Trainer, nll, reverse_kl, train


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


def test_a_non_finite_loss_at_the_start_names_the_model_not_the_learning_rate():
    flow = Flow(standard_normal(1), Affine([1.0], [0.0]))
    trainer = Trainer(flow, torch.zeros(4, 1), batch_size=None, loss_fn=lambda f, x: nll(f, x) / torch.tensor(0.0))
    before = [p.detach().clone() for p in flow.parameters()]
    with pytest.raises(Diverged, match="is (inf|nan) at step 1, before any update") as info:
        trainer.run(10)
    assert isinstance(info.value, FloatingPointError) and isinstance(info.value, ValueError)
    assert info.value.step == 1 and trainer.steps == 0
    assert all(torch.equal(p, q) for p, q in zip(flow.parameters(), before))  # the model is as it was


def rising_trainer(lr: float = 1e-2) -> tuple[Flow, Trainer]:
    flow = Flow(standard_normal(1), Affine([1.0], [0.0]))
    rising = iter(range(100))
    trainer = Trainer(
        flow,
        torch.randn(64, 1, generator=torch.Generator().manual_seed(1)),
        batch_size=16,
        lr=lr,
        loss_fn=lambda f, x: nll(f, x) + 10.0 * next(rising),
    )  # 10 nats more at every step
    return flow, trainer


def test_a_loss_that_rises_far_above_its_start_stops_training_and_undoes_the_update_that_did_it():
    flow, trainer = rising_trainer()
    with pytest.raises(Diverged, match="rose from") as info:
        trainer.run(10)
    assert info.value.step == 5  # +40 nats at step 5: more than MAX_RISE = 30 above the start
    assert info.value.loss > info.value.first + MAX_RISE
    # step 5's loss was computed after step 4's update, the one that did it: the trainer is back after step 3
    assert trainer.steps == 3 and "back as it was after step 3" in str(info.value)
    flow_3, trainer_3 = rising_trainer()
    trainer_3.run(3)
    for p, q in zip(flow.parameters(), flow_3.parameters()):
        assert torch.equal(p, q)
    assert torch.equal(trainer.generator.get_state(), trainer_3.generator.get_state())
    assert trainer.optimizer.state_dict()["state"][0]["step"] == 3


def test_after_a_blow_up_training_continues_with_a_lower_learning_rate():
    data = torch.randn(200, 2, generator=torch.Generator().manual_seed(0)) * torch.tensor([2.0, 0.3]) + 1.0
    flow = make_flow(2, 4, hidden=(16, 16), seed=0)
    trainer = Trainer(flow, data, lr=100.0)
    with pytest.raises(Diverged):
        trainer.run(60)
    assert all(torch.isfinite(p).all() for p in flow.parameters())
    trainer.lr = 1e-3
    trainer.run(20)
    assert all(torch.isfinite(torch.tensor(trainer.result.losses)))


def test_train_with_recover_goes_on_slower_after_a_blow_up_and_says_so(capsys):
    data = torch.randn(200, 2, generator=torch.Generator().manual_seed(0)) * torch.tensor([2.0, 0.3]) + 1.0
    with pytest.raises(Diverged):  # the default: a blow-up stops training
        train(make_flow(2, 4, hidden=(16, 16), seed=0), data, steps=60, lr=1.0)
    seen = []
    result = train(
        make_flow(2, 4, hidden=(16, 16), seed=0),
        data,
        steps=60,
        lr=1.0,
        recover=True,
        callback=lambda step, r: seen.append(step),
        callback_every=10,
    )
    assert len(result.losses) == 60 and all(math.isfinite(v) for v in result.losses)  # every step, finite
    assert seen[-1] == 60 and seen == sorted(seen)  # the callback's steps count on across the blow-ups
    notes = capsys.readouterr().out.splitlines()
    assert 1 <= len(notes) <= 3 and all("blew up at step" in n and "goes on from step" in n for n in notes)
    assert "at lr 0.2." in notes[0]  # a fifth of the rate


def test_train_with_recover_gives_up_after_three_blow_ups():
    rising = iter(range(1000))
    flow = make_flow(2, 1, hidden=(4,), seed=0)
    data = torch.randn(64, 2, generator=torch.Generator().manual_seed(1))
    with pytest.raises(Diverged, match="rose from"):  # a loss that rises whatever the rate: no way on
        train(
            flow,
            data,
            steps=100,
            batch_size=16,
            lr=1e-3,
            loss_fn=lambda f, x: nll(f, x) + 10.0 * next(rising),
            recover=True,
        )


@pytest.mark.parametrize("steps", [1, 3])
def test_a_non_finite_gradient_with_a_finite_loss_is_caught_and_its_update_undone(steps):
    flow = Flow(standard_normal(1), Affine([1.0], [0.0]))
    kink = lambda f, x: nll(f, x) + torch.sqrt(f.bijector.shift - f.bijector.shift).sum()  # noqa: E731 - d sqrt at 0
    trainer = Trainer(flow, torch.randn(8, 1), batch_size=None, loss_fn=kink)
    before = [p.detach().clone() for p in flow.parameters()]
    with pytest.raises(Diverged, match="gradient became NaN or infinite at step 1"):
        trainer.run(steps)  # also when the bad update is the run's last
    assert trainer.steps == 0
    assert all(torch.equal(p, q) for p, q in zip(flow.parameters(), before))


def test_an_update_that_leaves_non_finite_parameters_is_undone():
    flow = Flow(standard_normal(1), Affine([1.0], [0.0]))
    trainer = Trainer(flow, torch.randn(8, 1), batch_size=None)
    trainer.run(2)
    after_two = [p.detach().clone() for p in flow.parameters()]
    adam_step = trainer.optimizer.step

    def overflowing_step():  # an update whose arithmetic overflowed, as a huge step can in float32
        adam_step()
        with torch.no_grad():
            flow.bijector.shift.fill_(float("inf"))

    trainer.optimizer.step = overflowing_step
    with pytest.raises(Diverged, match="update of step 3 overflowed: it gave the model NaN or infinite parameters"):
        trainer.run(3)
    assert trainer.steps == 2 and all(torch.equal(p, q) for p, q in zip(flow.parameters(), after_two))


def test_a_learning_rate_too_large_for_the_parameters_dtype_is_refused():
    flow = Flow(standard_normal(1, torch.float32), Affine([1.0], [0.0], dtype=torch.float32))
    with pytest.raises(ValueError, match="too large for float32 parameters"):
        Trainer(flow, torch.randn(8, 1), lr=1e300)
    trainer = Trainer(flow, torch.randn(8, 1), lr=1.0)
    with pytest.raises(ValueError, match="too large for float32 parameters"):
        trainer.lr = 1e300


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"lr": float("inf")}, ValueError, "learning rate lr must be a finite number"),
        ({"lr": float("nan")}, ValueError, "learning rate"),
        ({"lr": "0.1"}, TypeError, "learning rate"),
        ({"lr": -1.0}, ValueError, "must be positive"),
        ({"steps": -1}, ValueError, "steps must be at least 0"),
        ({"steps": 2.5}, ValueError, "steps must be a whole number"),
        ({"steps": "10"}, TypeError, "steps"),
        ({"seed": None}, TypeError, "seed must be a whole number, got None"),
        ({"seed": 1.5}, ValueError, "seed"),
        ({"batch_size": 0}, ValueError, "batch_size must be at least 1"),
        ({"batch_size": 2.5}, ValueError, "batch_size"),
        ({"callback_every": 0}, ValueError, "callback_every must be at least 1"),
        ({"callback": "print"}, TypeError, "callback must be a function"),
        ({"loss_fn": lambda f, x: -f.log_prob(x)}, ValueError, r"one number \(a scalar\)"),
        ({"loss_fn": lambda f, x: 1.0}, TypeError, "scalar tensor"),
        ({"loss_fn": lambda f, x: nll(f, x).detach()}, ValueError, "not connected"),
        ({"data": torch.zeros(0, 2)}, ValueError, "data is empty"),
        ({"data": torch.zeros(10, 3)}, ValueError, "coordinates"),
        ({"data": "abc"}, TypeError, "numbers"),
        ({"data": lambda n, g: torch.zeros(n, 3)}, ValueError, "a batch from the sampler has 3 coordinates"),
        ({"data": lambda n, g: torch.zeros(n, 2), "batch_size": None}, ValueError, "sampler needs a batch_size"),
    ],
)
def test_train_answers_bad_settings_with_its_own_errors(kwargs, error, words):
    flow = make_flow(2, 2, hidden=(8,))
    args = {"data": torch.randn(50, 2), "steps": 3, **kwargs}
    with pytest.raises(error, match=words):
        train(flow, **args)


def test_data_of_another_dtype_or_kind_is_converted_and_steps_zero_is_a_result():
    flow = make_flow(2, 2, hidden=(8,), dtype=torch.float32)
    data = torch.randn(50, 2, dtype=torch.float64)
    assert len(train(flow, data, steps=3).losses) == 3
    assert len(train(flow, data.numpy(), steps=3).losses) == 3
    nothing = train(flow, data, steps=0)
    assert nothing.losses == []
    with pytest.raises(ValueError, match="no training step was taken"):
        _ = nothing.final
    result = train(flow, data, steps=2)
    assert result.final == result.losses[-1]
    with pytest.raises(TypeError, match="nn.Module"):
        Trainer(None, data)


# --- sampler-free objectives: reverse KL from the flow's own samples ------------------------------------


def _gaussian_target(mean: float = 3.0, sd: float = 0.5):
    """log p~(x) = -(x - mean)^2 / (2 sd^2): N(mean, sd^2) without its normaliser, log Z = log(sqrt(2 pi) sd)."""
    return (lambda x: -0.5 * ((x[:, 0] - mean) / sd) ** 2), math.log(math.sqrt(2 * math.pi) * sd)


def test_reverse_kl_fits_a_density_known_up_to_its_normaliser():
    log_p, log_z = _gaussian_target()
    flow = Flow(standard_normal(1), Affine([1.0], [0.0]))
    result = train(flow, objective=reverse_kl(log_p), steps=600, lr=0.05, batch_size=256, seed=0)
    assert abs(flow.bijector.shift.item() - 3.0) < 0.05 and abs(abs(flow.bijector.scale.item()) - 0.5) < 0.05
    # the loss is KL(q || p) - log Z >= -log Z, with equality at q = p: here q can be p exactly
    assert -log_z - 0.05 < sum(result.losses[-50:]) / 50 < -log_z + 0.05
    assert result.losses[0] > -log_z + 1.0


def test_reverse_kl_gradient_flows_through_the_samples():
    """q = N(b, 1) and p~ = N(m, 1): log q(x) - log p~(x) = -z^2/2 + (z + b - m)^2/2 + const with x = z + b,
    so the gradient of the loss in b is mean(z) + b - m, which only the path through x = z + b gives."""
    flow = Flow(standard_normal(1), Affine([1.0], [0.0]))
    gen = torch.Generator().manual_seed(3)
    loss = reverse_kl(lambda x: -0.5 * (x[:, 0] - 2.0) ** 2)(flow, 500, gen)
    loss.backward()
    z = flow.base_sample(500, torch.Generator().manual_seed(3))  # the same draws
    torch.testing.assert_close(flow.bijector.shift.grad, (z.mean() - 2.0).reshape(1))


def test_an_objective_runs_through_the_one_loop_reproducibly_and_in_chunks():
    log_p, _ = _gaussian_target()

    def trainer():
        flow = make_flow(1, 1, "maf", hidden=(4,), seed=0)
        return flow, Trainer(flow, objective=reverse_kl(log_p), lr=0.02, batch_size=64, seed=5)

    _, whole = trainer()
    whole.run(20)
    _, chunked = trainer()
    chunked.run(7)
    chunked.run(13)
    assert chunked.result.losses == whole.result.losses
    torch.manual_seed(0)
    before = torch.rand(1)
    torch.manual_seed(0)
    trainer()[1].run(3)
    assert torch.equal(torch.rand(1), before)  # the draws come from the trainer's generator, not the global one


def test_objectives_are_checked():
    flow = Flow(standard_normal(1), Affine([1.0], [0.0]))
    objective = reverse_kl(lambda x: -(x[:, 0] ** 2))
    with pytest.raises(ValueError, match="not both"):
        Trainer(flow, torch.zeros(4, 1), objective=objective)
    with pytest.raises(ValueError, match="sampler-free objective"):
        Trainer(flow)
    with pytest.raises(ValueError, match="batch_size"):
        Trainer(flow, objective=objective, batch_size=None)
    with pytest.raises(ValueError, match="one log-density per sample"):
        Trainer(flow, objective=reverse_kl(lambda x: -(x**2)), batch_size=8).run(1)  # (B, 1), not (B,)


def test_a_diverging_objective_stops_like_a_diverging_nll():
    flow = Flow(standard_normal(1), Affine([1.0], [0.0]))
    trainer = Trainer(
        flow, objective=lambda f, n, g: reverse_kl(lambda x: -(x[:, 0] ** 2))(f, n, g) / torch.tensor(0.0), batch_size=8
    )
    with pytest.raises(Diverged, match="at step 1"):
        trainer.run(3)


def test_reverse_kl_needs_a_function():
    with pytest.raises(TypeError, match="log_target must be a function"):
        reverse_kl(5)
