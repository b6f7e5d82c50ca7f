"""Notebook 06's computations: MAF read as the chain rule, passes counted, Jacobi's formula, network traces and
ODE likelihoods, the flow on the plane behind the widget, a MAF fitted to Old Faithful."""

import math

import numpy as np
import pytest
import torch

from lessonlib.autoregressive import AutoregressiveAffine
from lessonlib.data import load_old_faithful, standardise
from lessonlib.flows import Flow, make_flow, standard_normal
from lessonlib.lessons.l06_where_flows_fit.experiments import (
    CountedField,
    PlaneFlow,
    autoregressive_log_prob,
    coupling_passes,
    exact_trace,
    fit_maf,
    hutchinson_trace,
    linear_ode_log_det,
    ode_forward,
    ode_log_prob,
    plane_field,
    rademacher,
    rank_of_generator,
    rk4_steps,
)


def test_chain_rule_equals_change_of_variables():
    torch.manual_seed(0)
    maf = AutoregressiveAffine(3, hidden=(8,))
    for p in maf.parameters():
        torch.nn.init.normal_(p, std=0.5)
    x = torch.randn(6, 3)
    torch.testing.assert_close(autoregressive_log_prob(maf, x), Flow(standard_normal(3), maf).log_prob(x))


def test_jacobi_formula():
    a, b = linear_ode_log_det(torch.tensor([[0.3, -1.0], [2.0, -0.7]]), 2.5)
    assert abs(a - b) < 1e-9


def test_fit_maf_is_reproducible_learns_and_leaves_the_global_rng_alone():
    data = standardise(load_old_faithful(), dtype=torch.float64)[0]
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = fit_maf(data, n_layers=2, hidden=(8,), steps=60)
    after = torch.rand(1)
    assert torch.equal(before, after)  # fitting does not reseed or consume the global generator
    b = fit_maf(data, n_layers=2, hidden=(8,), steps=60)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb) and pa.dtype == torch.float64
    untrained = make_flow(2, 2, "maf", hidden=(8,), dtype=torch.float64)
    with torch.no_grad():
        assert -a.log_prob(data).mean() < -untrained.log_prob(data).mean() - 0.5


# -- passes --------------------------------------------------------------------------------------------------


def test_coupling_passes_are_counted_per_layer_in_both_directions():
    assert coupling_passes(make_flow(6, 1), n=50) == (1, 1)
    assert coupling_passes(make_flow(6, 5), n=50) == (5, 5)
    with pytest.raises(ValueError, match="coupling layer"):
        coupling_passes(make_flow(2, 2, "maf"), n=5)


def test_rank_of_generator_sees_a_thin_image_and_a_full_one():
    torch.manual_seed(0)
    up = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 5))
    shape, ranks = rank_of_generator(up, torch.randn(10, 2))
    assert shape == (5, 2) and ranks == [2] * 10
    shape, ranks = rank_of_generator(torch.nn.Linear(3, 3), torch.randn(4, 3))
    assert shape == (3, 3) and ranks == [3] * 4


# -- the solver ----------------------------------------------------------------------------------------------


def test_rk4_steps_solve_a_linear_ode_forwards_and_backwards_for_arrays_and_tensors():
    decay = lambda state, t: (-state[0],)  # noqa: E731 - dx/dt = -x, x(t) = exp(-t)
    states = list(rk4_steps(decay, (np.ones(3),), 0.0, 0.1, 10))
    assert len(states) == 10 and np.allclose(states[-1][0], np.exp(-1.0), atol=1e-6)
    (back,) = list(rk4_steps(decay, (torch.full((2,), math.exp(-1.0), dtype=torch.float64),), 1.0, -0.1, 10))[-1]
    assert torch.allclose(back, torch.ones(2, dtype=torch.float64), atol=1e-6)
    assert list(rk4_steps(decay, (np.ones(1),), 0.0, 0.1, 0)) == []
    with pytest.raises(ValueError, match="0 or more"):
        list(rk4_steps(decay, (np.ones(1),), 0.0, 0.1, -1))


# -- the network field, its trace, and ODE likelihoods ------------------------------------------------------

D_FIELD = 5


@pytest.fixture
def field():
    return CountedField(D_FIELD, hidden=16, seed=3)


def basis_probes(batch: int, dim: int) -> torch.Tensor:
    """sqrt(D) e_i for i = 1..D: E[e e^T] = I, and their mean of e^T J e is exactly tr J."""
    eye = torch.eye(dim, dtype=torch.float64) * dim**0.5
    return eye[:, None, :].expand(dim, batch, dim).contiguous()


def test_exact_trace_matches_autograd_and_counts_one_backward_pass_per_dimension(field):
    x = torch.randn(3, D_FIELD, dtype=torch.float64)
    field.reset_counts()
    g, tr = exact_trace(field, x, 0.3)
    assert (field.forward_passes, field.backward_passes) == (1, D_FIELD)
    for b in range(3):
        J = torch.autograd.functional.jacobian(lambda v: field(v[None], 0.3)[0], x[b])
        assert abs(torch.trace(J) - tr[b]) < 1e-12
    assert torch.allclose(g, field(x, 0.3).detach())


def test_hutchinson_is_exact_with_basis_probes_and_unbiased_with_rademacher_ones(field):
    x = torch.randn(2, D_FIELD, dtype=torch.float64)
    _, exact = exact_trace(field, x, 0.0)
    field.reset_counts()
    _, est = hutchinson_trace(field, x, 0.0, basis_probes(2, D_FIELD))
    assert field.backward_passes == D_FIELD and torch.allclose(est, exact, atol=1e-12)
    many = rademacher((1, 20000, D_FIELD), torch.Generator().manual_seed(0))
    _, noisy = hutchinson_trace(field, x[:1].expand(20000, D_FIELD), 0.0, many)
    assert set(many.unique().tolist()) == {-1.0, 1.0}
    assert abs(noisy.mean() - exact[0]) < 4 * noisy.std() / 20000**0.5
    with pytest.raises(ValueError, match="probes must have shape"):
        hutchinson_trace(field, x, 0.0, many)


def test_ode_log_prob_inverts_the_forward_solve_and_counts_its_passes(field):
    z = torch.randn(3, D_FIELD, dtype=torch.float64)
    x, integral = ode_forward(field, z, T=1.0, steps=10, with_trace=True)
    field.reset_counts()
    log_p = ode_log_prob(field, x, T=1.0, steps=10)
    assert (field.forward_passes, field.backward_passes) == (40, 40 * D_FIELD)
    want = -0.5 * (z * z).sum(1) - 0.5 * D_FIELD * math.log(2 * math.pi) - integral
    assert torch.allclose(log_p, want, atol=1e-6)  # RK4 forwards then backwards: O(h^4) apart
    field.reset_counts()
    with_basis = ode_log_prob(field, x, T=1.0, steps=10, probes=basis_probes(3, D_FIELD))
    assert field.backward_passes == 40 * D_FIELD and torch.allclose(with_basis, log_p, atol=1e-10)


def test_the_integrated_trace_is_the_log_det_of_the_solver_map(field):
    z = torch.randn(1, D_FIELD, dtype=torch.float64)
    _, integral = ode_forward(field, z, T=1.5, steps=15, with_trace=True)
    J = torch.autograd.functional.jacobian(lambda v: ode_forward(field, v[None], T=1.5, steps=15)[0][0], z[0])
    assert abs(integral.item() - torch.linalg.slogdet(J)[1].item()) < 1e-5


def test_counted_field_refuses_bad_sizes_and_leaves_the_global_rng_alone():
    torch.manual_seed(5)
    before = torch.rand(1)
    torch.manual_seed(5)
    a, b = CountedField(4, seed=1), CountedField(4, seed=1)
    assert torch.equal(torch.rand(1), before)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    with pytest.raises(ValueError, match="positive"):
        CountedField(0)


# -- the flow on the plane (the widget's maths) --------------------------------------------------------------


def test_the_closed_form_divergence_is_the_divergence():
    rng = np.random.default_rng(0)
    x1, x2 = rng.uniform(-4, 4, (2, 200))
    e = 1e-6
    for a in (0.0, 0.7, 1.2):
        v1p, v2p = plane_field(x1 + e, x2, a)[0], plane_field(x1, x2 + e, a)[1]
        v1m, v2m = plane_field(x1 - e, x2, a)[0], plane_field(x1, x2 - e, a)[1]
        numeric = (v1p - v1m) / (2 * e) + (v2p - v2m) / (2 * e)
        assert np.allclose(plane_field(x1, x2, a)[2], numeric, atol=1e-7)


@pytest.fixture(scope="module")
def plane():
    return PlaneFlow(1.0)


@pytest.mark.parametrize("strength", [0.0, 0.4, 0.8, 1.2])
def test_the_density_on_the_grid_keeps_its_mass_at_every_time(plane, strength):
    plane.set_strength(strength)
    masses = np.array([plane.mass(k) for k in range(21)])
    assert np.abs(masses - 1).max() < 2e-4
    assert plane.mass(0) == pytest.approx(0.99989, abs=1e-5)  # N(0, I) outside [-4, 4]^2 holds about 1e-4


@pytest.mark.parametrize("strength", [0.3, 1.2])
@pytest.mark.parametrize("z0", [(-0.2, 1.5), (2.9, -2.9), (0.0, 0.0), (-1.0, 0.5)])
def test_the_integrated_trace_is_the_finite_difference_log_det(plane, strength, z0):
    plane.set_strength(strength)
    for k in (1, 7, 20):
        r = plane.track(z0, k)
        assert r["integral"] == pytest.approx(r["log_det_fd"], abs=5e-5)
        assert r["log_pt"] == pytest.approx(r["log_p0"] - r["integral"], abs=1e-12)
        assert r["path"].shape == (k + 1, 2) and tuple(r["path"][0]) == pytest.approx(z0)


def test_tracing_a_grid_point_back_agrees_with_carrying_its_base_point_forward():
    """log p_t at a grid point (traced back) equals log p_0(z) - integral for z carried forward (RK4: O(h^4))."""
    plane = PlaneFlow(1.1, n_grid=41)
    i, j = 25, 12  # a grid point with a good share of density
    z1, z2, minus_integral = plane.traced_back(10)
    forward = plane.track((z1[i, j], z2[i, j]), 10)
    assert forward["path"][-1] == pytest.approx((plane.axis[j], plane.axis[i]), abs=1e-4)
    assert plane.log_density(10)[i, j] == pytest.approx(forward["log_pt"], abs=1e-4)


def test_particles_follow_the_field_and_frames_are_cached():
    plane = PlaneFlow(0.8, n_particles=7)
    start = plane.particles(0)
    assert start.shape == (7, 2)
    later = plane.particles(12)
    first = plane.track(start[0], 12)["path"][-1]
    assert later[0] == pytest.approx(first, abs=1e-9)
    assert plane.particles(12) is not later and np.array_equal(plane.particles(12), later)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda p: p.log_density(-1), "0 or more"),
        (lambda p: p.log_density(1.5), "whole number"),
        (lambda p: p.set_strength(float("nan")), "finite"),
        (lambda p: p.track((0.0, float("inf")), 3), "two finite numbers"),
        (lambda p: p.track((0.0, 1.0, 2.0), 3), "two finite numbers"),
    ],
)
def test_bad_input_is_refused_with_the_reason(call, message):
    with pytest.raises(ValueError, match=message):
        call(PlaneFlow(1.0, n_grid=11))
    with pytest.raises(ValueError, match="step > 0"):
        PlaneFlow(step=0.0)
