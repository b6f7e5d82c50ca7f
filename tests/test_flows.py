"""Flow, bases, validation errors, training, data and targets."""

import math

import numpy as np
import pytest
import torch
from torch.distributions import Normal

from lessonlib.bijectors import Affine, Chain, Linear
from lessonlib.coupling import AffineCoupling, MLP, alternating_mask, coupling_stack, half_mask
from lessonlib.data import load_old_faithful
from lessonlib.flows import Flow, logistic_base, standard_normal, uniform_base
from lessonlib.toy2d import TARGETS, kl_gap
from lessonlib.training import nll, train


def test_affine_flow_is_the_shifted_scaled_gaussian():
    flow = Flow(standard_normal(1), Affine(torch.tensor([-3.0]), torch.tensor([1.0])))
    x = torch.linspace(-5, 5, 11)[:, None]
    want = Normal(1.0, 3.0).log_prob(x[:, 0])
    torch.testing.assert_close(flow.log_prob(x), want)


def test_linear_flow_matches_multivariate_normal():
    A = torch.tensor([[2.0, 0.5], [0.0, 1.0]])
    flow = Flow(standard_normal(2), Linear(A))
    mvn = torch.distributions.MultivariateNormal(torch.zeros(2), covariance_matrix=A @ A.T)
    x = torch.randn(7, 2, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(flow.log_prob(x), mvn.log_prob(x))


def test_lesson_uniform_example_in_torch():
    # Z ~ U(0,1), x = 3z + 1 -> density 1/3 on [1, 4], zero outside
    flow = Flow(uniform_base(1), Affine(torch.tensor([3.0]), torch.tensor([1.0])))
    x = torch.tensor([[1.5], [3.9], [4.5]])
    p = flow.log_prob(x).exp()
    torch.testing.assert_close(p, torch.tensor([1 / 3, 1 / 3, 0.0]))


def test_sample_and_log_prob_agree_with_log_prob():
    torch.manual_seed(0)
    flow = Flow(standard_normal(2), coupling_stack(2, 3, hidden=(8,)))
    for p in flow.parameters():
        torch.nn.init.normal_(p, std=0.3)
    x, lp = flow.sample_and_log_prob(50)
    torch.testing.assert_close(flow.log_prob(x), lp)


@pytest.mark.parametrize("base", [standard_normal(2), uniform_base(2, -10, 10), logistic_base(2)])
def test_every_base_gives_a_normalised_density(base):
    flow = Flow(base, Linear(torch.tensor([[1.0, 0.3], [0.2, 0.8]])))
    g = torch.linspace(-15, 15, 601)
    X, Y = torch.meshgrid(g, g, indexing="ij")
    pts = torch.stack([X.flatten(), Y.flatten()], 1)
    mass = flow.log_prob(pts).exp().sum() * (g[1] - g[0]) ** 2
    assert abs(mass.item() - 1) < 2e-3


def test_chain_steps_ledger_sums_to_log_prob_term():
    flow = Flow(standard_normal(2), Chain(Affine([2.0, 0.5], [0.0, 1.0]), Linear([[1.0, 1.0], [0.0, 1.0]])))
    x = torch.randn(5, 2, generator=torch.Generator().manual_seed(3))
    steps = flow.bijector.inverse_steps(x)
    assert len(steps.points) == 3 and len(steps.log_dets) == 2
    base_term, log_det = flow.log_prob_terms(x)
    torch.testing.assert_close(sum(steps.log_dets), log_det)
    torch.testing.assert_close(flow.base.log_prob(steps.points[-1]) + sum(steps.log_dets), flow.log_prob(x))
    assert steps.names == ["Linear", "Affine"]


@pytest.mark.parametrize(
    "call,fragment",
    [
        (lambda: Affine([1.0, 0.0]), "nonzero"),
        (lambda: Linear([[1.0, 2.0], [2.0, 4.0]]), "singular"),
        (lambda: Linear([[1.0, 2.0, 3.0]]), "square"),
        (lambda: Affine([1.0, 2.0]).forward(torch.ones(3)), "shape (batch, dim)"),
        (lambda: Affine([1.0, 2.0]).forward(torch.ones(4, 3)), "same number of dimensions"),
        (lambda: Affine([1.0, 2.0]).forward(torch.tensor([[1.0, float("nan")]])), "NaN"),
        (lambda: Affine([1.0, 2.0]).forward(np.ones((2, 2))), "torch.Tensor"),
        (lambda: Chain(torch.nn.ReLU()), "no inverse"),
        (lambda: AffineCoupling([1, 1]), "at least one"),
        (lambda: half_mask(1), "at least 2"),
        (lambda: Flow(Normal(0.0, 1.0), Affine(1.0)), "event shape"),
        (lambda: Flow(standard_normal(2), Affine(1.0)).log_prob(torch.ones(3, 5)), "coordinates"),
    ],
)
def test_bad_input_is_rejected_with_an_explanation(call, fragment):
    with pytest.raises(ValueError, match=None) as info:
        call()
    assert fragment in str(info.value)


def test_mlp_zero_last_makes_identity_coupling():
    layer = AffineCoupling(alternating_mask(4))
    z = torch.randn(3, 4)
    x, ld = layer.forward_and_log_det(z)
    torch.testing.assert_close(x, z)
    torch.testing.assert_close(ld, torch.zeros(3))
    assert isinstance(layer.conditioner, MLP)


def test_coupling_follows_input_dtype():
    layer = AffineCoupling(half_mask(2)).float()
    x, ld = layer.forward_and_log_det(torch.randn(3, 2, dtype=torch.float32))
    assert x.dtype == ld.dtype == torch.float32


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


def test_old_faithful_ships_with_the_repo():
    import hashlib

    from lessonlib.data import DATA_DIR

    digest = hashlib.sha256((DATA_DIR / "old_faithful.csv").read_bytes()).hexdigest()
    assert digest == "76d9e06c119631652a26afb150810dd045e86253948be24feb38124db7ad6780", "data/old_faithful.csv changed"
    d = load_old_faithful()
    assert d.shape == (272, 2)
    assert np.isfinite(d).all()
    assert 1.5 < d[:, 0].min() < 2.0 and 5.0 < d[:, 0].max() < 5.2  # eruption minutes
    assert 40 < d[:, 1].min() and d[:, 1].max() < 100  # waiting minutes


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_targets_are_normalised_and_match_their_samples(name):
    t = TARGETS[name]()
    x0, x1, y0, y1 = t.extent
    gx, gy = torch.linspace(x0 - 2, x1 + 2, 500), torch.linspace(y0 - 2, y1 + 2, 500)
    X, Y = torch.meshgrid(gx, gy, indexing="ij")
    pts = torch.stack([X.flatten(), Y.flatten()], 1)
    mass = t.log_prob(pts).exp().sum() * (gx[1] - gx[0]) * (gy[1] - gy[0])
    assert abs(mass.item() - 1) < 0.01
    # the target against itself: KL is zero
    gap, se = kl_gap(t.log_prob, t, n=2000)
    assert gap == 0.0
    # samples lie where the density is
    s = t.sample(2000, torch.Generator().manual_seed(0))
    assert torch.isfinite(t.log_prob(s)).all()


def test_kl_gap_of_a_wrong_model_is_positive_and_known():
    t = TARGETS["banana"]()
    wide = torch.distributions.Independent(Normal(torch.zeros(2), 3 * torch.ones(2)), 1)
    gap, se = kl_gap(wide.log_prob, t, n=50_000)
    # KL = E_p[log p] - E_p[log q]; E_p[log q] has a closed form from the banana's moments
    c, s2 = 0.5, 0.25
    ex2 = 2 * c**2 + s2  # E[x2^2] = Var(c(x1^2 - 1)) + s^2, and E[x2] = 0
    e_logq = -0.5 * (1 + ex2) / 9 - 2 * math.log(3) - math.log(2 * math.pi)
    want = -t.entropy - e_logq
    assert abs(gap - want) < 4 * se + 1e-3
