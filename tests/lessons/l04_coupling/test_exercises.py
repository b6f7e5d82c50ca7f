"""Exercise checkers of notebook 04 accept the right answers and name the typical wrong ones."""

import math

import numpy as np
import pytest
import torch

from lessonlib.coupling import AffineCoupling
from lessonlib.flows import Flow, standard_normal
from lessonlib.lessons.l04_coupling.exercises import (
    LOG_DENSITY_POINT,
    check_affine_coupling,
    check_log_density,
    check_zero_entries,
    log_density_layer,
    reference_forward,
    reference_inverse,
    zero_entries_reference,
)

# --- exercise 1: affine coupling ------------------------------------------------------------


def test_check_affine_coupling_passes_the_reference_solution():
    r = check_affine_coupling(reference_forward, reference_inverse)
    assert r, r.message
    assert "autograd" in r.message


def test_check_affine_coupling_not_attempted_and_the_pair_form():
    r = check_affine_coupling(None, None)
    assert not r and "not attempted" in r.message
    assert "not attempted" in check_affine_coupling(None).message
    assert check_affine_coupling((reference_forward, reference_inverse))
    assert "a pair" in check_affine_coupling((reference_forward,)).message


def fwd_exp_in_log_det(z, mask, cond):
    s, t = cond(z * mask)
    x = mask * z + (1 - mask) * (z * torch.exp(s) + t)
    return x, ((1 - mask) * torch.exp(s)).sum(1)


def inv_exp_in_log_det(x, mask, cond):
    s, t = cond(x * mask)
    return mask * x + (1 - mask) * (x - t) * torch.exp(-s), -((1 - mask) * torch.exp(s)).sum(1)


def fwd_all_coordinates(z, mask, cond):  # forgot to keep the masked half
    s, t = cond(z * mask)
    return z * torch.exp(s) + t, ((1 - mask) * s).sum(1)


def fwd_kept_in_log_det(z, mask, cond):
    s, t = cond(z * mask)
    return mask * z + (1 - mask) * (z * torch.exp(s) + t), s.sum(1)


def inv_sign_flipped_log_det(x, mask, cond):
    z, ld = reference_inverse(x, mask, cond)
    return z, -ld


def inv_divides_first(x, mask, cond):
    s, t = cond(x * mask)
    return mask * x + (1 - mask) * (x * torch.exp(-s) - t), -((1 - mask) * s).sum(1)


def inv_multiplies(x, mask, cond):
    s, t = cond(x * mask)
    return mask * x + (1 - mask) * (x - t) * torch.exp(s), -((1 - mask) * s).sum(1)


def fwd_log_det_not_summed(z, mask, cond):
    x, _ = reference_forward(z, mask, cond)
    s, _ = cond(z * mask)
    return x, (1 - mask) * s


def fwd_reads_everything(z, mask, cond):  # the conditioner sees the transformed coordinates too
    s, t = cond(z)
    return mask * z + (1 - mask) * (z * torch.exp(s) + t), ((1 - mask) * s).sum(1)


def inv_reads_everything(x, mask, cond):
    s, t = cond(x)
    return mask * x + (1 - mask) * (x - t) * torch.exp(-s), -((1 - mask) * s).sum(1)


def fwd_raises(z, mask, cond):
    raise RuntimeError("shape mismatch")


def fwd_identity(z, mask, cond):  # passed the old checker: a bijection with a right log-det, but no coupling
    return z, z.new_zeros(z.shape[0])


def fwd_additive(z, mask, cond):  # passed the old checker too: NICE, not RealNVP
    s, t = cond(z * mask)
    return mask * z + (1 - mask) * (z + t), z.new_zeros(z.shape[0])


def inv_additive(x, mask, cond):
    s, t = cond(x * mask)
    return mask * x + (1 - mask) * (x - t), x.new_zeros(x.shape[0])


@pytest.mark.parametrize(
    "fwd,inv,expected",
    [
        (fwd_exp_in_log_det, reference_inverse, "sums exp(s)"),
        (reference_forward, inv_exp_in_log_det, "inverse log_det uses exp(s)"),
        (fwd_all_coordinates, reference_inverse, "pass through unchanged"),
        (fwd_kept_in_log_det, reference_inverse, "kept coordinates"),
        (reference_forward, inv_sign_flipped_log_det, "wrong sign"),
        (reference_forward, inv_divides_first, "first subtract t"),
        (reference_forward, inv_multiplies, "multiply by exp(-s)"),
        (fwd_log_det_not_summed, reference_inverse, "one number per point"),
        (fwd_raises, reference_inverse, "RuntimeError"),
        (fwd_reads_everything, reference_inverse, "forward feeds the conditioner every coordinate"),
        (reference_forward, inv_reads_everything, "inverse feeds the conditioner every coordinate"),
        # bijections with right log-dets that are not the affine coupling: the old checker passed the first two
        (fwd_identity, fwd_identity, "returns z unchanged"),
        (fwd_additive, inv_additive, "additive (NICE) coupling"),
        (reference_inverse, reference_forward, "swapped"),
        (fwd_additive, reference_inverse, "only shifts"),
        (reference_forward, inv_additive, "only subtracts t"),
    ],
)
def test_check_affine_coupling_names_typical_mistakes(fwd, inv, expected):
    r = check_affine_coupling(fwd, inv)
    assert not r
    assert expected in r.message, r.message


def test_check_affine_coupling_accepts_float32_and_explains_numpy_and_odd_answers():
    def f32(fn):
        return lambda p, m, c: tuple(t.float() for t in fn(p, m, c))

    assert check_affine_coupling(f32(reference_forward), f32(reference_inverse))  # right maths, in float32
    numpy_out = lambda p, m, c: tuple(t.detach().numpy() for t in reference_forward(p, m, c))  # noqa: E731
    assert "return torch tensors" in check_affine_coupling(numpy_out, reference_inverse).message
    odd = [
        ("abc", "expected a pair"),
        (float("nan"), "expected a pair"),
        (np.zeros(3), "expected a pair"),
        (reference_forward, "give both functions"),
        ((reference_forward, None), "inverse function is still None"),
        ((reference_forward, 3.0), "inverse must be a function"),
        ((lambda z, m, c: z, reference_inverse), "return two things"),
        ((lambda z, m, c: None, reference_inverse), "forget the return"),
        ((lambda z, m, c: (z[:, :2], z[:, 0]), reference_inverse), "points of shape (6, 2)"),
        ((lambda z, m, c: (z * float("nan"), z[:, 0]), reference_inverse), "NaN or infinity"),
    ]
    for answer, words in odd:
        r = check_affine_coupling(answer)
        assert not r and words in r.message and "not attempted" not in r.message, (words, r.message)


def test_reference_coupling_matches_the_library_layer():
    """The exercise's formulas are the library's AffineCoupling (same mask, same conditioner)."""
    from lessonlib.lessons.l04_coupling.exercises import exercise_conditioner, exercise_mask

    mask, cond = exercise_mask(), exercise_conditioner()

    class Net(torch.nn.Module):
        def forward(self, kept):
            return torch.cat(cond(kept), dim=1)

    layer = AffineCoupling(mask, Net(), log_scale_bound=None)
    z = torch.randn(5, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x, ld = layer.forward_and_log_det(z)
    x_ref, ld_ref = reference_forward(z, mask, cond)
    assert torch.allclose(x, x_ref) and torch.allclose(ld, ld_ref)


# --- exercise 2: zero entries -----------------------------------------------------------------


def test_check_zero_entries_right_answer_and_structure():
    want = zero_entries_reference()
    assert check_zero_entries(want)
    assert check_zero_entries(want.astype(int).tolist())
    assert np.all(np.diag(want) == 0)
    assert check_zero_entries(None).message.endswith("run the cell again.")


@pytest.mark.parametrize(
    "transform,expected",
    [
        (lambda w: w.T, "swapped"),
        (lambda w: 1 - w, "always zero"),
        (lambda w: np.where(np.array([0, 1, 1, 0])[:, None] == 1, w, 0.0), "OTHER transformed inputs"),
        (lambda w: np.minimum(w + np.eye(4), 1), "diagonal entry is never zero"),
    ],
)
def test_check_zero_entries_names_mistakes(transform, expected):
    r = check_zero_entries(transform(zero_entries_reference()))
    assert not r and expected in r.message, r.message


def test_check_zero_entries_other_types_and_odd_answers():
    want = zero_entries_reference()
    assert check_zero_entries(want.astype(bool)) and check_zero_entries(torch.tensor(want))
    assert not check_zero_entries(want * 0.5)
    assert "the text" in check_zero_entries("0001").message
    assert "shape (3,)" in check_zero_entries([0, 1, 0]).message


# --- exercise 3: log density -------------------------------------------------------------------


def _parts():
    x1, x2 = LOG_DENSITY_POINT
    s, t = 0.2 + 0.5 * math.sin(x1), x1**2
    z2 = (x2 - t) * math.exp(-s)
    log_pz = -math.log(2 * math.pi) - 0.5 * (x1**2 + z2**2)
    return x1, x2, s, t, z2, log_pz


def test_check_log_density_right_answer_equals_the_flow():
    flow = Flow(standard_normal(2, torch.float64), log_density_layer())
    lp = flow.log_prob(torch.tensor([LOG_DENSITY_POINT], dtype=torch.float64))
    assert check_log_density(lp)
    assert check_log_density(float(lp))
    *_, s, t, z2, log_pz = _parts()
    assert check_log_density(log_pz - s)


@pytest.mark.parametrize(
    "wrong,expected",
    [
        (lambda x1, x2, s, t, z2, lpz: lpz + s, "added the forward log-det"),
        (lambda x1, x2, s, t, z2, lpz: lpz, "missing"),
        (lambda x1, x2, s, t, z2, lpz: lpz - math.exp(s), "exp(s)"),
        (lambda x1, x2, s, t, z2, lpz: -math.log(2 * math.pi) - 0.5 * (x1**2 + x2**2) - s, "base density at x"),
        (
            lambda x1, x2, s, t, z2, lpz: -math.log(2 * math.pi) - 0.5 * (x1**2 + ((x2 - t) * math.exp(s)) ** 2) - s,
            "divides",
        ),
    ],
)
def test_check_log_density_names_mistakes(wrong, expected):
    r = check_log_density(wrong(*_parts()))
    assert not r and expected in r.message, r.message


def test_check_log_density_rounding():
    *_, s, t, z2, log_pz = _parts()
    assert check_log_density(round(log_pz - s, 4))  # as the notebook prints it: within the checker's 1e-4
    r = check_log_density(round(log_pz - s, 2))
    assert not r and "Right idea, give more digits" in r.message
    r = check_log_density(round(log_pz + s, 2))
    assert not r and "added the forward log-det" in r.message


def test_check_affine_coupling_accepts_another_right_construction():
    """Masking s and t instead of the points, dividing instead of multiplying by exp(-s): right all the same."""

    def fwd(z, mask, cond):
        s, t = cond(z * mask)
        s, t = s * (1 - mask), t * (1 - mask)
        return z * torch.exp(s) + t, s.sum(1)

    def inv(x, mask, cond):
        s, t = cond(x * mask)
        s, t = s * (1 - mask), t * (1 - mask)
        return (x - t) / torch.exp(s), -s.sum(1)

    r = check_affine_coupling(fwd, inv)
    assert r, r.message
