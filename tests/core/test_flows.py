"""Flow, its bases, its validation errors, and make_flow, the one builder of the course's flows."""

import math

import pytest
import torch
from torch.distributions import Normal

from lessonlib.autoregressive import MADE, AutoregressiveAffine
from lessonlib.bijectors import Affine, Chain, Linear
from lessonlib.coupling import AffineCoupling, ConditionalAffineCoupling, coupling_stack, half_mask
from lessonlib.flows import LAYERS, ConditionalFlow, Flow, logistic_base, make_flow, standard_normal, uniform_base
from lessonlib.monotone1d import Logit, MonotoneMixture
from lessonlib.nets import randomise
from lessonlib.training import ValidationCurve, nll, reverse_kl, train


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
        (lambda: Affine([1.0, 2.0]).forward(torch.ones(2, 2, dtype=torch.complex64)), "complex"),
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


@pytest.mark.parametrize("layer", LAYERS)
def test_make_flow_is_reproducible_starts_at_the_identity_and_leaves_global_rng_alone(layer):
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, b = make_flow(3, 2, layer, seed=4), make_flow(3, 2, layer, seed=4)
    after = torch.rand(1)
    assert torch.equal(before, after)  # building a flow does not consume the global generator
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert (
        any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), make_flow(3, 2, layer, seed=5).parameters()))
        or layer == "mixture"
    )  # the mixture's start is deterministic: no random weights
    x = torch.randn(50, 3, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(a.log_prob(x)).all() and a.sample(4).shape == (4, 3)
    if layer == "coupling":
        z, log_det = a.bijector.inverse_and_log_det(x)
        assert torch.equal(z, x) and torch.equal(log_det, torch.zeros(50))


def test_make_flow_builds_the_layers_it_names():
    assert [type(b) for b in make_flow(2, 3, "coupling").bijector] == [AffineCoupling] * 3
    assert [type(b) for b in make_flow(2, 3, "maf").bijector] == [AutoregressiveAffine, Linear] * 2 + [
        AutoregressiveAffine
    ]
    assert [type(b) for b in make_flow(3, 2, "made").bijector] == [MADE, Linear, MADE]
    iaf = make_flow(3, 2, "iaf").bijector
    assert [type(b) for b in iaf] == [AutoregressiveAffine, Linear, AutoregressiveAffine] and iaf[
        0
    ].conditioned_on == "z"
    reverse = make_flow(3, 2, "made").bijector[1]
    assert torch.equal(reverse.forward(torch.tensor([[1.0, 2.0, 3.0]])), torch.tensor([[3.0, 2.0, 1.0]]))
    uniform = make_flow(1, layer="mixture", base="Uniform(0, 1)")
    assert [type(b) for b in uniform.bijector] == [Logit, MonotoneMixture]
    assert make_flow(2, 1, dtype=torch.float32).base.sample((1,)).dtype == torch.float32


def test_make_flow_scale_to_maps_standardised_units_to_the_data():
    data = torch.tensor([[1.0, 10.0], [3.0, 30.0], [5.0, 20.0]])
    flow = make_flow(2, 1, scale_to=data)
    last = flow.bijector[-1]
    assert isinstance(last, Affine)
    torch.testing.assert_close(last.scale, data.std(0))
    torch.testing.assert_close(last.shift, data.mean(0))
    torch.testing.assert_close(flow.bijector.forward(torch.zeros(1, 2)), data.mean(0, keepdim=True))


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"dim": 2, "n_layers": 0}, "n_layers must be at least 1"),
        ({"dim": 2, "n_layers": 65}, "between 1 and 64"),
        ({"dim": 2, "layer": "planar"}, "layer must be one of"),
        ({"dim": 2, "base": "Cauchy"}, "base must be one of"),
        ({"dim": 2, "log_scale_bound": 0.0}, "log_scale_bound must be a positive number"),
        ({"dim": 0}, "dim must be at least 1"),
        ({"dim": 2, "dtype": torch.int64}, "float32 or torch.float64"),
        ({"dim": 2, "n_layers": 2.5}, "whole number"),
        ({"dim": 2, "scale_to": torch.ones(4, 2)}, "constant column"),
    ],
)
def test_make_flow_refuses_what_it_cannot_build(kwargs, words):
    with pytest.raises(ValueError, match=words):
        make_flow(**kwargs)


def test_sampling_with_a_generator_is_reproducible_and_leaves_the_global_state_alone():
    flow = make_flow(2, 2, seed=0)
    torch.manual_seed(7)
    before = torch.rand(1)
    torch.manual_seed(7)
    a = flow.sample_and_log_prob(5, torch.Generator().manual_seed(1))
    b = flow.sample_and_log_prob(5, torch.Generator().manual_seed(1))
    assert torch.equal(torch.rand(1), before)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert torch.equal(flow.sample(5, torch.Generator().manual_seed(1)), a[0])
    gen = torch.Generator().manual_seed(1)
    assert not torch.equal(flow.sample(5, gen), flow.sample(5, gen))  # the generator advances


def test_iaf_samples_and_scores_its_samples_in_one_pass_per_layer():
    flow = make_flow(4, 1, "iaf", hidden=(8,))
    layer = flow.bijector[0]
    layer.passes = 0
    x, log_q = flow.sample_and_log_prob(10)
    assert layer.passes == 1
    torch.testing.assert_close(log_q, flow.log_prob(x))  # scoring other points costs 4 passes, same answer


def _conditional(seed: int = 0) -> ConditionalFlow:
    flow = make_flow(3, 3, context_dim=2, hidden=(8,), seed=seed)
    for net in flow.nets:  # away from the identity start, so the context matters
        randomise(net, torch.Generator().manual_seed(seed), std=0.4)
    return flow


def test_a_conditional_flow_is_a_flow_for_each_context():
    flow = _conditional()
    assert isinstance(flow, ConditionalFlow)
    assert [type(b) for b in flow.given(torch.zeros(2)).bijector] == [ConditionalAffineCoupling] * 3
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    contexts = torch.randn(4, 2, generator=torch.Generator().manual_seed(1))
    per_row = flow.log_prob(x, contexts)
    one_at_a_time = torch.cat([flow.log_prob(x[i : i + 1], contexts[i]) for i in range(4)])
    torch.testing.assert_close(per_row, one_at_a_time)
    assert not torch.allclose(flow.log_prob(x, contexts[0]), flow.log_prob(x, contexts[1]))  # the context changes q
    z, log_q = flow.sample_and_log_prob(4, contexts, torch.Generator().manual_seed(2))
    torch.testing.assert_close(log_q, flow.log_prob(z, contexts))


def test_a_conditional_flow_samples_given_one_context_or_one_per_sample():
    flow, contexts = _conditional(), torch.randn(5, 2, generator=torch.Generator().manual_seed(1))
    one = flow.sample(5, contexts[0], torch.Generator().manual_seed(2))
    torch.testing.assert_close(one, flow.given(contexts[0]).sample(5, torch.Generator().manual_seed(2)))
    each = flow.sample(5, contexts, torch.Generator().manual_seed(2))
    for i in range(5):  # the same base draw, pushed through the flow of each row's own context
        z = flow.given(contexts[0]).base_sample(5, torch.Generator().manual_seed(2))[i : i + 1]
        torch.testing.assert_close(each[i : i + 1], flow.given(contexts[i]).bijector.forward(z))
    x, log_q = flow.sample_and_log_prob(5, contexts[0], torch.Generator().manual_seed(2))
    torch.testing.assert_close(x, one)
    torch.testing.assert_close(log_q, flow.log_prob(x, contexts[0]))


def test_training_with_contexts_pairs_each_point_with_its_own_context():
    flow = make_flow(2, 2, context_dim=1, hidden=(8,), seed=0)
    c = torch.linspace(-2, 2, 40)[:, None]
    x = torch.cat([c, -c], 1)  # each point is a function of its context: a mispaired batch would show
    seen = []

    def paired(model, batch, contexts):
        seen.append(torch.equal(batch, torch.cat([contexts, -contexts], 1)))
        return nll(model, batch, contexts)

    result = train(flow, x, context=c, steps=20, batch_size=8, lr=1e-2, loss_fn=paired)
    assert seen == [True] * 20 and result.losses[-1] < result.losses[0]
    curve = ValidationCurve(flow, x[:10], context=c[:10])
    assert math.isfinite(curve.val_nll[0])
    assert math.isfinite(train(flow, x, context=c[0], steps=2, batch_size=8).final)  # one context for every point


def test_reverse_kl_fits_a_conditional_flow_to_a_target_that_moves_with_its_context():
    flow = make_flow(2, 4, context_dim=2, hidden=(16,), seed=0)
    contexts = lambda n, g: 4 * torch.rand(n, 2, generator=g) - 2  # noqa: E731
    objective = reverse_kl(lambda x, c: -0.5 * ((x - c) ** 2).sum(1), context=contexts)
    train(flow, objective=objective, steps=300, lr=1e-2, batch_size=256)
    with torch.no_grad():
        for c in ([1.5, -1.0], [-0.5, 0.5]):
            mean = flow.sample(4000, torch.tensor(c), torch.Generator().manual_seed(3)).mean(0)
            assert torch.allclose(mean, torch.tensor(c), atol=0.3), (c, mean)  # worst of 5 seeds: 0.12


def test_a_fresh_conditional_flow_is_the_base_and_is_reproducible():
    flow = make_flow(2, 2, context_dim=1, seed=3)
    x = torch.randn(5, 2, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(flow.log_prob(x, torch.ones(1)), standard_normal(2).log_prob(x))
    for pa, pb in zip(flow.parameters(), make_flow(2, 2, context_dim=1, seed=3).parameters()):
        assert torch.equal(pa, pb)


@pytest.mark.parametrize(
    "call,fragment",
    [
        (lambda f: f.log_prob(torch.zeros(3, 3), torch.zeros(2, 2)), "3 points"),
        (lambda f: f.log_prob(torch.zeros(3, 3), torch.zeros(3)), "shape (2,)"),
        (lambda f: f.log_prob(torch.zeros(3, 3), torch.tensor([0.0, float("nan")])), "NaN"),
        (lambda f: f.sample_and_log_prob(4, torch.zeros(3, 2)), "3 rows for n = 4"),
        (lambda f: f.sample(4), "context"),
        (lambda f: f.log_prob(torch.zeros(3, 3)), "context"),
        (lambda f: train(f, torch.zeros(3, 3), steps=1), "context=c"),
        (lambda f: train(f, torch.zeros(3, 3), context=torch.zeros(2, 2), steps=1), "2 rows but data has 3"),
        (lambda f: train(f, objective=reverse_kl(lambda x: -(x**2).sum(1)), steps=1), "context"),
        (lambda f: train(make_flow(3, 1), torch.zeros(3, 3), context=torch.zeros(3, 2)), "not a conditional flow"),
        (lambda f: make_flow(3, 2, "maf", context_dim=2), "coupling layers only"),
        (lambda f: make_flow(3, 2, context_dim=0), "positive"),
    ],
)
def test_conditional_flows_explain_bad_input(call, fragment):
    with pytest.raises(ValueError) as info:  # the message names the context
        call(_conditional())
    assert fragment in str(info.value)
