"""The input policy (lessonlib.inputs, bijectors.check_batch): one answer per kind of bad input, everywhere,
and advice that never leads into another error."""

import math

import numpy as np
import pytest
import torch

from lessonlib import inputs
from lessonlib.autoregressive import AutoregressiveAffine
from lessonlib.bijectors import Affine, Chain, Linear, check_batch
from lessonlib.coupling import AffineCoupling, alternating_mask
from lessonlib.flows import LAYERS, Flow, make_flow, standard_normal
from lessonlib.monotone1d import MonotoneMixture
from lessonlib.nets import randomise

# --- numbers and counts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, error, words",
    [
        ("0.5", TypeError, "the text '0.5'"),
        (None, TypeError, "got None"),
        (True, TypeError, "must be a number"),
        (1 + 2j, TypeError, "complex"),
        (float("nan"), ValueError, "finite"),
        (float("inf"), ValueError, "finite"),
        (10**400, ValueError, "too large"),
        (np.zeros(3), TypeError, "single number"),
        ([1.0], TypeError, "must be a number"),
    ],
)
def test_real_number_refuses_what_is_not_one_real_finite_number(value, error, words):
    with pytest.raises(error, match=words):
        inputs.real_number(value, "lr")


def test_real_number_reads_numpy_scalars_and_one_element_tensors():
    assert inputs.real_number(np.float32(0.5), "x") == 0.5
    assert inputs.real_number(torch.tensor([0.25], requires_grad=True), "x") == 0.25
    assert inputs.real_number(torch.tensor(0.5, dtype=torch.bfloat16), "x") == 0.5
    assert inputs.real_number(float("inf"), "x", allow_inf=True) == math.inf


@pytest.mark.parametrize(
    "value, error, words",
    [
        (2.5, ValueError, "whole number"),
        (-1, ValueError, "at least 0"),
        ("3", TypeError, "whole number"),
        (None, TypeError, "None"),
        (True, TypeError, "whole number"),
        (float("nan"), ValueError, "finite"),
    ],
)
def test_count_refuses_what_is_not_a_whole_number(value, error, words):
    with pytest.raises(error, match=words):
        inputs.count(value, "steps")


def test_count_reads_numpy_ints_and_whole_floats():
    assert inputs.count(np.int64(3), "n") == 3
    assert inputs.count(1e3, "steps") == 1000


# --- arrays ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, error, words",
    [
        ([[1.0, 2.0], [3.0]], TypeError, "rectangular"),
        (np.array([1j]), ValueError, "complex"),
        (torch.tensor([1j]), ValueError, "complex"),
        ([["a", "b"]], TypeError, "text values"),
        ({"a": 1}, TypeError, "dict"),
        ([1.0, float("nan")], ValueError, r"NaN or infinity \(at index \[1\]\)"),
        ([True, False], TypeError, "True/False"),
        (lambda x: x, TypeError, "a function"),
    ],
)
def test_real_array_refuses_non_numbers_by_name(value, error, words):
    with pytest.raises(error, match=words):
        inputs.real_array(value, "data")


def test_real_array_reads_tensors_of_any_real_dtype():
    for t in (
        torch.tensor([0.5], dtype=torch.bfloat16),
        torch.tensor([0.5], dtype=torch.float16),
        torch.tensor([0.5], requires_grad=True),
        torch.tensor([1]),
        np.float32([0.5]),
    ):
        a = inputs.real_array(t, "x")
        assert a.dtype == np.float64 and a.shape == (1,)


# --- batches: dtype, emptiness, shapes --------------------------------------------------------------


def test_float64_data_is_converted_to_a_float32_flow_and_keeps_its_meaning():
    flow = make_flow(2, 2, hidden=(8,), dtype=torch.float32)
    x64 = torch.randn(20, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    lp = flow.log_prob(x64)
    assert lp.dtype == torch.float32
    torch.testing.assert_close(lp, flow.log_prob(x64.float()))
    torch.testing.assert_close(flow.log_prob(x64.numpy()), lp)  # numpy data too: no need to convert by hand
    torch.testing.assert_close(flow.log_prob(x64.tolist()), lp)


def test_float32_data_into_a_float64_flow_and_integer_data_are_converted():
    flow = make_flow(2, 2, hidden=(8,), dtype=torch.float64)
    assert flow.log_prob(torch.zeros(3, 2, dtype=torch.float32)).dtype == torch.float64
    assert flow.log_prob(torch.zeros(3, 2, dtype=torch.int64)).dtype == torch.float64


def test_conversion_keeps_the_gradient_with_respect_to_the_data():
    flow = make_flow(2, 2, hidden=(8,), dtype=torch.float32)
    x = torch.randn(5, 2, dtype=torch.float64, requires_grad=True)
    flow.log_prob(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("layer", LAYERS)
def test_empty_batches_give_empty_results_of_the_right_shape(layer):
    flow = make_flow(2, 2, layer, hidden=(8,))
    assert flow.log_prob(torch.zeros(0, 2)).shape == (0,)
    base_term, log_det = flow.log_prob_terms(torch.zeros(0, 2))
    assert base_term.shape == log_det.shape == (0,)
    assert flow.sample(0).shape == (0, 2)
    x, lp = flow.sample_and_log_prob(0)
    assert x.shape == (0, 2) and lp.shape == (0,)
    x, log_det = flow.bijector.forward_and_log_det(torch.zeros(0, 2))
    assert x.shape == (0, 2) and log_det.shape == (0,)


@pytest.mark.parametrize(
    "n, error, words",
    [
        (-1, ValueError, "at least 0"),
        (2.5, ValueError, "whole number"),
        ("3", TypeError, "whole number"),
        (None, TypeError, "None"),
        (10**30, ValueError, "at most 100,000,000, got a number with 31 digits"),
    ],
)
def test_sample_counts_get_lessonlibs_own_errors(n, error, words):
    flow = make_flow(2, 1, hidden=(8,))
    with pytest.raises(error, match=words):
        flow.sample(n)
    with pytest.raises(error, match=words):
        flow.sample_and_log_prob(n)


@pytest.mark.parametrize(
    "x, error, words",
    [
        (torch.zeros(3, 2, dtype=torch.complex64), ValueError, "complex"),
        (torch.zeros(3, 2, dtype=torch.bool), TypeError, "True/False"),
        ([["a", "b"]], TypeError, "numbers"),
        (torch.zeros(2), ValueError, r"x\[None, :\]"),
        (torch.zeros(3, 2, 1), ValueError, "shape"),
        (torch.zeros(3, 5), ValueError, "coordinates"),
        (torch.tensor([[0.0, float("inf")]]), ValueError, "NaN or infinite"),
    ],
)
def test_check_batch_names_the_cause(x, error, words):
    with pytest.raises(error, match=words):
        check_batch(x, 2, "x", torch.float32)


def test_a_base_with_a_batch_shape_is_named_as_the_cause():
    batched = torch.distributions.Independent(torch.distributions.Normal(torch.zeros(3, 2), torch.ones(3, 2)), 1)
    with pytest.raises(ValueError, match="batch shape"):
        Flow(batched, Affine([1.0, 1.0]))


def test_layers_of_different_dtypes_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="float32 and float64"):
        Chain(Affine(2.0, dtype=torch.float32), Affine(2.0, dtype=torch.float64))


# --- parameter ranges -------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [1e-40, 1e-50, 1e40])
def test_a_scale_whose_inverse_overflows_float32_is_refused_and_the_advice_works(scale):
    with pytest.raises(ValueError, match="out of range for float32") as info:
        Affine(scale, dtype=torch.float32)
    assert "dtype=torch.float64" in str(info.value)
    layer = Affine(scale, dtype=torch.float64)  # the advice, taken: no further error, finite results
    z = torch.tensor([[0.5], [-2.0]], dtype=torch.float32)
    x, log_det = layer.forward_and_log_det(z)
    z_back, _ = layer.inverse_and_log_det(x)
    assert torch.isfinite(x).all() and torch.isfinite(log_det).all()
    torch.testing.assert_close(z_back, z.double())


def test_an_ill_conditioned_float32_linear_is_refused_and_float64_is_accurate():
    A = np.diag([1.0, 2.5e-7])  # condition number 4e6
    with pytest.raises(ValueError, match=r"condition number is 4e\+06") as info:
        Linear(A, dtype=torch.float32)
    assert "dtype=torch.float64" in str(info.value)
    layer = Linear(A, dtype=torch.float64)
    z = torch.randn(50, 2)
    assert float((layer.inverse(layer.forward(z)) - z.double()).abs().max()) < 1e-9


def test_tiny_matrices_are_not_called_singular():
    with pytest.raises(ValueError, match="out of range for float32") as info:
        Linear(1e-200 * np.eye(2), dtype=torch.float32)
    assert "singular" not in str(info.value).split("(singular value)")[-1]
    layer = Linear(1e-200 * np.eye(2), dtype=torch.float64)
    _, log_det = layer.inverse_and_log_det(torch.ones(3, 2))
    torch.testing.assert_close(log_det, torch.full((3,), 2 * 200 * math.log(10), dtype=torch.float64))


@pytest.mark.parametrize(
    "make",
    [
        lambda: Linear(np.array([[1 + 1j, 0], [0, 1]])),
        lambda: Affine(1 + 2j),
        lambda: MonotoneMixture([[1j]], [[0.0]]),
    ],
)
def test_complex_parameters_are_refused(make):
    with pytest.raises(ValueError, match="complex"):
        make()


def test_broadcasting_mismatches_are_explained():
    with pytest.raises(ValueError, match="2 entries and shift 3"):
        Affine([1.0, 2.0], [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="does not fit loc's shape"):
        MonotoneMixture([[0.0, 1.0]], [[0.0, 1.0, 2.0]])


@pytest.mark.parametrize(
    "make",
    [
        lambda bound: AffineCoupling(alternating_mask(4), hidden=(8,), log_scale_bound=bound),
        lambda bound: AutoregressiveAffine(3, hidden=(8,), log_scale_bound=bound),
    ],
)
def test_no_log_scale_bound_reads_the_same_as_None_or_infinity(make):
    unbounded = [randomise(make(b), torch.Generator().manual_seed(3), std=0.8) for b in (None, float("inf"))]
    z = torch.randn(6, unbounded[0].dim, dtype=torch.float64)
    (x0, ld0), (x1, ld1) = (u.forward_and_log_det(z) for u in unbounded)
    assert torch.isfinite(x0).all() and torch.equal(x0, x1) and torch.equal(ld0, ld1)
    for bad, error in ((0.0, ValueError), (-1.0, ValueError), (float("nan"), ValueError), ("3", TypeError)):
        with pytest.raises(error, match="log_scale_bound"):
            make(bad)


def test_make_flow_maf_accepts_no_bound_like_coupling():
    x = torch.randn(10, 2)
    for layer in ("maf", "coupling"):
        assert torch.isfinite(make_flow(2, 2, layer, hidden=(8,), log_scale_bound=None).log_prob(x)).all()


def test_network_sizes_are_checked_where_networks_are_built():
    with pytest.raises(TypeError, match=r"tuple of layer widths such as \(64, 64\), got the text '32'"):
        make_flow(2, 1, hidden="32")
    with pytest.raises(ValueError, match="at least 1"):
        make_flow(2, 1, "made", hidden=(0,))


def test_a_flow_computes_in_its_parameters_dtype():
    assert make_flow(2, 1, dtype=torch.float64).dtype == torch.float64
    assert Flow(standard_normal(2), Chain(Affine([1.0, 2.0], dtype=torch.float32))).dtype == torch.float32


def test_a_layer_converted_alone_after_building_is_named_not_a_torch_dtype_error():
    flow = make_flow(2, 2, hidden=(8,), dtype=torch.float32)
    flow.bijector.layers[1].double()
    with pytest.raises(ValueError, match="float32 and float64 .one layer was converted alone"):
        flow.log_prob(torch.zeros(3, 2))


def test_a_flow_with_nan_parameters_says_so():
    flow = make_flow(2, 1, hidden=(8,))
    with torch.no_grad():
        flow.bijector.layers[0].conditioner[-1].bias.fill_(float("nan"))
    with pytest.raises(ValueError, match="sent some points .* to NaN or infinity because its parameters contain NaN"):
        flow.log_prob(torch.zeros(3, 2))


def test_targets_check_what_they_are_given():
    from lessonlib.toy2d import TARGETS, kl_gap

    target = TARGETS["banana"]()
    gen = torch.Generator().manual_seed(0)
    assert target.sample(0, gen).shape == (0, 2) and target.log_prob(np.zeros((3, 2))).dtype == torch.float64
    for call, error, words in (
        (lambda: target.sample(-1, gen), ValueError, "at least 0"),
        (lambda: target.sample(3, 0), TypeError, "torch.Generator"),
        (lambda: target.log_prob(torch.zeros(3)), ValueError, "shape"),
        (lambda: target.log_prob([[float("nan"), 0.0]]), ValueError, "NaN"),
        (lambda: kl_gap(lambda x: x.sum(1), target, n=10, seed=None), TypeError, "seed"),
    ):
        with pytest.raises(error, match=words):
            call()


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: standard_normal(0), ValueError, "dim must be at least 1"),
        (
            lambda: __import__("lessonlib.flows", fromlist=["uniform_base"]).uniform_base(2, 1.0, 0.0),
            ValueError,
            "low < high",
        ),
        (lambda: __import__("lessonlib.flows", fromlist=["logistic_base"]).logistic_base(-1), ValueError, "at least 1"),
        (lambda: Affine([]), ValueError, "at least one number"),
        (
            lambda: __import__("lessonlib.coupling", fromlist=["jacobian_matrix"]).jacobian_matrix(lambda v: v, "ab"),
            TypeError,
            "numbers",
        ),
        (
            lambda: __import__("lessonlib.verify", fromlist=["verify_bijector"]).verify_bijector(Affine(1.0), "abc"),
            TypeError,
            "numbers",
        ),
    ],
)
def test_bases_and_helpers_check_their_arguments(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_samples_that_a_broken_flow_sends_to_nan_are_refused():
    flow = make_flow(2, 1, hidden=(8,))
    with torch.no_grad():
        flow.bijector.layers[0].conditioner[-1].bias.fill_(float("nan"))
    for draw in (flow.sample, flow.sample_and_log_prob):
        with pytest.raises(
            ValueError, match="sent some points .* to NaN or infinity because its parameters contain NaN"
        ):
            draw(3)


def test_a_layer_keeps_the_dtype_of_a_float_tensor_it_is_given_else_the_default():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        B = np.array([[1.0, 0.5], [-0.3, 1.5]])
        assert Linear(torch.tensor(B)).dtype == torch.float64  # as nn.Parameter(tensor) would keep it
        assert Linear(B).dtype == torch.float32 and Affine([1.0, 2.0]).dtype == torch.float32
        assert Affine(torch.tensor([2.0], dtype=torch.float64)).dtype == torch.float64
        assert Linear(torch.tensor(B), dtype=torch.float32).dtype == torch.float32
        z = torch.tensor([[0.3, -0.2]], dtype=torch.float64)
        x, _ = Linear(torch.tensor(B)).forward_and_log_det(z)
        assert x.dtype == torch.float64
        # make_flow's standardising layer follows the flow, whatever the dtype of the data it is given
        assert make_flow(2, 1, hidden=(4,), scale_to=torch.randn(5, 2, dtype=torch.float64)).dtype == torch.float32
    finally:
        torch.set_default_dtype(old)
