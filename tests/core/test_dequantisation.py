"""Dequantisation as a model: the bound's terms, its sign against log P(k), and uniform noise as notebook 08 used it."""

import math

import pytest
import torch

from lessonlib.dequantisation import DequantisedFlow, UniformNoise, VariationalNoise, elbo_objective
from lessonlib.flows import make_flow
from lessonlib.images import PixelLogit, dequantise
from lessonlib.training import Trainer
from lessonlib.verify import autograd_log_det

F64 = torch.float64


def _pixels(n=6, dim=4, levels=5, seed=0):
    return torch.randint(0, levels, (n, dim), generator=torch.Generator().manual_seed(seed)).to(F64)


def _flow(dim=4, levels=5):
    return make_flow(dim, 2, hidden=(8,), dtype=F64, last=PixelLogit(levels))


def test_uniform_noise_gives_notebook_08s_bound():
    flow, k = _flow(), _pixels()
    model = DequantisedFlow(flow, 5)
    elbo = model.elbo(k, torch.Generator().manual_seed(3))
    y = dequantise(k, 5, torch.Generator().manual_seed(3))
    torch.testing.assert_close(elbo, flow.log_prob(y))  # log q = 0: the bound is log p(k + u)
    _, log_q = model.elbo_terms(k, torch.Generator())
    assert torch.equal(log_q, torch.zeros(6, dtype=F64))


def test_variational_noise_stays_in_the_bin_and_q_is_a_density_on_it():
    noise = VariationalNoise(2, 5, n_layers=2, hidden=(8,), dtype=F64)
    with torch.no_grad():
        for p in noise.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel()), dtype=F64))
    k = torch.tensor([[0.0, 4.0]], dtype=F64)
    u, log_q = noise.sample_and_log_prob(k.repeat(50, 1), torch.Generator().manual_seed(0))
    assert ((u > 0) & (u < 1)).all() and log_q.shape == (50,)
    torch.testing.assert_close(noise.log_prob(u, k.repeat(50, 1)), log_q)
    side = (torch.arange(400, dtype=F64) + 0.5) / 400  # midpoints of a 400 x 400 grid on the unit square
    grid = torch.cartesian_prod(side, side)
    mass = noise.log_prob(grid, k.expand(len(grid), 2)).exp().mean()
    assert mass.item() == pytest.approx(1.0, abs=2e-3)  # q(u | k) integrates to 1 over the bin


def test_log_q_matches_the_change_of_variables_by_autograd():
    noise = VariationalNoise(3, 5, n_layers=2, hidden=(8,), dtype=F64)
    with torch.no_grad():
        for p in noise.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel()), dtype=F64))
    k = torch.tensor([[1.0, 2.0, 3.0]], dtype=F64)
    u, log_q = noise.sample_and_log_prob(k, torch.Generator().manual_seed(1))
    q_h = noise.flow.given(noise.context(k))
    h = torch.log(u) - torch.log1p(-u)
    want = q_h.log_prob(h) + autograd_log_det(lambda v: torch.log(v) - torch.log1p(-v), u)  # density of u = sigmoid(h)
    torch.testing.assert_close(log_q, want)


def test_the_bound_is_below_log_P_and_the_weighted_estimate_between():
    flow, k = _flow(), _pixels(n=3)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.5 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel()), dtype=F64))
    model = DequantisedFlow(flow, 5, VariationalNoise(4, 5, n_layers=2, hidden=(8,), dtype=F64))
    with torch.no_grad():
        bound = torch.stack([model.elbo(k, torch.Generator().manual_seed(s)) for s in range(400)]).mean(0)
        exact = torch.log(
            torch.stack(
                [flow.log_prob(dequantise(k, 5, torch.Generator().manual_seed(s))).exp() for s in range(4000)]
            ).mean(0)
        )  # log P(k) = log E_uniform[p(k + u)]
        weighted = model.discrete_log_prob(k, 400, torch.Generator().manual_seed(9))
    assert (bound < exact).all()  # Jensen: the bound lies below log P(k)
    assert (bound < weighted).all() and (weighted < exact + 0.1).all()


def test_training_the_bound_raises_it_and_trains_q_too():
    k = _pixels(n=200, dim=2, levels=3, seed=4)
    model = DequantisedFlow(_flow(2, 3), 3, VariationalNoise(2, 3, n_layers=2, hidden=(8,), dtype=F64))
    before = [p.clone() for p in model.noise.parameters()]
    trainer = Trainer(model, objective=elbo_objective(k), lr=1e-2, batch_size=64, seed=0)
    result = trainer.run(60)
    assert result.losses[-1] < result.losses[0]
    assert any(not torch.equal(a, b) for a, b in zip(before, model.noise.parameters()))


def test_the_objective_draws_like_notebook_08s_sampler():
    from lessonlib.lessons.l08_images.experiments import dequantised_sampler

    k = _pixels(n=50, dim=64, levels=17).float()
    model = DequantisedFlow(make_flow(64, 1, hidden=(4,), last=PixelLogit(17), dtype=torch.float32), 17)
    loss = elbo_objective(k)(model, 16, torch.Generator().manual_seed(5))
    batch = dequantised_sampler(k)(16, torch.Generator().manual_seed(5))
    assert loss.item() == pytest.approx(-model.flow.log_prob(batch).mean().item())


def test_bad_inputs_are_refused_by_name():
    with pytest.raises(TypeError, match="Flow"):
        DequantisedFlow("flow", 17)
    with pytest.raises(TypeError, match="noise"):
        DequantisedFlow(_flow(), 5, noise=3)
    with pytest.raises(ValueError, match="whole numbers"):
        DequantisedFlow(_flow(), 5).elbo(torch.full((1, 4), 0.5, dtype=F64))
    with pytest.raises(ValueError, match="no images"):
        elbo_objective(torch.zeros(0, 4))
    with pytest.raises(TypeError, match="DequantisedFlow"):
        elbo_objective(_pixels())(_flow(), 2, torch.Generator())
    assert math.isfinite(DequantisedFlow(_flow(), 5).discrete_log_prob(_pixels(n=2), 3).sum().item())


def test_uniform_noise_has_no_parameters():
    assert list(UniformNoise().parameters()) == []
