"""Rational-quadratic splines: the formula's promises at the knots, in the tails, in float32 and float64,
the stable inverse, spline coupling's structure, and errors that explain bad parameters.

Every spline bijector is also in the property suite (tests/core/test_bijector_properties.py) through its
registered example; the tests here put points exactly where the formulas switch (on knots, at the end knots,
beyond them), which random points almost never hit.
"""

import math

import pytest
import torch

from lessonlib.coupling import jacobian_matrix
from lessonlib.flows import make_flow
from lessonlib.splines import (
    MIN_DERIVATIVE,
    Knots,
    RationalQuadraticSpline,
    SplineCoupling,
    bin_quadratic,
    check_knots,
    knots_from_bins,
    knots_from_unconstrained,
    rq_spline,
    rq_spline_inverse,
    spline_parameter_count,
)
from lessonlib.training import train
from lessonlib.verify import verify_bijector

WIDTHS, HEIGHTS, DERIVS = [1.0, 0.5, 2.0, 0.7], [0.5, 2.0, 1.0, 0.3], [1.0, 3.0, 0.2, 1.5, 0.6]


def example_knots(dtype=torch.float64) -> Knots:
    k = knots_from_bins(WIDTHS, HEIGHTS, DERIVS, left=-2.0, bottom=-1.5)
    return Knots(*(t.to(dtype) for t in k))


def example_spline(dtype=torch.float64) -> RationalQuadraticSpline:
    k = example_knots()
    return RationalQuadraticSpline(k.u, k.v, k.d).to(dtype)


def random_coupling(dim: int = 3, n_bins: int = 6, bound: float = 2.0, seed: int = 0) -> SplineCoupling:
    layer = SplineCoupling(torch.tensor([1.0, 0.0, 1.0][:dim]), hidden=(16,), n_bins=n_bins, bound=bound)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(0.8 * torch.randn(p.shape, generator=gen))
    return layer.double()


# --- the formula at the knots -------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_the_spline_passes_through_its_knots_with_their_derivatives(dtype):
    k, spline = example_knots(dtype), example_spline(dtype)
    x, log_det = spline.forward_and_log_det(k.u[:, None])
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    assert torch.allclose(x[:, 0], k.v, atol=tol) and torch.allclose(log_det, torch.log(k.d), atol=tol)
    z, log_det_inv = spline.inverse_and_log_det(k.v[:, None])
    assert torch.allclose(z[:, 0], k.u, atol=tol) and torch.allclose(log_det_inv, -torch.log(k.d), atol=tol)


def test_log_dets_match_autograd_exactly_on_knots_and_in_the_tails():
    k = example_knots()
    ends = torch.tensor([k.u[0] - 1.5, k.u[0] - 1e-9, k.u[-1] + 1e-9, k.u[-1] + 2.0])
    points = torch.cat([k.u, ends])[:, None]  # every knot, both ends included, then the two tails
    assert verify_bijector(example_spline(), points, atol=1e-9, rtol=1e-9) == []


def test_the_tails_are_straight_lines_with_the_end_derivatives():
    k, spline = example_knots(), example_spline()
    z = torch.tensor([[-5.0], [-2.0 - 1e-3], [k.u[-1].item() + 0.5], [9.0]])
    x, log_det = spline.forward_and_log_det(z)
    want_left = k.v[0] + k.d[0] * (z[:2, 0] - k.u[0])
    want_right = k.v[-1] + k.d[-1] * (z[2:, 0] - k.u[-1])
    assert torch.allclose(x[:, 0], torch.cat([want_left, want_right]), atol=1e-12)
    assert torch.allclose(log_det, torch.log(torch.stack([k.d[0], k.d[0], k.d[-1], k.d[-1]])), atol=1e-12)


def test_unconstrained_knots_have_identity_tails_and_start_as_the_identity():
    raw = torch.randn(5, 2, 3 * 6 - 1, generator=torch.Generator().manual_seed(0))
    k = knots_from_unconstrained(raw[..., :6], raw[..., 6:12], raw[..., 12:], bound=3.0)
    assert torch.equal(k.u[..., 0], torch.full((5, 2), -3.0)) and torch.equal(k.v[..., -1], torch.full((5, 2), 3.0))
    assert torch.all(k.d[..., [0, -1]] == 1) and torch.all(k.d >= MIN_DERIVATIVE)
    check_knots(k)  # monotone whatever the raw numbers
    t = torch.tensor([-7.0, -3.0, 3.0, 4.5]).expand(5, 2, 4).movedim(-1, 0)
    v, log_d = rq_spline(t, Knots(*(a.expand(4, 5, 2, 7) for a in k)), identity_tails=True)
    assert torch.allclose(v, t, atol=1e-12) and torch.allclose(log_d, torch.zeros_like(log_d), atol=1e-12)
    zero = knots_from_unconstrained(torch.zeros(6), torch.zeros(6), torch.zeros(5), bound=3.0)
    u = torch.linspace(-4, 4, 101)
    assert torch.allclose(rq_spline(u, Knots(*(a.expand(101, 7) for a in zero)))[0], u, atol=1e-12)


# --- float32 and float64 near bin edges ----------------------------------------------------------


def near_knots(k: Knots, dtype) -> torch.Tensor:
    eps = torch.finfo(dtype).eps
    offsets = torch.tensor([-4 * eps, -eps, 0.0, eps, 4 * eps, 1e-4], dtype=torch.float64)
    pts = (k.u.double()[:, None] * (1 + offsets) + offsets).flatten()
    return torch.cat([pts, torch.linspace(-4, 4, 2001, dtype=torch.float64)]).to(dtype)[:, None]


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-13), (torch.float32, 2e-6)])
def test_round_trips_next_to_every_knot(dtype, tol):
    spline = example_spline(dtype)
    z = near_knots(example_knots(), dtype)
    x, ld_f = spline.forward_and_log_det(z)
    z_back, ld_i = spline.inverse_and_log_det(x)
    assert torch.isfinite(x).all() and torch.isfinite(ld_f).all() and torch.isfinite(ld_i).all()
    assert (z_back - z).abs().max() < tol * 4, f"round trip off by {(z_back - z).abs().max():.3g} in {dtype}"
    assert (ld_f + ld_i).abs().max() < 1e3 * tol
    assert (x[1:] >= x[:-1]).all() or not (z[1:] >= z[:-1]).all()  # sorted input stays sorted


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_spline_coupling_round_trips_on_knots_and_in_tails(dtype):
    layer = random_coupling().to(dtype)
    gen = torch.Generator().manual_seed(1)
    kept = torch.randn(6, 2, generator=gen, dtype=torch.float64).to(dtype)
    knots = layer.knots(kept)  # knots of g: u in data space
    free = torch.cat([knots.u[:, 0, :], torch.full((6, 2), -5.0, dtype=dtype), torch.full((6, 2), 7.0, dtype=dtype)], 1)
    n = free.shape[1]
    x = torch.stack([kept[:, 0].repeat_interleave(n), free.flatten(), kept[:, 1].repeat_interleave(n)], 1)
    z, ld_i = layer.inverse_and_log_det(x)
    x_back, ld_f = layer.forward_and_log_det(z)
    # float32 log-dets lose digits in a bin much steeper than its knots' derivatives: this layer has a bin of
    # slope 36 between derivatives near 1, where log g' moves by about 2 s / d = 70 per unit of xi, so float32's
    # rounding of xi shows in the third decimal (measured: 0.009). Round trips stay at float32 precision.
    tol = (1e-12, 1e-12) if dtype == torch.float64 else (1e-6, 0.05)
    assert torch.allclose(x_back, x, atol=tol[0]) and torch.allclose(ld_f, -ld_i, atol=tol[1])
    tails = x[:, 1].abs() > layer.bound
    assert torch.equal(z[tails], x[tails]) and torch.all(ld_i[tails] == 0)
    if dtype == torch.float64:
        assert verify_bijector(layer, z[::5], atol=1e-8, rtol=1e-8) == []


@pytest.mark.parametrize("derivative", [0.1, 0.01, 0.001])
def test_float32_stays_accurate_on_both_sides_of_a_knot_with_a_small_derivative(derivative):
    """Measured from the nearer knot, a point just left of a knot (xi near 1 in its bin) is as accurate as one
    just right of it; measured from the left knot, float32 log-dets there were off by up to 0.17 (d = 0.001)."""
    grid = torch.tensor([-3.0, -1.5, 0.0, 1.5, 3.0])
    d = torch.tensor([1.0, 1.0, derivative, 1.0, 1.0])
    off = torch.logspace(-6, -0.5, 60)
    z = torch.cat([-off, off])
    k64 = Knots(*(t.expand(120, -1) for t in (grid, grid, d)))
    k32 = Knots(*(t.float() for t in k64))
    x, ld_f = rq_spline(z.float(), k32)
    z_back, ld_i = rq_spline_inverse(x, k32)
    _, exact = rq_spline(z.float().double(), k64)  # float64 at the same (float32-rounded) points
    assert (z_back.double() - z.float().double()).abs().max() < 1e-7
    assert (ld_f.double() - exact).abs().max() < 2e-6 and (ld_i.double() + exact).abs().max() < 2e-6


# --- the stable root ------------------------------------------------------------------------------


def test_the_stable_root_survives_a_straight_bin_where_the_textbook_one_divides_by_zero():
    # a fresh layer: equal bins, all derivatives 1, so every bin is a straight line and a = 0
    k = knots_from_unconstrained(torch.zeros(4), torch.zeros(4), torch.zeros(3), bound=2.0)
    k = Knots(*(t.expand(9, 5) for t in k))
    v = torch.linspace(-1.9, 1.9, 9)
    a, b, c = bin_quadratic(v, k)
    assert torch.allclose(a, torch.zeros(9), atol=1e-12)
    u, _ = rq_spline_inverse(v, k)
    assert torch.allclose(u, v, atol=1e-12)
    textbook = (-b + torch.sqrt(b * b - 4 * a * c)) / (2 * a)
    assert not torch.isfinite(textbook).all()


# --- spline coupling --------------------------------------------------------------------------------


def test_spline_coupling_keeps_the_kept_coordinates_and_has_a_triangular_jacobian():
    layer = random_coupling()
    x = torch.tensor([[0.3, -1.1, 0.8], [1.5, 0.2, -0.4]], dtype=torch.float64)
    z, _ = layer.inverse_and_log_det(x)
    assert torch.equal(z[:, [0, 2]], x[:, [0, 2]])
    J = jacobian_matrix(layer.inverse, x[0])
    assert torch.equal(J[[0, 2]], torch.eye(3, dtype=torch.float64)[[0, 2]])  # kept rows: identity
    assert J[1, 1] > 0  # the transformed coordinate depends on itself increasingly
    log_det = layer.inverse_and_log_det(x[:1])[1].detach()
    assert math.isclose(float(torch.log(J[1, 1])), float(log_det[0]), rel_tol=1e-12, abs_tol=1e-12)


def test_a_fresh_spline_coupling_is_the_identity():
    layer = SplineCoupling(torch.tensor([0.0, 1.0]), n_bins=5, bound=3.0)
    x = torch.tensor([[0.1, 2.0], [-2.9, -0.3], [5.0, 1.0]])
    z, log_det = layer.inverse_and_log_det(x)
    assert torch.allclose(z, x, atol=1e-12) and torch.allclose(log_det, torch.zeros(3), atol=1e-12)


@pytest.mark.parametrize(
    "dim,mask,bins,hidden",
    [(2, [1, 0], 8, (64, 64)), (6, [1, 1, 1, 0, 0, 0], 8, (32, 32)), (5, [1, 0, 1, 0, 1], 3, (10,))],
)
def test_parameter_count(dim, mask, bins, hidden):
    layer = SplineCoupling(torch.tensor(mask, dtype=torch.float64), hidden=hidden, n_bins=bins)
    n_kept = sum(mask)
    assert sum(p.numel() for p in layer.parameters()) == spline_parameter_count(n_kept, dim - n_kept, bins, hidden)


def test_make_flow_builds_spline_flows_that_train():
    flow = make_flow(2, n_layers=4, layer="spline", hidden=(16, 16), n_bins=6, bound=3.0, seed=3)
    assert all(isinstance(layer, SplineCoupling) for layer in flow.bijector.layers)
    assert [layer.mask.tolist() for layer in flow.bijector.layers] == [[1, 0], [0, 1], [1, 0], [0, 1]]
    data = torch.randn(512, 2, generator=torch.Generator().manual_seed(0)) * torch.tensor([0.5, 1.5]) + 0.5
    losses = train(flow, data, steps=60, lr=1e-2, batch_size=128).losses
    assert sum(losses[-10:]) < sum(losses[:10])
    again = make_flow(2, n_layers=4, layer="spline", hidden=(16, 16), n_bins=6, bound=3.0, seed=3)
    fresh = make_flow(2, n_layers=4, layer="spline", hidden=(16, 16), n_bins=6, bound=3.0, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(again.parameters(), fresh.parameters()))


def test_gradients_are_finite_on_knots_and_in_tails():
    layer = random_coupling()
    knots = layer.knots(torch.zeros(1, 2, dtype=torch.float64))
    free = torch.cat([knots.u[0, 0], torch.tensor([-9.0, 9.0, 2.0, -2.0], dtype=torch.float64)])
    x = torch.stack([torch.zeros_like(free), free, torch.zeros_like(free)], 1)
    z, log_det = layer.inverse_and_log_det(x)
    (z.sum() + log_det.sum()).backward()
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters())


# --- bad parameters are explained ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,words",
    [
        (([1.0, -0.5, 2.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]), ["width must be positive", "no inverse"]),
        (([1.0, 0.0, 2.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]), ["width must be positive", "on top of each other"]),
        (([1.0, 1.0, 1.0], [1.0, -2.0, 1.0], [1.0, 1.0, 1.0, 1.0]), ["height must be positive"]),
        (
            ([1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 0.0, 1.0, 1.0]),
            ["derivative at knot 1 is 0", "strictly increasing"],
        ),
        (([1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, -0.5, 1.0]), ["derivative at knot 2", "infinite or negative"]),
        (([1.0, float("nan"), 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]), ["NaN"]),
        (([1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, float("nan"), 1.0, 1.0]), ["NaN"]),
        (([1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]), ["K + 1 knots"]),
    ],
)
def test_bad_bins_raise_errors_that_explain_the_maths(args, words):
    with pytest.raises(ValueError) as e:
        RationalQuadraticSpline.from_bins(*args)
    for word in words:
        assert word in str(e.value), str(e.value)


def test_unsorted_knots_are_named():
    with pytest.raises(
        ValueError, match=r"positions in z are not strictly increasing: bin 1 \(between knots 1 and 2\)"
    ):
        RationalQuadraticSpline([-1.0, 0.5, 0.2, 1.0], [-1.0, 0.0, 0.5, 1.0], [1.0, 1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="positions in x are not strictly increasing"):
        RationalQuadraticSpline([-1.0, 0.0, 0.5, 1.0], [-1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="same shape"):
        RationalQuadraticSpline([-1.0, 0.0, 1.0], [-1.0, 1.0], [1.0, 1.0, 1.0])


def test_mixed_dtypes_and_kept_dtypes():
    with pytest.raises(ValueError, match="mixed dtypes"):
        knots_from_bins(
            torch.ones(3, dtype=torch.float32), torch.ones(3, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
        )
    with pytest.raises(ValueError, match="mixed dtypes"):
        RationalQuadraticSpline(torch.linspace(-1, 1, 4), torch.linspace(-1, 1, 4, dtype=torch.float32), torch.ones(4))
    k = knots_from_bins(
        torch.ones(3, dtype=torch.float32), torch.ones(3, dtype=torch.float32), torch.ones(4, dtype=torch.float32)
    )
    assert k.u.dtype == torch.float32  # a float tensor keeps its dtype
    spline = RationalQuadraticSpline(*(t.double() for t in k))
    assert spline.knots().u.dtype == torch.float64


def test_bad_layer_settings_raise():
    with pytest.raises(ValueError, match="at least one bin"):
        SplineCoupling([1, 0], n_bins=0)
    with pytest.raises(ValueError, match="bound must be positive"):
        SplineCoupling([1, 0], bound=0.0)
    with pytest.raises(ValueError, match="mask"):
        SplineCoupling([1, 1])


def test_any_parameter_values_keep_a_learnable_spline_monotone():
    spline = example_spline()
    with torch.no_grad():  # what a wild optimiser step might leave behind: unsorted raw numbers, negative logs
        for p in spline.parameters():
            p.copy_(3.0 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    check_knots(spline.knots())  # still increasing, derivatives still positive
    z = torch.linspace(-40, 40, 1001)[:, None]
    assert (spline.forward(z).diff(dim=0) > 0).all()


def test_a_spline_coupling_needs_a_whole_number_of_bins():
    with pytest.raises(ValueError, match="n_bins"):
        SplineCoupling(torch.tensor([1.0, 0.0]), n_bins=2.5)  # not silently 2 bins
    with pytest.raises(ValueError, match="at least one bin|n_bins"):
        SplineCoupling(torch.tensor([1.0, 0.0]), n_bins=0)
