"""lessonlib.linear2d: areas, pushed densities, Jacobians, timings."""

import numpy as np
import pytest
import torch

from lessonlib import linear2d as L
from lessonlib.bijectors import Linear

RNG = np.random.default_rng(0)
MATRICES = [
    np.diag([2.0, 1.0]),
    np.array([[0.0, 1.0], [1.0, 0.0]]),
    np.array([[1.0, 0.5], [-0.7, 1.3]]),
    L.rotation(0.7) * 1.5,
    np.array([[-1.2, 0.3], [0.4, 0.8]]),
]


@pytest.mark.parametrize("A", MATRICES)
def test_unit_square_area_is_abs_det_and_signed_area_is_det(A):
    P = L.unit_square_image(A)
    assert L.polygon_area(P) == pytest.approx(abs(L.det2(A)), rel=1e-12)
    assert L.polygon_area(P, signed=True) == pytest.approx(L.det2(A), rel=1e-12)
    assert L.det2(A) == pytest.approx(np.linalg.det(A), rel=1e-12)


def test_the_lessons_example_diag_2_1():
    A = np.diag([2.0, 1.0])
    x = np.array([[0.5, 0.5], [1.9, 0.1], [2.1, 0.5], [1.0, 1.1]])
    np.testing.assert_allclose(L.pushed_density_linear(A, x, base="uniform"), [0.5, 0.5, 0.0, 0.0])
    xs, ys, dens = L.pushed_density_grid(A, lo=-1.0, hi=3.0, n=400, base="uniform")
    assert dens.sum() * (4.0 / 400) ** 2 == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("A", MATRICES)
def test_pushed_gaussian_integrates_to_one_and_matches_closed_form(A):
    xs, ys, dens = L.pushed_density_grid(A, lo=-8.0, hi=8.0, n=200)
    assert dens.sum() * (16.0 / 200) ** 2 == pytest.approx(1.0, abs=1e-3)
    x = RNG.standard_normal((50, 2))
    cov = A @ A.T
    want = np.exp(-0.5 * np.einsum("ni,ij,nj->n", x, np.linalg.inv(cov), x)) / (2 * np.pi * np.sqrt(np.linalg.det(cov)))
    np.testing.assert_allclose(L.pushed_density_linear(A, x), want, rtol=1e-10)


@pytest.mark.parametrize("A", [[[1.0, 2.0], [0.5, 1.0]], [[0.0, 0.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 1.0 + 1e-15]]])
def test_singular_matrices_raise_a_sentence_about_the_collapse(A):
    assert L.is_singular(A)
    with pytest.raises(ValueError, match="det A = 0|0 up to rounding"):
        L.check_invertible(A)
    with pytest.raises(ValueError, match="no inverse"):
        L.pushed_density_linear(A, np.zeros((1, 2)))


def test_bad_shapes_and_nan_raise():
    with pytest.raises(ValueError, match="2x2"):
        L.as_matrix(np.eye(3))
    with pytest.raises(ValueError, match="NaN"):
        L.as_matrix([[1.0, np.nan], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        L.apply_linear(np.eye(2), np.zeros(3))
    with pytest.raises(ValueError, match="base must be"):
        L.pushed_density_linear(np.eye(2), np.zeros((1, 2)), base="cauchy")
    with pytest.raises(ValueError, match="unknown map"):
        L.get_map("spiral")


def test_inverse_jacobian_is_inverse_matrix_with_reciprocal_det():
    A = MATRICES[2]
    inv = lambda x: np.linalg.solve(A, x.T).T  # noqa: E731
    J_inv = L.finite_difference_jacobian(inv, RNG.standard_normal((5, 2)))
    np.testing.assert_allclose(J_inv, np.broadcast_to(np.linalg.inv(A), (5, 2, 2)), atol=1e-9)
    assert np.linalg.det(J_inv[0]) == pytest.approx(1 / L.det2(A), rel=1e-8)


@pytest.mark.parametrize("name", list(L.MAPS))
def test_nonlinear_maps_round_trip_and_analytic_jacobian_matches_finite_differences(name):
    m = L.get_map(name)
    z = 1.5 * RNG.standard_normal((300, 2))
    np.testing.assert_allclose(m.inverse(m.forward(z)), z, atol=1e-10)
    np.testing.assert_allclose(L.finite_difference_jacobian(m.forward, z), m.jacobian(z), atol=1e-7)
    # the inverse map's Jacobian at x = f(z) is the inverse matrix of J_f(z)
    J_inv = L.finite_difference_jacobian(m.inverse, m.forward(z[:20]))
    np.testing.assert_allclose(J_inv, np.linalg.inv(m.jacobian(z[:20])), atol=1e-6)
    assert np.all(m.det(z) > 0)


@pytest.mark.parametrize("name", list(L.MAPS))
def test_analytic_jacobian_matches_torch_autograd(name):
    m = L.get_map(name)
    for zi in RNG.standard_normal((4, 2)):
        J_auto = torch.autograd.functional.jacobian(lambda t: m.forward(t[None], xp=torch)[0], torch.as_tensor(zi))
        np.testing.assert_allclose(J_auto.numpy(), m.jacobian(zi[None])[0], atol=1e-12)
        np.testing.assert_allclose(
            m.forward(torch.as_tensor(zi[None]), xp=torch).numpy(), m.forward(zi[None]), atol=1e-14
        )


@pytest.mark.parametrize("name", list(L.MAPS))
def test_tiny_cells_area_ratio_tends_to_abs_det(name):
    m = L.get_map(name)
    errs = []
    for n in (10, 40):
        c, r = L.cell_area_ratios(m.forward, -2.0, 2.0, n)
        errs.append(np.max(np.abs(r - np.abs(m.det(c))) / np.abs(m.det(c))))
    assert errs[1] < 2e-3 and errs[1] < errs[0] / 4  # second order: 4x finer cells, about 16x smaller error


@pytest.mark.parametrize("name", list(L.MAPS))
def test_pushed_density_of_a_nonlinear_map_integrates_to_one(name):
    m = L.get_map(name)
    _, _, pts = L.grid_points(-12.0, 12.0, 400)
    mass = L.pushed_density_map(m, pts).sum() * (24.0 / 400) ** 2
    assert mass == pytest.approx(1.0, abs=5e-3)


def test_linear_bijector_agrees_with_numpy():
    A = MATRICES[4]
    f = Linear(torch.as_tensor(A))
    z = torch.as_tensor(RNG.standard_normal((6, 2)))
    x, log_det = f.forward_and_log_det(z)
    np.testing.assert_allclose(x.numpy(), L.apply_linear(A, z.numpy()), atol=1e-12)
    np.testing.assert_allclose(log_det.numpy(), np.log(abs(L.det2(A))), atol=1e-12)


def test_timings_have_the_right_shape_and_the_overflow_table_shows_overflow_and_underflow():
    t = L.time_log_dets([8, 16], repeats=1)
    assert t["dense"].shape == t["triangular"].shape == (2,)
    assert np.all(t["dense"] > 0) and L.growth_ratio(np.array([1.0, 8.0])) == 8.0
    up = L.det_overflow_table([100, 400], 10.0)
    down = L.det_overflow_table([100, 400], 0.1)
    assert np.isfinite(up[0][1]) and np.isinf(up[1][1]) and down[1][1] == 0.0
    for _, _, logdet, want in up + down:
        assert logdet == pytest.approx(want, rel=1e-10)


# --- tiny, huge and bad matrices and points ----------------------------------------------------------


def test_a_tiny_or_huge_invertible_matrix_is_not_called_singular():
    assert not L.is_singular(1e-200 * np.eye(2)) and not L.is_singular(1e200 * np.eye(2))
    assert L.is_singular([[1e-200, 2e-200], [2e-200, 4e-200]])  # parallel columns, at any scale
    for A, words in ((1e-200 * np.eye(2), "underflows to 0"), (1e200 * np.eye(2), "overflows")):
        with pytest.raises(ValueError, match=words) as info:
            L.check_invertible(A)
        assert "same line" not in str(info.value) and "A is invertible" in str(info.value)
    np.testing.assert_array_equal(L.check_invertible(1e-100 * np.eye(2)), 1e-100 * np.eye(2))


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: L.as_matrix(np.array([[1j, 0], [0, 1]])), ValueError, "complex"),
        (lambda: L.as_matrix("abc"), TypeError, "the text 'abc'"),
        (
            lambda: L.pushed_density_linear(np.eye(2), np.full((2, 2), np.nan)),
            ValueError,
            r"x contains NaN or infinity \(row 0\)",
        ),
        (lambda: L.gaussian_density(np.zeros(3)), ValueError, r"shape \(N, 2\)"),
        (lambda: L.pushed_density_grid(np.eye(2), n=0), ValueError, "n must be at least 1"),
        (lambda: L.pushed_density_grid(np.eye(2), lo=3.0, hi=-3.0), ValueError, "lo < hi"),
        (lambda: L.finite_difference_jacobian(lambda p: p, np.zeros((1, 2)), eps=0.0), ValueError, "positive step"),
        (lambda: L.rotation(float("nan")), ValueError, "theta must be a finite number"),
        (lambda: L.get_map(["radial"]), ValueError, "unknown map"),
    ],
)
def test_bad_input_gets_lessonlibs_own_error(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_empty_point_sets_give_empty_densities():
    assert L.pushed_density_linear(np.eye(2), np.zeros((0, 2))).shape == (0,)
