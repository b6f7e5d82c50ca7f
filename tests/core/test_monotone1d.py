"""The learnable monotone map of notebook 03 and the Sigmoid / Logit layers that let a flow use a uniform base."""

import math

import numpy as np
import pytest
import torch

from lessonlib.data import load_old_faithful
from lessonlib.flows import Flow, make_flow, uniform_base
from lessonlib.lessons.l03_likelihood.experiments import mass_by_quadrature
from lessonlib.monotone1d import Logit, MonotoneMixture, Sigmoid
from lessonlib.training import nll, train
from lessonlib.verify import verify_bijector


def test_sigmoid_and_logit_alone_match_autograd_both_ways():
    z = torch.tensor([[-4.0, 0.3], [0.0, 2.5], [1.7, -0.9]])
    assert verify_bijector(Sigmoid(), z, atol=1e-9, rtol=1e-8) == []
    u = torch.sigmoid(z)  # Logit acts on (0, 1)
    assert verify_bijector(Logit(), u, atol=1e-9, rtol=1e-8) == []


@pytest.mark.parametrize(
    "call",
    [
        lambda: Logit().forward(torch.tensor([[0.5], [1.0]])),
        lambda: Logit().forward(torch.tensor([[-0.1]])),
        lambda: Sigmoid().inverse(torch.tensor([[0.0]])),
    ],
)
def test_unit_interval_endpoints_are_refused_with_an_explanation(call):
    with pytest.raises(ValueError, match=r"strictly inside \(0, 1\).*infinity"):
        call()


def test_one_component_is_the_affine_map():
    # logit(sigmoid((x - mu) / s)) = (x - mu) / s, log-det -log s
    mix = MonotoneMixture(torch.tensor([[0.7]]), torch.tensor([[math.log(2.0)]]))
    x = torch.tensor([[-3.0], [0.7], [5.0]])
    z, ld = mix.inverse_and_log_det(x)
    assert torch.allclose(z, (x - 0.7) / 2.0, atol=1e-12)
    assert torch.allclose(ld, torch.full((3,), -math.log(2.0)), atol=1e-12)


def test_every_setting_is_increasing_and_round_trips_far_out():
    gen = torch.Generator().manual_seed(3)
    for _ in range(5):
        mix = MonotoneMixture(
            2 * torch.randn(2, 6, generator=gen),
            torch.randn(2, 6, generator=gen) - 0.5,
            2 * torch.randn(2, 6, generator=gen),
        )
        x = torch.linspace(-12, 12, 500)[:, None].expand(500, 2).contiguous()
        with torch.no_grad():
            z, ld = mix.inverse_and_log_det(x)
            assert (z.diff(dim=0) > 0).all() and torch.isfinite(ld).all()
            zz = torch.tensor([[-8.0, 8.0], [0.0, -0.5], [3.0, 6.0]])
            assert torch.allclose(mix.inverse(mix.forward(zz)), zz, atol=1e-8)


def test_a_float32_mixture_solves_in_float32_and_inputs_follow_the_layers_dtype():
    mix = MonotoneMixture.spread(4).float()
    z = torch.randn(10, 1, dtype=torch.float64)
    x, ld = mix.forward_and_log_det(z)  # float64 input, converted to the layer's float32
    assert x.dtype == torch.float32 and ld.dtype == torch.float32
    assert torch.allclose(mix.inverse(x), z.float(), atol=1e-4)
    x64, _ = MonotoneMixture.spread(4).forward_and_log_det(z.float())  # float32 input into a float64 layer
    assert x64.dtype == torch.float64


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="NaN or infinity"):
        MonotoneMixture(torch.tensor([[0.0, float("nan")]]), torch.zeros(1, 2))


def test_uniform_base_needs_the_logit_layer_and_then_works():
    x = torch.as_tensor(load_old_faithful()[:, :1])
    flow = make_flow(1, layer="mixture", base="Uniform(0, 1)", scale_to=x)
    assert isinstance(flow.bijector[0], Logit)
    z = flow.bijector.inverse(x)
    assert ((z > 0) & (z < 1)).all()
    assert torch.isfinite(flow.log_prob(x)).all()
    assert Flow(uniform_base(1), MonotoneMixture.spread(3)).log_prob(torch.tensor([[5.0]])).item() == -math.inf


def test_fits_old_faithful_quickly_and_reproducibly():
    x = torch.as_tensor(load_old_faithful()[:, :1])
    a, b = make_flow(1, layer="mixture", scale_to=x), make_flow(1, layer="mixture", scale_to=x)
    ra = train(a, x, steps=300, lr=0.05, batch_size=None)
    rb = train(b, x, steps=300, lr=0.05, batch_size=None)
    assert ra.losses == rb.losses
    assert ra.losses[-1] < 0.95 < 1.4 < ra.losses[0]
    assert abs(nll(a, x).item() - ra.losses[-1]) < 1e-3
    assert abs(mass_by_quadrature(a) - 1) < 1e-4
    with torch.no_grad():
        s = a.sample(5000)
    assert abs(s.mean().item() - x.mean().item()) < 0.05 and np.isfinite(s.numpy()).all()
