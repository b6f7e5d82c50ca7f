"""A hostile probe of the core's public API: every odd input gets a right result or lessonlib's own clear error.

Each case is one call with an odd input (NaN and infinity, empty batches, wrong shapes and ranks, mixed
dtypes, int tensors, numpy arrays and lists, complex numbers, True/False, text, None, huge and tiny scales,
singular matrices, non-monotone maps, zero and negative counts, out-of-domain points, damaged data files)
and states its outcome in advance: a ValueError/TypeError raised by lessonlib whose message contains the
words naming the cause, or a result satisfying a stated check. The harness is tests/hostile.py; the
exercise checkers and the widgets are probed in tests/lessons/test_hostile_answers.py.

    python -m tests.core.test_hostile_inputs      prints the cases that are not right, and the tally
"""

from __future__ import annotations

import copy
import functools
import gzip
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from lessonlib import cov1d, data, images, inputs, linear2d, toy2d
from lessonlib.autoregressive import MADE, AutoregressiveAffine
from lessonlib.bijectors import Affine, Chain, Linear
from lessonlib.claims import claim
from lessonlib.coupling import (
    AdditiveCoupling,
    AffineCoupling,
    ConditionalAffineCoupling,
    alternating_mask,
    channel_mask,
    checkerboard_mask,
    coupling_stack,
    half_mask,
    image_side,
    jacobian_matrix,
)
from lessonlib.dequantisation import DequantisedFlow, UniformNoise, VariationalNoise, elbo_objective
from lessonlib.flows import LAYERS, ConditionalFlow, Flow, logistic_base, make_flow, standard_normal, uniform_base
from lessonlib.image_layers import InvertibleConv1x1
from lessonlib.images import PixelLogit, bits_per_dim, dequantise, nats_from_bits_per_dim
from lessonlib.invertible_mlp import LeakyReLU, LULinear, invertible_mlp
from lessonlib.monotone1d import Logit, MonotoneMixture, Sigmoid
from lessonlib.multiscale import make_image_flow
from lessonlib.nets import MLP, bound_log_scale, randomise
from lessonlib.splines import (
    RationalQuadraticSpline,
    SplineCoupling,
    knots_from_bins,
    rq_spline,
    spline_parameter_count,
)
from lessonlib.training import Diverged, Trainer, ValidationCurve, nll, reverse_kl, train
from lessonlib.verify import autograd_log_det, verify_bijector
from tests.hostile import Case, check_case, default_dtype, main, raises, returns

F32, F64 = torch.float32, torch.float64
CASES: list[Case] = []


def case(id: str, call, expect, tmp: bool = False) -> None:
    CASES.append(Case(id, call, expect, tmp))


# --------------------------------------------------------------------------------------------------
# checks used by the cases
# --------------------------------------------------------------------------------------------------
def finite(*ts) -> bool:
    return all(bool(torch.isfinite(torch.as_tensor(t)).all()) for t in ts)


def pair(n: int, d: int, dtype=None):
    """Check for (points, log_det): shapes (n, d) and (n,), finite, in ``dtype`` when given."""

    def check(out) -> bool:
        pts, ld = out
        ok = tuple(pts.shape) == (n, d) and tuple(ld.shape) == (n,) and finite(pts, ld)
        return ok and (dtype is None or pts.dtype == ld.dtype == dtype)

    return check


def same_as(reference, atol: float = 1e-6):
    """Check that a result (a tensor or a tuple of tensors) equals ``reference()`` to ``atol``."""

    def check(out) -> bool:
        want = reference()
        got, want = (out, want) if isinstance(out, tuple) else ((out,), (want,))
        return all(
            g.shape == w.shape and g.dtype == w.dtype and bool(torch.allclose(g, w, atol=atol, rtol=1e-5))
            for g, w in zip(got, want)
        )

    return check


def array_close(want, atol: float = 1e-9):
    return lambda got: np.shape(got) == np.shape(want) and bool(np.allclose(got, want, atol=atol, rtol=1e-9))


def no_problems(problems) -> bool:
    return problems == []


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------------------------------
# every bijector: the input gate, in both directions, and its maths (round trip, log-det by autograd)
# --------------------------------------------------------------------------------------------------
def _conditional_coupling(dtype):
    net = randomise(MLP(4, 4, hidden=(8,), activation=nn.Tanh, zero_last=False), gen(3), 0.5, dtype)
    return ConditionalAffineCoupling(alternating_mask(2).to(dtype), net, torch.tensor([0.5, -1.0], dtype=dtype))


def _spline(dtype):
    w = torch.tensor([[0.5, 1.0, 0.7], [1.2, 0.4, 0.9]], dtype=dtype)
    d = torch.tensor([[1.0, 0.5, 2.0, 1.0], [0.7, 1.5, 0.9, 1.2]], dtype=dtype)
    return RationalQuadraticSpline.from_bins(w, w.flip(-1), d, left=-1.5)


#: name -> (factory(dtype) -> a 2D bijector with random parameters, domain of the forward input, of the inverse input)
BIJECTORS = {
    "Affine": (lambda dt: Affine([2.0, -0.5], [1.0, 0.0], dtype=dt), "real", "real"),
    "Linear": (lambda dt: Linear([[2.0, 1.0], [0.5, 1.0]], dtype=dt), "real", "real"),
    "Chain": (
        lambda dt: Chain(Affine([2.0, -0.5], [1.0, 0.0], dtype=dt), Linear([[2.0, 1.0], [0.5, 1.0]], dtype=dt)),
        "real",
        "real",
    ),
    "AffineCoupling": (
        lambda dt: randomise(AffineCoupling(alternating_mask(2), hidden=(8,)), gen(1), 0.5, dt),
        "real",
        "real",
    ),
    "AffineCouplingUnbounded": (
        lambda dt: randomise(AffineCoupling(alternating_mask(2), hidden=(8,), log_scale_bound=None), gen(1), 0.5, dt),
        "real",
        "real",
    ),
    "AdditiveCoupling": (
        lambda dt: randomise(AdditiveCoupling(alternating_mask(2), hidden=(8,)), gen(2), 0.5, dt),
        "real",
        "real",
    ),
    "ConditionalAffineCoupling": (_conditional_coupling, "real", "real"),
    "SplineCoupling": (
        lambda dt: randomise(SplineCoupling(alternating_mask(2), hidden=(8,), n_bins=4, bound=2.5), gen(4), 0.7, dt),
        "real",
        "real",
    ),
    "RationalQuadraticSpline": (_spline, "real", "real"),
    "MAF": (lambda dt: randomise(AutoregressiveAffine(2, hidden=(8,)), gen(5), 0.5, dt), "real", "real"),
    "IAF": (
        lambda dt: randomise(AutoregressiveAffine(2, hidden=(8,), conditioned_on="z"), gen(6), 0.5, dt),
        "real",
        "real",
    ),
    "MADE": (lambda dt: randomise(MADE(2, hidden=(8,)), gen(7), 0.5, dt), "real", "real"),
    "MonotoneMixture": (lambda dt: MonotoneMixture.spread(3, dim=2).to(dt), "real", "real"),
    "LULinear": (lambda dt: randomise(LULinear(2, permute=True, generator=gen(8)), gen(8), 0.5, dt), "real", "real"),
    "LeakyReLU": (lambda dt: LeakyReLU(0.3), "real", "real"),
    "InvertibleMLP": (lambda dt: invertible_mlp(2, n_hidden=2, seed=3).to(dt), "real", "real"),
    "Sigmoid": (lambda dt: Sigmoid(), "real", "unit"),
    "Logit": (lambda dt: Logit(), "unit", "real"),
    "PixelLogit": (lambda dt: PixelLogit(17), "real", "pixels"),
}


@functools.cache
def bijector(name: str, dtype=F32):
    with default_dtype(dtype):  # layers without parameters compute in the default dtype of their input
        return BIJECTORS[name][0](dtype)


def points(domain: str, n: int = 5, dtype=F64, seed: int = 11) -> torch.Tensor:
    """n points of 2 coordinates inside ``domain``: the real line, (0, 1) or the pixel range [0, 17)."""
    u = torch.rand(n, 2, generator=gen(seed), dtype=dtype)
    return {"real": 3 * (u - 0.5) * 2, "unit": 0.05 + 0.9 * u, "pixels": 16.9 * u}[domain]


def _run(name: str, direction: str, x, dtype=F32):
    with torch.no_grad():
        return getattr(bijector(name, dtype), direction)(x)


def _round_trip(name: str) -> bool:
    bij, z = bijector(name, F64), points(BIJECTORS[name][1])
    with torch.no_grad():
        x = bij.forward(z)
        return bool(torch.allclose(bij.inverse(x), z, atol=1e-9)) and finite(x)


def _verified(name: str) -> list[str]:
    bij = copy.deepcopy(bijector(name, F64))
    return verify_bijector(bij, points(BIJECTORS[name][1], n=4))


def _computes_in(name: str, given=F64):
    """The dtype a float32-built layer computes in: its parameters' (a layer without parameters keeps the input's)."""
    return bijector(name, F32).dtype or given


for _name, (_, _fwd, _inv) in BIJECTORS.items():
    for _dir, _dom in (("forward_and_log_det", _fwd), ("inverse_and_log_det", _inv)):
        _tag = f"{_name}.{_dir.split('_')[0]}"
        good = points(_dom)
        case(
            f"{_tag}: float64 points into a float32 layer are computed in the layer's dtype",
            lambda n=_name, d=_dir, x=good: _run(n, d, x),
            returns(pair(5, 2, _computes_in(_name)), "finite points (5, 2) and log-dets (5,) in the layer's dtype"),
        )
        case(
            f"{_tag}: a list of lists gives what the tensor gives",
            lambda n=_name, d=_dir, x=good: _run(n, d, x.tolist()),
            returns(
                same_as(lambda n=_name, d=_dir, x=good: _run(n, d, torch.as_tensor(x.tolist()))), "the tensor's result"
            ),
        )
        case(
            f"{_tag}: an empty batch (0, 2) gives empty results",
            lambda n=_name, d=_dir: _run(n, d, torch.zeros(0, 2)),
            returns(
                lambda out: tuple(out[0].shape) == (0, 2) and tuple(out[1].shape) == (0,), "shapes (0, 2) and (0,)"
            ),
        )
        case(
            f"{_tag}: NaN in the batch is refused",
            lambda n=_name, d=_dir, x=good: _run(n, d, torch.where(torch.arange(2) == 1, math.nan, x)),
            raises("NaN"),
        )
    good = points(_fwd)
    case(
        f"{_name}: one point without its batch axis, shape (2,)",
        lambda n=_name, x=good: _run(n, "forward", x[0]),
        raises("shape (batch, dim)", "x[None, :]"),
    )
    if bijector(_name).dim is not None:  # a layer without parameters acts on any number of coordinates
        case(
            f"{_name}: three coordinates for a map of two",
            lambda n=_name, x=good: _run(n, "forward", torch.cat([x, x[:, :1]], 1)),
            raises("3 coordinates"),
        )
    case(
        f"{_name}: a complex batch",
        lambda n=_name, x=good: _run(n, "forward", x.to(torch.complex64)),
        raises("complex"),
    )
    case(
        f"{_name}: text instead of points",
        lambda n=_name: _run(n, "forward", "1.0, 2.0"),
        raises("numbers", "the text"),
    )
    if _fwd != "unit":  # whole numbers in the domain
        case(
            f"{_name}: an int64 batch is converted",
            lambda n=_name: _run(n, "forward", torch.ones(5, 2, dtype=torch.int64)),
            returns(same_as(lambda n=_name: _run(n, "forward", torch.ones(5, 2))), "the float batch's result"),
        )
    case(
        f"{_name}: round trip in float64",
        lambda n=_name: _round_trip(n),
        returns(bool, "inverse(forward(z)) == z to 1e-9"),
    )
    case(
        f"{_name}: log-dets match the autograd Jacobian both ways",
        lambda n=_name: _verified(n),
        returns(no_problems, "no problem found by verify_bijector"),
    )

# out-of-domain points for the maps of an interval
case("Sigmoid.inverse at 1.5, outside (0, 1)", lambda: _run("Sigmoid", "inverse", [[0.5, 1.5]]), raises("(0, 1)"))
case("Sigmoid.inverse at exactly 0", lambda: _run("Sigmoid", "inverse", [[0.0, 0.5]]), raises("(0, 1)"))
case("Logit.forward at 1", lambda: _run("Logit", "forward", [[1.0, 0.5]]), raises("(0, 1)"))
case("Logit.forward at -0.2", lambda: _run("Logit", "forward", [[-0.2, 0.5]]), raises("(0, 1)"))
case(
    "PixelLogit.inverse at 18.5, above the pixel range",
    lambda: _run("PixelLogit", "inverse", [[3.0, 18.5]]),
    raises("inside"),
)
case("PixelLogit.inverse at -1", lambda: _run("PixelLogit", "inverse", [[-1.0, 3.0]]), raises("inside"))
case(
    "PixelLogit.inverse of pixels scaled to [0, 1] is accepted (inside the range)",
    lambda: _run("PixelLogit", "inverse_and_log_det", [[0.2, 0.9]]),
    returns(pair(1, 2), "finite points"),
)
case(
    "a float32 layer given 1e300, which float32 cannot hold",
    lambda: _run("Affine", "forward", torch.tensor([[1e300, 0.0]], dtype=F64)),
    raises("float32", "1e+300"),
)
case(
    "the conditional coupling's context has 3 rows for a batch of 2",
    lambda: ConditionalAffineCoupling(alternating_mask(2).double(), MLP(4, 4), torch.zeros(3, 2)).forward(
        torch.zeros(2, 2)
    ),
    raises("3 rows", "batch has 2"),
)
case(
    "the conditional coupling's context holds NaN",
    lambda: ConditionalAffineCoupling(alternating_mask(2).double(), MLP(4, 4), torch.tensor([math.nan, 0.0])),
    raises("context", "NaN"),
)
case(
    "the conditional coupling's context is an int tensor",
    lambda: ConditionalAffineCoupling(alternating_mask(2).double(), MLP(4, 4), torch.tensor([1, 0])),
    raises("context", "floating-point"),
)


# --------------------------------------------------------------------------------------------------
# building layers with odd parameters
# --------------------------------------------------------------------------------------------------
def _affine_ok(b) -> bool:
    z = torch.tensor([[1.0, -2.0]], dtype=b.dtype)
    return bool(torch.allclose(b.inverse(b.forward(z)), z, atol=1e-9)) and finite(b.forward_and_log_det(z)[1])


case("Affine(scale=NaN)", lambda: Affine(math.nan), raises("scale", "NaN"))
case("Affine(scale=inf)", lambda: Affine(math.inf), raises("scale", "infinity"))
case("Affine(scale=0)", lambda: Affine(0.0), raises("nonzero"))
case("Affine(scale=[1, 0])", lambda: Affine([1.0, 0.0]), raises("nonzero"))
case(
    "Affine(scale=1e-40) in float32: its inverse overflows",
    lambda: Affine(1e-40, dtype=F32),
    raises("out of range", "float32"),
)
case("Affine(scale=1e40) in float32", lambda: Affine(1e40, dtype=F32), raises("out of range", "float32"))
case(
    "Affine(scale=1e-40) in float64 is fine",
    lambda: Affine(1e-40, dtype=F64),
    returns(lambda b: finite(b.inverse(torch.tensor([[1e-35]]))), "a finite inverse"),
)
case("Affine(scale='2')", lambda: Affine("2"), raises("scale", "the text"))
case("Affine(scale=None)", lambda: Affine(None), raises("scale", "None"))
case("Affine(scale=1+2j)", lambda: Affine(1 + 2j), raises("scale", "complex"))
case("Affine(scale=True)", lambda: Affine(True), raises("scale", "True/False"))
case("Affine(scale=[])", lambda: Affine([]), raises("at least one"))
case("Affine(scale of 2, shift of 3)", lambda: Affine([1.0, 2.0], [0.0, 1.0, 2.0]), raises("2 entries", "3"))
case(
    "Affine(scale=a 2x2 matrix): a matrix is Linear's job",
    lambda: Affine([[1.0, 2.0], [3.0, 4.0]]),
    raises("scale", "shape (2, 2)", "Linear"),
)
case("Affine(shift=NaN)", lambda: Affine(2.0, math.nan), raises("shift", "NaN"))
case(
    "Affine(scale=-2): a negative scale flips, log|det| = log 2",
    lambda: Affine(-2.0, dtype=F64),
    returns(
        lambda b: (
            abs(float(b.forward_and_log_det(torch.zeros(1, 1))[1].detach()) - math.log(2)) < 1e-12 and _affine_ok(b)
        ),
        "log-det log 2 and a closing round trip",
    ),
)
case(
    "Affine(scale=np.float32 array) keeps the default dtype",
    lambda: Affine(np.array([2.0, 3.0], dtype=np.float32)),
    returns(_affine_ok, "a working layer"),
)
case("Affine(scale=int tensor)", lambda: Affine(torch.tensor([2, 3])), returns(_affine_ok, "a working layer"))

case("Linear(singular matrix)", lambda: Linear([[1.0, 2.0], [2.0, 4.0]]), raises("singular"))
case("Linear(zero matrix)", lambda: Linear(np.zeros((2, 2))), raises("singular"))
case(
    "Linear(1e-200 * I) in float64: tiny, but its inverse 1e200 fits",
    lambda: Linear(1e-200 * np.eye(2), dtype=F64),
    returns(
        lambda b: bool(torch.allclose(b.inverse(b.forward(torch.ones(1, 2))), torch.ones(1, 2))), "a closing round trip"
    ),
)
case("Linear(1e-200 * I) in float32", lambda: Linear(1e-200 * np.eye(2), dtype=F32), raises("out of range", "float32"))
case(
    "Linear(condition number 2.5e6) in float32",
    lambda: Linear([[1.0, 0.0], [0.0, 4e-7]], dtype=F32),
    raises("condition number", "float64"),
)
case(
    "Linear(condition number 2.5e6) in float64 is fine",
    lambda: Linear([[1.0, 0.0], [0.0, 4e-7]], dtype=F64),
    returns(_affine_ok, "a closing round trip"),
)
case("Linear(complex matrix)", lambda: Linear(np.eye(2) * (1 + 1j)), raises("complex"))
case("Linear(matrix with NaN)", lambda: Linear([[1.0, math.nan], [0.0, 1.0]]), raises("NaN"))
case("Linear(2x3 matrix)", lambda: Linear(np.ones((2, 3))), raises("square", "(2, 3)"))
case("Linear(a vector)", lambda: Linear([1.0, 2.0]), raises("square"))
case("Linear(a number)", lambda: Linear(2.0), raises("square"))
case("Linear(0x0 matrix)", lambda: Linear(np.zeros((0, 0))), raises("square"))
case("Linear(text)", lambda: Linear("eye"), raises("matrix", "the text"))
case(
    "Linear(rcond=-1) still refuses a singular matrix",
    lambda: Linear([[1.0, 1.0], [1.0, 1.0]], rcond=-1.0),
    raises("rcond"),
)
case("Linear(rcond='small')", lambda: Linear(np.eye(2), rcond="small"), raises("rcond", "the text"))
case(
    "Linear(rotation by 30 degrees)",
    lambda: Linear(linear2d.rotation(math.pi / 6)),
    returns(
        lambda b: verify_bijector(b, torch.randn(3, 2, generator=gen(), dtype=b.dtype)) == [], "verify_bijector passes"
    ),
)

case("Chain() with no layer", lambda: Chain(), raises("at least one"))
case("Chain(torch.nn.Linear)", lambda: Chain(nn.Linear(2, 2)), raises("Bijector"))
case("Chain('affine')", lambda: Chain("affine"), raises("Bijector"))
case(
    "Chain of a 2D and a 3D layer",
    lambda: Chain(Affine([1.0, 2.0]), Affine([1.0, 2.0, 3.0])),
    raises("different dimensions"),
)
case(
    "Chain of a float32 and a float64 layer",
    lambda: Chain(Affine(2.0, dtype=F32), Affine(2.0, dtype=F64)),
    raises("float32 and float64"),
)
case(
    "a Chain with one layer converted alone to float64 computes in the first layer's dtype",
    lambda: _chain_with_one_layer_converted().forward(torch.ones(1, 2)),
    returns(lambda x: x.dtype == F32 and torch.equal(x, torch.tensor([[2.0, 1.0]])), "x = A (2 z_1, z_2) in float32"),
)


def _chain_with_one_layer_converted():
    chain = Chain(Affine([2.0, 1.0], dtype=F32), Linear(np.eye(2), dtype=F32))
    chain.layers[1].double()
    return chain


for _what, _mask, _words in (
    ("all ones", [1.0, 1.0], ("at least one",)),
    ("all zeros", [0.0, 0.0], ("at least one",)),
    ("a 2", [1.0, 2.0], ("0 (transformed) or 1",)),
    ("a 2D mask", [[1.0, 0.0]], ("1D",)),
    ("text", "10", ("mask", "the text")),
    ("NaN", [1.0, math.nan], ("NaN",)),
    ("None", None, ("mask", "None")),
):
    case(f"AffineCoupling(mask={_what})", lambda m=_mask: AffineCoupling(m), raises(*_words))
    case(f"SplineCoupling(mask={_what})", lambda m=_mask: SplineCoupling(m), raises(*_words))
case(
    "AffineCoupling(mask of True/False) is fine",
    lambda: AffineCoupling([True, False], hidden=(4,)),
    returns(lambda b: b.forward(torch.zeros(2, 2)).shape == (2, 2), "a working layer"),
)
for _bound, _words in (
    (0.0, ("positive",)),
    (-1.0, ("positive",)),
    (math.nan, ("finite",)),
    ("3", ("log_scale_bound", "the text")),
):
    case(
        f"AffineCoupling(log_scale_bound={_bound!r})",
        lambda b=_bound: AffineCoupling([1.0, 0.0], log_scale_bound=b),
        raises(*_words),
    )
    case(
        f"AutoregressiveAffine(log_scale_bound={_bound!r})",
        lambda b=_bound: AutoregressiveAffine(2, log_scale_bound=b),
        raises(*_words),
    )
case(
    "AffineCoupling(log_scale_bound=inf) means no bound",
    lambda: AffineCoupling([1.0, 0.0], log_scale_bound=math.inf),
    returns(lambda b: b.log_scale_bound is None, "an unbounded layer"),
)
case(
    "AutoregressiveAffine(log_scale_bound=None) means no bound",
    lambda: AutoregressiveAffine(2, log_scale_bound=None),
    returns(lambda b: b.log_scale_bound is None, "an unbounded layer"),
)
for _hidden, _words in (
    ((0,), ("at least 1",)),
    (8, ("tuple",)),
    ((2.5,), ("whole number",)),
    ((-1,), ("at least 1",)),
    ("32", ("tuple", "the text")),
):
    case(f"AffineCoupling(hidden={_hidden!r})", lambda h=_hidden: AffineCoupling([1.0, 0.0], hidden=h), raises(*_words))
case(
    "AffineCoupling(hidden=()) has no hidden layer",
    lambda: AffineCoupling([1.0, 0.0], hidden=()),
    returns(lambda b: len(b.conditioner) == 1, "a one-layer conditioner"),
)
case(
    "AffineCoupling with a conditioner of the wrong output size",
    lambda: AffineCoupling([1.0, 0.0], conditioner=nn.Linear(2, 3)).forward(torch.zeros(4, 2)),
    raises("conditioner", "3", "4"),
)
case(
    "AffineCoupling with a conditioner that is text",
    lambda: AffineCoupling([1.0, 0.0], conditioner="mlp"),
    raises("conditioner", "the text"),
)
case(
    "AdditiveCoupling with a conditioner of the wrong output size",
    lambda: AdditiveCoupling([1.0, 0.0], conditioner=nn.Linear(2, 5)).forward(torch.zeros(4, 2)),
    raises("conditioner", "5", "2"),
)

case("SplineCoupling(n_bins=0)", lambda: SplineCoupling([1.0, 0.0], n_bins=0), raises("at least one bin"))
case("SplineCoupling(n_bins=2.5)", lambda: SplineCoupling([1.0, 0.0], n_bins=2.5), raises("n_bins", "whole number"))
case("SplineCoupling(n_bins='8')", lambda: SplineCoupling([1.0, 0.0], n_bins="8"), raises("n_bins", "the text"))
case(
    "SplineCoupling(n_bins=1), one bin, is a valid spline",
    lambda: randomise(SplineCoupling([1.0, 0.0], hidden=(4,), n_bins=1), gen(), 0.5),
    returns(
        lambda b: verify_bijector(b, torch.randn(4, 2, generator=gen(), dtype=F64)) == [], "verify_bijector passes"
    ),
)
for _bound, _words in (
    (0.0, ("bound", "positive")),
    (-1.0, ("bound", "positive")),
    (math.nan, ("bound", "nan")),
    (math.inf, ("bound", "finite")),
    ("4", ("bound", "the text")),
    (None, ("bound", "None")),
):
    case(f"SplineCoupling(bound={_bound!r})", lambda b=_bound: SplineCoupling([1.0, 0.0], bound=b), raises(*_words))
case(
    "SplineCoupling at points far beyond its bound (identity tails)",
    lambda: _run("SplineCoupling", "forward_and_log_det", torch.tensor([[50.0, -80.0], [-1e4, 1e4]])),
    returns(
        lambda out: torch.equal(out[0][:, 1], torch.tensor([-80.0, 1e4])) and torch.equal(out[1], torch.zeros(2)),
        "the identity, log-det 0",
    ),
)

case(
    "RationalQuadraticSpline.from_bins(a negative width)",
    lambda: RationalQuadraticSpline.from_bins([1.0, -0.5], [1.0, 1.0], [1.0, 1.0, 1.0]),
    raises("width", "positive"),
)
case(
    "RationalQuadraticSpline.from_bins(NaN height)",
    lambda: RationalQuadraticSpline.from_bins([1.0, 0.5], [1.0, math.nan], [1.0, 1.0, 1.0]),
    raises("heights", "NaN"),
)
case(
    "RationalQuadraticSpline.from_bins(one derivative too few)",
    lambda: RationalQuadraticSpline.from_bins([1.0, 0.5], [1.0, 1.0], [1.0, 1.0]),
    raises("one per knot"),
)
case(
    "RationalQuadraticSpline.from_bins(a zero derivative)",
    lambda: RationalQuadraticSpline.from_bins([1.0, 0.5], [1.0, 1.0], [1.0, 0.0, 1.0]),
    raises("derivative at knot 1"),
)
case(
    "RationalQuadraticSpline(knots out of order)",
    lambda: RationalQuadraticSpline([0.0, 2.0, 1.0], [0.0, 1.0, 2.0], [1.0, 1.0, 1.0]),
    raises("strictly increasing"),
)
case(
    "RationalQuadraticSpline(knots as text)",
    lambda: RationalQuadraticSpline("abc", [0.0, 1.0], [1.0, 1.0]),
    raises("knots_z", "the text"),
)
case(
    "RationalQuadraticSpline(complex knots)",
    lambda: RationalQuadraticSpline([0.0, 1j], [0.0, 1.0], [1.0, 1.0]),
    raises("knots_z", "complex"),
)
case(
    "RationalQuadraticSpline(knots None)",
    lambda: RationalQuadraticSpline(None, [0.0, 1.0], [1.0, 1.0]),
    raises("knots_z", "None"),
)
case(
    "RationalQuadraticSpline.from_bins(left=NaN)",
    lambda: RationalQuadraticSpline.from_bins([1.0, 0.5], [1.0, 1.0], [1.0, 1.0, 1.0], left=math.nan),
    raises("NaN"),
)
case(
    "RationalQuadraticSpline.from_bins(left='a')",
    lambda: RationalQuadraticSpline.from_bins([1.0, 0.5], [1.0, 1.0], [1.0, 1.0, 1.0], left="a"),
    raises("left", "the text"),
)
case(
    "knots_from_bins(widths as text)",
    lambda: knots_from_bins("12", [1.0, 1.0], [1.0, 1.0, 1.0]),
    raises("widths", "the text"),
)

case("AutoregressiveAffine(dim=0)", lambda: AutoregressiveAffine(0), raises("dim", "at least 1"))
case(
    "AutoregressiveAffine(conditioned_on='y')",
    lambda: AutoregressiveAffine(2, conditioned_on="y"),
    raises("conditioned_on"),
)
case(
    "AutoregressiveAffine(dim=1) has only its first coordinate",
    lambda: randomise(AutoregressiveAffine(1), gen(), 0.5),
    returns(
        lambda b: verify_bijector(b, torch.randn(3, 1, generator=gen(), dtype=F64)) == [], "verify_bijector passes"
    ),
)
case("MADE(dim=1): no order to speak of", lambda: MADE(1), raises("at least 2"))
case(
    "MADE(dim=2.0) reads a whole float as 2",
    lambda: MADE(2.0, hidden=(4,)),
    returns(lambda b: b.dim == 2 and b.forward(torch.zeros(3, 2)).shape == (3, 2), "a 2D layer"),
)
case("MADE(dim='3')", lambda: MADE("3"), raises("dim", "the text"))
case(
    "MADE(hidden=()) connects inputs to outputs directly",
    lambda: randomise(MADE(3, hidden=()), gen(), 0.5),
    returns(
        lambda b: verify_bijector(b, torch.randn(3, 3, generator=gen(), dtype=F64)) == [], "verify_bijector passes"
    ),
)

case("LULinear(dim=0)", lambda: LULinear(0), raises("dim", "0"))
case("LULinear(dim=2.5)", lambda: LULinear(2.5), raises("dim", "whole number"))
case("LULinear(dim=None)", lambda: LULinear(None), raises("dim", "None"))
case("LULinear(dim=NaN)", lambda: LULinear(math.nan), raises("dim", "nan"))
case("LULinear(dim='3')", lambda: LULinear("3"), raises("dim", "'3'"))
case("LeakyReLU(0): a plain ReLU has no inverse", lambda: LeakyReLU(0.0), raises("negative_slope", "(0, 1]"))
case("LeakyReLU(-0.5)", lambda: LeakyReLU(-0.5), raises("negative_slope"))
case("LeakyReLU(NaN)", lambda: LeakyReLU(math.nan), raises("negative_slope", "nan"))
case("LeakyReLU('0.2')", lambda: LeakyReLU("0.2"), raises("negative_slope", "the text"))
case("LeakyReLU(None)", lambda: LeakyReLU(None), raises("negative_slope", "None"))
case("invertible_mlp(n_hidden=-1)", lambda: invertible_mlp(2, n_hidden=-1), raises("n_hidden", "at least 0"))
case("invertible_mlp(n_hidden=2.5)", lambda: invertible_mlp(2, n_hidden=2.5), raises("n_hidden", "whole number"))
case("invertible_mlp(seed=None)", lambda: invertible_mlp(2, seed=None), raises("seed", "None"))
case("invertible_mlp(negative_slope=0)", lambda: invertible_mlp(2, negative_slope=0.0), raises("negative_slope"))
case(
    "invertible_mlp(n_hidden=0) is one linear layer",
    lambda: invertible_mlp(2, n_hidden=0),
    returns(lambda c: len(c) == 1, "one layer"),
)

case("MonotoneMixture(loc=[])", lambda: MonotoneMixture([], []), raises("at least one component"))
case("MonotoneMixture(loc with NaN)", lambda: MonotoneMixture([0.0, math.nan], 0.0), raises("loc", "NaN"))
case(
    "MonotoneMixture(log_scale=1000): exp overflows",
    lambda: MonotoneMixture([0.0, 1.0], 1000.0),
    raises("out of range"),
)
case(
    "MonotoneMixture(log_scale of the wrong shape)",
    lambda: MonotoneMixture([[0.0, 1.0]], [0.0, 1.0, 2.0]),
    raises("log_scale", "does not fit"),
)
case(
    "MonotoneMixture(weight_logits=inf)",
    lambda: MonotoneMixture([0.0, 1.0], 0.0, [math.inf, 0.0]),
    raises("weight_logits"),
)
case(
    "MonotoneMixture(max_iterations=0)",
    lambda: MonotoneMixture([0.0, 1.0], 0.0, max_iterations=0),
    raises("max_iterations"),
)
case("MonotoneMixture(loc of rank 3)", lambda: MonotoneMixture(np.zeros((1, 2, 2)), 0.0), raises("loc", "shape"))
case("MonotoneMixture.spread(n_components=0)", lambda: MonotoneMixture.spread(0), raises("n_components", "at least 1"))
case("MonotoneMixture.spread(scale=0)", lambda: MonotoneMixture.spread(3, scale=0.0), raises("scale", "positive"))
case("MonotoneMixture.spread(width=NaN)", lambda: MonotoneMixture.spread(3, width=math.nan), raises("width", "finite"))
case(
    "MonotoneMixture sampled far in the tail (z = 30) inverts back",
    lambda: _mixture_far(),
    returns(lambda d: d < 1e-6, "a round trip within 1e-6"),
)


def _mixture_far() -> float:
    b = MonotoneMixture.spread(3, dim=1).double()
    z = torch.tensor([[30.0], [-30.0], [0.0]], dtype=F64)
    with torch.no_grad():
        return float((b.inverse(b.forward(z)) - z).abs().max())


case("PixelLogit(levels=1)", lambda: PixelLogit(1), raises("levels", ">= 2"))
case(
    "PixelLogit(levels=17.0) reads a whole float",
    lambda: PixelLogit(17.0),
    returns(lambda b: b.levels == 17, "17 levels"),
)
case(
    "PixelLogit(levels=np.int64(17))", lambda: PixelLogit(np.int64(17)), returns(lambda b: b.levels == 17, "17 levels")
)
case("PixelLogit(levels='17')", lambda: PixelLogit("17"), raises("levels", "'17'"))
case("PixelLogit(alpha=0.5)", lambda: PixelLogit(17, alpha=0.5), raises("alpha", "[0, 0.5)"))
case("PixelLogit(alpha=NaN)", lambda: PixelLogit(17, alpha=math.nan), raises("alpha", "nan"))
case("PixelLogit(alpha='0.1')", lambda: PixelLogit(17, alpha="0.1"), raises("alpha", "the text"))
case("PixelLogit(alpha=None)", lambda: PixelLogit(17, alpha=None), raises("alpha", "None"))


# --------------------------------------------------------------------------------------------------
# flows of every layer kind (float32, as the notebooks train them), and make_flow's choices
# --------------------------------------------------------------------------------------------------
@functools.cache
def flow_of(layer: str, dtype=F32, base: str = "Gaussian") -> Flow:
    return make_flow(2, 2, layer, hidden=(8,), dtype=dtype, base=base, seed=1)


def _consistent(flow: Flow):
    """sample_and_log_prob's log-densities equal log_prob at its own samples (float32: to 2e-3)."""

    def check(out) -> bool:
        x, lp = out
        with torch.no_grad():
            again = flow.log_prob(x)
        return tuple(x.shape) == (6, 2) and finite(x, lp) and bool(torch.allclose(lp, again, atol=2e-3, rtol=1e-3))

    return check


X64 = torch.randn(7, 2, generator=gen(21), dtype=F64)
for _layer in LAYERS:
    _f = f"flow({_layer})"
    case(
        f"{_f}.log_prob(float64 data) in a float32 flow",
        lambda l=_layer: flow_of(l).log_prob(X64),
        returns(lambda lp: lp.shape == (7,) and lp.dtype == F32 and finite(lp), "finite float32 log-densities (7,)"),
    )
    case(
        f"{_f}.log_prob(numpy data)",
        lambda l=_layer: flow_of(l).log_prob(X64.numpy()),
        returns(same_as(lambda l=_layer: flow_of(l).log_prob(X64)), "the tensor's log-densities"),
    )
    case(
        f"{_f}.log_prob(int data)",
        lambda l=_layer: flow_of(l).log_prob(torch.ones(3, 2, dtype=torch.int32)),
        returns(same_as(lambda l=_layer: flow_of(l).log_prob(torch.ones(3, 2))), "the float data's log-densities"),
    )
    case(
        f"{_f}.log_prob(empty (0, 2))",
        lambda l=_layer: flow_of(l).log_prob(torch.zeros(0, 2)),
        returns(lambda lp: lp.shape == (0,), "shape (0,)"),
    )
    case(
        f"{_f}.log_prob(a single point of shape (2,))",
        lambda l=_layer: flow_of(l).log_prob(X64[0]),
        raises("shape (batch, dim)"),
    )
    case(f"{_f}.log_prob(NaN)", lambda l=_layer: flow_of(l).log_prob([[0.0, math.nan]]), raises("NaN"))
    case(
        f"{_f}.log_prob(3 coordinates)",
        lambda l=_layer: flow_of(l).log_prob(torch.zeros(2, 3)),
        raises("3 coordinates"),
    )
    case(f"{_f}.sample(0)", lambda l=_layer: flow_of(l).sample(0), returns(lambda x: x.shape == (0, 2), "shape (0, 2)"))
    case(
        f"{_f}.sample(5)",
        lambda l=_layer: flow_of(l).sample(5, gen()),
        returns(lambda x: x.shape == (5, 2) and finite(x), "5 finite points"),
    )
    case(
        f"{_f}.sample_and_log_prob(0)",
        lambda l=_layer: flow_of(l).sample_and_log_prob(0),
        returns(lambda o: o[0].shape == (0, 2) and o[1].shape == (0,), "shapes (0, 2) and (0,)"),
    )
    case(
        f"{_f}.sample_and_log_prob(6) agrees with log_prob",
        lambda l=_layer: flow_of(l).sample_and_log_prob(6, gen(2)),
        returns(lambda o, l=_layer: _consistent(flow_of(l))(o), "log-densities equal to log_prob at the samples"),
    )
    case(f"{_f}.sample(-1)", lambda l=_layer: flow_of(l).sample(-1), raises("n", "at least 0"))
    case(f"{_f}.sample(2.5)", lambda l=_layer: flow_of(l).sample(2.5), raises("n", "whole number"))
    case(f"{_f}.sample('3')", lambda l=_layer: flow_of(l).sample("3"), raises("n", "the text"))
    case(f"{_f}.sample(generator=0)", lambda l=_layer: flow_of(l).sample(3, 0), raises("generator", "torch.Generator"))
    case(
        f"{_f} in float64 with a Uniform(0, 1) base samples and scores",
        lambda l=_layer: flow_of(l, F64, "Uniform(0, 1)").sample_and_log_prob(6, gen(3)),
        returns(lambda o, l=_layer: _consistent(flow_of(l, F64, "Uniform(0, 1)"))(o), "consistent log-densities"),
    )

case("sample(None)", lambda: flow_of("coupling").sample(None), raises("n", "None"))
case("sample(True)", lambda: flow_of("coupling").sample(True), raises("n", "bool"))
case("sample(1e9)", lambda: flow_of("coupling").sample(1e9), raises("n", "at most"))
case(
    "base_sample(generator='seed')", lambda: flow_of("coupling").base_sample(3, "seed"), raises("generator", "the text")
)
case(
    "a float32 flow given data of 1e300, which float32 cannot hold",
    lambda: flow_of("coupling").log_prob(torch.tensor([[1e300, 0.0]], dtype=F64)),
    raises("float32", "too large"),
)
case(
    "log_prob far outside the data (1e6) of a float32 coupling flow",
    lambda: flow_of("coupling").log_prob([[1e6, -1e6]]),
    returns(lambda lp: finite(lp), "a finite log-density"),
)
case(
    "log_prob(x) of a Uniform(0, 1)-base flow outside its support is -inf (zero density), not an error",
    lambda: Flow(uniform_base(1, dtype=F64), Affine(1.0, dtype=F64)).log_prob([[2.0]]),
    returns(lambda lp: bool(torch.isneginf(lp).all()), "-inf"),
)

case("Flow(base=a string)", lambda: Flow("normal", Affine(1.0)), raises("base", "Distribution"))
case("Flow(bijector=nn.Linear)", lambda: Flow(standard_normal(2), nn.Linear(2, 2)), raises("bijector", "Bijector"))
case(
    "Flow(a base with a batch shape)",
    lambda: Flow(torch.distributions.Normal(torch.zeros(2), torch.ones(2)), Affine(1.0)),
    raises("event shape"),
)
case(
    "Flow(base of 2 dims, bijector of 3)",
    lambda: Flow(standard_normal(2), Affine([1.0, 2.0, 3.0])),
    raises("2 dimensions", "3"),
)
case("standard_normal(0)", lambda: standard_normal(0), raises("dim", "at least 1"))
case("standard_normal(2.5)", lambda: standard_normal(2.5), raises("dim", "whole number"))
case("uniform_base(low=1, high=0)", lambda: uniform_base(2, 1.0, 0.0), raises("low < high"))
case("uniform_base(low=NaN)", lambda: uniform_base(2, math.nan), raises("low", "finite"))
case("logistic_base(-1)", lambda: logistic_base(-1), raises("dim", "at least 1"))

for _kw, _words in (
    ({"layer": "realnvp"}, ("layer", "coupling")),
    ({"base": "normal"}, ("base", "Gaussian")),
    ({"n_layers": 0}, ("n_layers", "at least 1")),
    ({"n_layers": 65}, ("n_layers", "64")),
    ({"n_layers": 2.5}, ("n_layers", "whole number")),
    ({"dim": 0}, ("dim", "at least 1")),
    ({"dtype": torch.float16}, ("dtype", "float32")),
    ({"dtype": "float32"}, ("dtype", "float32")),
    ({"layer": "maf", "mask": "half"}, ("mask", "coupling")),
    ({"mask": "checkerboard"}, ("square image",)),
    ({"mask": "stripes"}, ("mask", "alternating")),
    ({"layer": "spline", "n_bins": 0}, ("at least one bin",)),
    ({"layer": "spline", "bound": -1.0}, ("bound", "positive")),
    ({"layer": "spline", "bound": math.inf}, ("bound", "finite")),
    ({"hidden": "32"}, ("hidden", "tuple")),
    ({"seed": None}, ("seed", "None")),
    ({"seed": 2.5}, ("seed", "whole number")),
    ({"scale_to": [[1.0, math.nan], [2.0, 3.0]]}, ("scale_to", "NaN")),
    ({"scale_to": [[1.0, 2.0], [1.0, 3.0]]}, ("scale_to", "constant column")),
    ({"scale_to": [[1.0, 2.0]]}, ("scale_to", "at least 2")),
    ({"scale_to": np.ones((4, 3))}, ("scale_to", "3 coordinates")),
    ({"last": nn.Identity()}, ("last", "Bijector")),
    ({"context_dim": 0}, ("context_dim", "positive")),
    ({"context_dim": -1}, ("context_dim",)),
    ({"context_dim": 2.5}, ("context_dim", "whole number")),
    ({"context_dim": "2"}, ("context_dim", "the text")),
    ({"context_dim": 2, "layer": "maf"}, ("context", "coupling")),
    ({"context_dim": 1e300}, ("context_dim", "at most")),
    ({"scale_to": np.random.default_rng(0).standard_normal((9, 2)) * 1e200}, ("scale_to", "too large")),
    (
        {"scale_to": np.random.default_rng(0).standard_normal((9, 2)) * 1e100, "dtype": F32},
        ("standard deviation of scale_to", "float32"),
    ),
    ({"n_components": 0, "layer": "mixture"}, ("n_components", "at least 1")),
    ({"log_scale_bound": 0.0}, ("log_scale_bound", "positive")),
    ({"layer": "made", "dim": 1}, ("at least 2",)),
    ({"layer": "coupling", "dim": 1}, ("at least 2 coordinates",)),
    ({"layer": "spline", "dim": 1}, ("at least 2",)),
):
    _args = {"dim": 2, "n_layers": 2, "hidden": (8,), **_kw}
    case(
        f"make_flow({', '.join(f'{k}={v!r}' for k, v in _kw.items())})", lambda a=_args: make_flow(**a), raises(*_words)
    )

for _kw in (
    {"layer": "maf", "dim": 1},
    {"layer": "mixture", "dim": 1},
    {"layer": "invertible-mlp", "dim": 1},
    {"layer": "spline", "n_bins": 1},
    {"scale_to": np.array([[1.0, 10.0], [3.0, 30.0], [2.0, 25.0]])},
    {"last": PixelLogit(17)},
    {"mask": "half"},
    {"dim": 4, "mask": "checkerboard"},
    {"dim": 16, "mask": "image", "n_layers": 4},
    {"base": "Logistic"},
    {"log_scale_bound": None},
    {"n_layers": 2.0},
):
    _args = {"dim": 2, "n_layers": 2, "hidden": (8,), "dtype": F64, **_kw}
    case(
        f"make_flow({', '.join(f'{k}={v!r}' for k, v in _kw.items())}) samples and scores consistently",
        lambda a=_args: _sample_and_score(make_flow(**a)),
        returns(bool, "consistent finite log-densities"),
    )


def _sample_and_score(flow: Flow) -> bool:
    x, lp = flow.sample_and_log_prob(6, gen(5))
    with torch.no_grad():
        return finite(x, lp) and bool(torch.allclose(lp, flow.log_prob(x), atol=1e-6, rtol=1e-6))


@functools.cache
def conditional() -> ConditionalFlow:
    return make_flow(2, 2, hidden=(8,), context_dim=3, dtype=F32)


C3 = torch.tensor([0.5, -1.0, 2.0])
case(
    "ConditionalFlow.log_prob(x, context (C,))",
    lambda: conditional().log_prob(X64, C3),
    returns(lambda lp: lp.shape == (7,) and finite(lp), "finite log-densities (7,)"),
)
case(
    "ConditionalFlow.log_prob(x, context (B, C))",
    lambda: conditional().log_prob(X64, C3.expand(7, 3)),
    returns(same_as(lambda: conditional().log_prob(X64, C3)), "what the shared context gives"),
)
case(
    "ConditionalFlow.log_prob with a float64 context",
    lambda: conditional().log_prob(X64, C3.double()),
    returns(same_as(lambda: conditional().log_prob(X64, C3)), "what the float32 context gives"),
)
case(
    "ConditionalFlow.log_prob with a list as context",
    lambda: conditional().log_prob(X64, [0.5, -1.0, 2.0]),
    returns(same_as(lambda: conditional().log_prob(X64, C3)), "what the tensor context gives"),
)
case(
    "ConditionalFlow.log_prob with an int context",
    lambda: conditional().log_prob(X64, torch.tensor([1, 0, 2])),
    returns(
        same_as(lambda: conditional().log_prob(X64, torch.tensor([1.0, 0.0, 2.0]))), "what the float context gives"
    ),
)
case(
    "ConditionalFlow context of 2 numbers for 3", lambda: conditional().log_prob(X64, C3[:2]), raises("context", "(3,)")
)
case(
    "ConditionalFlow context with NaN",
    lambda: conditional().log_prob(X64, torch.tensor([0.0, math.nan, 1.0])),
    raises("context", "NaN"),
)
case(
    "ConditionalFlow context of 4 rows for 7 points",
    lambda: conditional().log_prob(X64, C3.expand(4, 3)),
    raises("4 rows", "7 points"),
)
case("ConditionalFlow context as text", lambda: conditional().log_prob(X64, "abc"), raises("context", "the text"))
C4 = C3.expand(4, 3)


def _scores_itself(out) -> bool:
    x, log_q = out
    c = C4 if x.shape[0] == 4 else C3
    with torch.no_grad():
        return finite(x, log_q) and bool(torch.allclose(log_q, conditional().log_prob(x, c), atol=1e-5))


for _call, _expect in (
    ("sample(0, C3)", returns(lambda x: x.shape == (0, 2), "shape (0, 2)")),
    ("sample(10, C3)", returns(lambda x: x.shape == (10, 2) and finite(x), "10 finite samples of one context")),
    ("sample(4, C4, gen())", returns(lambda x: x.shape == (4, 2) and finite(x), "one sample per context")),
    ("sample(3, [0.5, -1.0, 2.0])", returns(lambda x: x.shape == (3, 2) and finite(x), "a list read as one context")),
    (
        "sample_and_log_prob(0, torch.zeros(0, 3))",
        returns(lambda o: o[0].shape == (0, 2) and o[1].shape == (0,), "empty"),
    ),
    ("sample_and_log_prob(4, C4, gen())", returns(_scores_itself, "log q equal to log_prob of the samples")),
    ("sample_and_log_prob(5, C3, gen())", returns(_scores_itself, "log q equal to log_prob of the samples")),
    ("sample(10)", raises("conditional flow", "context", "sample(n, context)")),
    ("sample(10, None)", raises("context", "(3,)")),
    ("sample(5, C4)", raises("4 rows", "n = 5")),
    ("sample(C4)", raises("context", "sample(n, context)")),
    ("sample_and_log_prob(C4, gen())", raises("context", "torch.Generator", "sample_and_log_prob(n, context)")),
    ("sample_and_log_prob(torch.zeros(0, 3))", raises("context")),
    ("sample_and_log_prob(4, gen())", raises("context", "torch.Generator")),
    ("sample(-1, C3)", raises("n", "at least 0")),
    ("sample(2.5, C3)", raises("n", "whole number")),
    ("sample(10, 'abc')", raises("context", "the text")),
    ("sample(10, [math.nan, 0.0, 1.0])", raises("context", "NaN")),
    ("sample(10, torch.zeros(10, 3, 1))", raises("context", "shape")),
    ("sample(3, C3, generator=5)", raises("generator", "torch.Generator")),
    ("log_prob(X64)", raises("conditional flow", "context", "log_prob(x, context)")),
    ("log_prob(X64, None)", raises("context")),
    ("log_prob(X64[:, 0], C3)", raises("shape (batch, dim)")),
    ("given(None)", raises("context", "given(context)")),
    ("given(C3).sample(5, gen())", returns(lambda x: x.shape == (5, 2) and finite(x), "5 samples")),
):
    case(f"ConditionalFlow.{_call}", lambda c=_call: eval(f"conditional().{c}"), _expect)  # noqa: S307 - a fixed table


# --------------------------------------------------------------------------------------------------
# training: train, Trainer, nll, reverse_kl, ValidationCurve
# --------------------------------------------------------------------------------------------------
DATA = torch.randn(20, 2, generator=gen(1), dtype=F64)


def small_flow(**kw) -> Flow:
    return make_flow(2, 1, hidden=(4,), seed=0, dtype=F32, **kw)


def fit(**kw):
    """train() on a small float32 flow with the arguments given (defaults: DATA, 3 steps, lr 1e-2, batch 8)."""
    flow = kw.pop("flow", None) or small_flow()
    args = {"data": DATA, "steps": 3, "lr": 1e-2, "batch_size": 8, **kw}
    return train(flow, **args)


def losses_ok(n: int):
    return lambda r: len(r.losses) == n and all(math.isfinite(v) for v in r.losses)


def _params_finite(flow: Flow) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in flow.parameters())


def _blow_up(flow: Flow, lr: float, steps: int):
    train(flow, DATA, steps=steps, lr=lr, batch_size=None)


def _boom(*args):
    raise ZeroDivisionError("boom in the caller's own function")


def _sampler_failing_at(call: int):
    calls = []

    def sampler(n, g):
        calls.append(n)
        if len(calls) == call:
            raise KeyError("the caller's sampler failed")
        return torch.randn(n, 2, generator=g)

    return sampler


def _continue_after_divergence() -> list[float]:
    flow = make_flow(2, 2, hidden=(8,), seed=0, dtype=F32, log_scale_bound=None)
    trainer = Trainer(flow, DATA * 30, lr=50.0, batch_size=None)
    try:
        trainer.run(100)
    except Diverged:
        pass
    trainer.lr = 1e-3
    return trainer.run(5).losses


case("train(steps=0) takes no step", lambda: fit(steps=0), returns(lambda r: r.losses == [], "no losses"))
case("train(steps=0).final", lambda: fit(steps=0).final, raises("no training step"))
for _kw, _words in (
    ({"steps": -1}, ("steps", "at least 0")),
    ({"steps": 2.5}, ("steps", "whole number")),
    ({"steps": None}, ("steps", "None")),
    ({"steps": 1e8}, ("steps", "at most")),
    ({"lr": 0.0}, ("learning rate", "positive")),
    ({"lr": -1.0}, ("learning rate", "positive")),
    ({"lr": math.nan}, ("learning rate", "finite")),
    ({"lr": math.inf}, ("learning rate", "finite")),
    ({"lr": "0.01"}, ("learning rate", "the text")),
    ({"lr": 1e300}, ("learning rate", "too large")),
    ({"batch_size": 0}, ("batch_size", "at least 1")),
    ({"batch_size": -5}, ("batch_size", "at least 1")),
    ({"batch_size": 2.5}, ("batch_size", "whole number")),
    ({"batch_size": "8"}, ("batch_size", "the text")),
    ({"seed": None}, ("seed", "None")),
    ({"seed": 2.5}, ("seed", "whole number")),
    ({"seed": "0"}, ("seed", "the text")),
    ({"callback_every": 0}, ("callback_every", "at least 1")),
    ({"callback": "print"}, ("callback", "function")),
    ({"data": torch.zeros(0, 2)}, ("empty",)),
    ({"data": DATA[:, 0]}, ("shape (batch, dim)",)),
    ({"data": torch.full((4, 2), math.nan)}, ("NaN",)),
    ({"data": torch.zeros(4, 3)}, ("3 coordinates",)),
    ({"data": None}, ("data", "objective")),
    ({"data": "faithful.csv"}, ("data", "the text")),
    ({"data": lambda n, g: torch.randn(n, 2, generator=g), "batch_size": None}, ("sampler", "batch_size")),
    ({"data": lambda n, g: torch.zeros(n, 3)}, ("sampler", "3 coordinates")),
    ({"data": lambda n, g: torch.full((n, 2), math.nan)}, ("sampler", "NaN")),
    ({"data": lambda n, g: None}, ("sampler", "None")),
    ({"loss_fn": lambda f, x: 1.0}, ("loss_fn", "tensor")),
    ({"loss_fn": lambda f, x: -f.log_prob(x)}, ("loss_fn", "scalar", ".mean()")),
    ({"loss_fn": lambda f, x: nll(f, x).detach()}, ("loss_fn", "gradient")),
    ({"loss_fn": "nll"}, ("loss_fn", "function")),
    ({"loss_fn": lambda f, x: nll(f, x) * math.nan}, ("step 1", "before any update")),
    ({"objective": reverse_kl(lambda x: -0.5 * (x**2).sum(1))}, ("objective", "not both")),
    ({"data": None, "objective": reverse_kl(lambda x: -0.5 * (x**2).sum(1)), "batch_size": None}, ("batch_size",)),
    ({"data": None, "objective": "kl"}, ("objective", "function")),
    (
        {"data": None, "objective": reverse_kl(lambda x: -0.5 * (x**2).sum(1, keepdim=True))},
        ("log_target", "one log-density per sample"),
    ),
    ({"data": None, "objective": reverse_kl(lambda x: 1.0)}, ("log_target", "tensor")),
    ({"data": None, "objective": reverse_kl(lambda x: np.zeros(len(x)))}, ("log_target", "tensor")),
    ({"data": None, "objective": reverse_kl(lambda x: x[:, 0] * math.nan)}, ("log_target", "nan")),
):
    case(f"train({', '.join(f'{k}={v!r}' for k, v in _kw.items())})", lambda kw=_kw: fit(**kw), raises(*_words))
for _kw in (
    {"batch_size": None},
    {"batch_size": 10**6},
    {"seed": -1},
    {"data": DATA.numpy()},
    {"data": DATA.tolist()},
    {"data": (DATA * 3).long()},
    {"data": lambda n, g: torch.randn(n, 2, generator=g).numpy()},
    {"data": None, "objective": reverse_kl(lambda x: -0.5 * (x**2).sum(1))},
    {"steps": 3.0},
):
    case(
        f"train({', '.join(f'{k}={v!r}' for k, v in _kw.items())}) trains",
        lambda kw=_kw: fit(**kw),
        returns(losses_ok(3), "3 finite losses"),
    )
case(
    "train(callback=a function that raises) passes the caller's error on",
    lambda: fit(callback=_boom, callback_every=1),
    raises("boom", kind=ZeroDivisionError, own=False),
)
case(
    "train(data=a sampler that raises at its first call) passes the caller's error on",
    lambda: fit(data=_sampler_failing_at(1)),
    raises("sampler failed", kind=KeyError, own=False),
)
case(
    "train(data=a sampler that raises at its third call) passes the caller's error on, not as a divergence",
    lambda: fit(data=_sampler_failing_at(3)),
    raises("sampler failed", kind=KeyError, own=False),
)
_FLOW_LR10 = {}
case(
    "train(lr=10) with bounded log-scales stops with its own divergence message, parameters finite",
    lambda: _blow_up(_FLOW_LR10.setdefault("f", make_flow(2, 2, hidden=(8,), seed=0, dtype=F32)), 10.0, 60),
    raises("learning rate", after=lambda: _params_finite(_FLOW_LR10["f"])),
)
_FLOW_UNB = {}
case(
    "train(lr=50) with unbounded log-scales on wide data stops with its own message, parameters finite",
    lambda: _blow_up(
        _FLOW_UNB.setdefault("f", make_flow(2, 2, hidden=(8,), seed=0, dtype=F32, log_scale_bound=None)), 50.0, 100
    ),
    raises("learning rate", after=lambda: _params_finite(_FLOW_UNB["f"])),
)
case(
    "after a divergence, a lower learning rate trains on",
    _continue_after_divergence,
    returns(lambda losses: len(losses) == 5 and all(math.isfinite(v) for v in losses), "5 finite losses"),
)
case("Trainer(model='flow')", lambda: Trainer("flow", DATA), raises("model", "nn.Module"))
case(
    "Trainer(a flow without trainable parameters)",
    lambda: Trainer(Flow(standard_normal(2), Affine(1.0, learnable=False)), DATA),
    raises("no trainable parameters"),
)
case(
    "Trainer.lr = NaN", lambda: setattr(Trainer(small_flow(), DATA), "lr", math.nan), raises("learning rate", "finite")
)
case("Trainer.run(-1)", lambda: Trainer(small_flow(), DATA).run(-1), raises("steps", "at least 0"))
case("nll(flow, an empty batch): the mean of no losses", lambda: nll(small_flow(), torch.zeros(0, 2)), raises("empty"))
case("nll(flow, NaN)", lambda: nll(small_flow(), [[math.nan, 0.0]]), raises("NaN"))
case(
    "nll(flow, float64 data) of a float32 flow",
    lambda: nll(small_flow(), DATA),
    returns(lambda v: finite(v) and v.dtype == F32, "a finite float32 loss"),
)
case(
    "ValidationCurve(flow, empty validation data)",
    lambda: ValidationCurve(small_flow(), torch.zeros(0, 2)),
    raises("empty"),
)
case("ValidationCurve(flow, NaN)", lambda: ValidationCurve(small_flow(), [[math.nan, 0.0]]), raises("NaN"))
case(
    "ValidationCurve(flow, 3 coordinates)",
    lambda: ValidationCurve(small_flow(), torch.zeros(4, 3)),
    raises("3 coordinates"),
)
case(
    "ValidationCurve(flow, float64 data) of a float32 flow",
    lambda: ValidationCurve(small_flow(), DATA),
    returns(lambda c: math.isfinite(c.val_nll[0]), "a finite validation NLL"),
)
case("reverse_kl('banana')", lambda: reverse_kl("banana"), raises("log_target", "function"))


# conditional flows in training: their contexts beside the data, or drawn by the objective
def _cflow():
    return make_flow(2, 2, hidden=(8,), context_dim=3, dtype=F32)


def _joint(x, c):
    """log p~(x | c): a Gaussian around the context's first two numbers."""
    return -0.5 * ((x - c[:, :2]) ** 2).sum(1)


CONTEXTS = torch.randn(20, 3, generator=gen(4), dtype=F64)
for _kw, _expect in (
    ({"context": CONTEXTS}, returns(losses_ok(3), "3 losses")),
    ({"context": C3}, returns(losses_ok(3), "3 losses, one context for all")),
    ({"context": CONTEXTS.numpy()}, returns(losses_ok(3), "3 losses, contexts as numpy")),
    ({"context": CONTEXTS, "batch_size": None}, returns(losses_ok(3), "3 losses, full batch")),
    ({}, raises("conditional flow", "context", "train(cflow, data, context=c)")),
    ({"context": CONTEXTS[:5]}, raises("5 rows", "data has 20")),
    ({"context": CONTEXTS[:, :2]}, raises("context", "(3,)")),
    ({"context": "abc"}, raises("context", "the text")),
    ({"context": CONTEXTS * math.nan}, raises("context", "NaN")),
    ({"data": lambda n, g: torch.randn(n, 2, generator=g), "context": C3}, raises("context", "sampler")),
    ({"data": lambda n, g: torch.randn(n, 2, generator=g)}, raises("context")),
    ({"data": None, "objective": reverse_kl(lambda x: -(x**2).sum(1))}, raises("conditional flow", "context")),
    (
        {"data": None, "objective": reverse_kl(_joint, context=C3), "context": C3},
        raises("context", "reverse_kl(log_target, context=...)"),
    ),
    ({"data": None, "objective": reverse_kl(_joint, context=C3)}, returns(losses_ok(3), "3 losses, one context")),
    ({"data": None, "objective": reverse_kl(_joint, context=CONTEXTS)}, returns(losses_ok(3), "3 losses, a set")),
    (
        {"data": None, "objective": reverse_kl(_joint, context=lambda n, g: torch.randn(n, 3, generator=g))},
        returns(losses_ok(3), "3 losses, a sampler of contexts"),
    ),
    (
        {"data": None, "objective": reverse_kl(_joint, context=lambda n, g: torch.zeros(n, 2))},
        raises("context", "(3,)"),
    ),
    (
        {"data": None, "objective": reverse_kl(_joint, context=lambda n, g: torch.zeros(n + 1, 3))},
        raises("context sampler", "(n, C)"),
    ),
    ({"data": None, "objective": reverse_kl(_joint, context=lambda n, g: None)}, raises("context")),
):
    case(
        f"train(a conditional flow, {', '.join(f'{k}={v!r}'[:60] for k, v in _kw.items())})",
        lambda kw=_kw: fit(**{"flow": _cflow(), **kw}),
        _expect,
    )
case(
    "reverse_kl(a log_target of x alone, context=...)",
    lambda: reverse_kl(lambda x: -(x**2).sum(1), context=C3),
    raises("log_target(x, context)", "second argument"),
)
case(
    "train(a plain flow, data, context=...)",
    lambda: fit(context=CONTEXTS),
    raises("not a conditional flow", "leave the context out"),
)
case(
    "train(a plain flow, objective=reverse_kl(log_target, context=...))",
    lambda: fit(data=None, objective=reverse_kl(_joint, context=C3)),
    raises("not a conditional flow"),
)
case("nll(a conditional flow, x)", lambda: nll(_cflow(), DATA), raises("context", "nll(cflow, x, context)"))
case(
    "nll(a conditional flow, x, contexts)",
    lambda: nll(_cflow(), DATA, CONTEXTS),
    returns(lambda v: finite(v) and v.shape == (), "a finite scalar"),
)
case("nll(a plain flow, x, contexts)", lambda: nll(small_flow(), DATA, CONTEXTS), raises("not a conditional flow"))
case("ValidationCurve(a conditional flow, x)", lambda: ValidationCurve(_cflow(), DATA), raises("context"))
case(
    "ValidationCurve(a conditional flow, x, contexts)",
    lambda: ValidationCurve(_cflow(), DATA, CONTEXTS),
    returns(lambda c: math.isfinite(c.val_nll[0]), "a finite validation NLL"),
)
case(
    "ValidationCurve(a plain flow, x, contexts)",
    lambda: ValidationCurve(small_flow(), DATA, CONTEXTS),
    raises("not a conditional flow"),
)
case(
    "Trainer(a conditional flow, data, context=...).run(2) twice continues",
    lambda: (lambda t: (t.run(2), t.run(2))[1])(Trainer(_cflow(), DATA, context=CONTEXTS, batch_size=8)),
    returns(lambda r: len(r.losses) == 4 and all(math.isfinite(v) for v in r.losses), "4 finite losses"),
)


# --------------------------------------------------------------------------------------------------
# 2D targets (toy2d)
# --------------------------------------------------------------------------------------------------
for _call, _words in (
    ("two_moons(sigma=0)", ("sigma", "positive")),
    ("two_moons(sigma=-1)", ("sigma", "positive")),
    ("two_moons(per_arc=0)", ("per_arc", "at least 1")),
    ("gaussian_ring(n_modes=0)", ("n_modes", "at least 1")),
    ("gaussian_ring(sigma=math.nan)", ("sigma", "finite")),
    ("gaussian_ring(radius='2')", ("radius", "the text")),
    ("checkerboard(n=3)", ("even",)),
    ("checkerboard(n=0)", ("n", "at least 2")),
    ("checkerboard(n=-2)", ("n", "at least 2")),
    ("checkerboard(size=0)", ("size", "positive")),
    ("banana(sigma=0)", ("sigma", "positive")),
    ("banana(curvature=math.nan)", ("curvature", "finite")),
):
    case(f"toy2d.{_call}", lambda c=_call: eval(f"toy2d.{c}"), raises(*_words))  # noqa: S307 - a fixed table of calls
_MOONS = toy2d.two_moons()
case("Target.log_prob(one point (2,))", lambda: _MOONS.log_prob(torch.zeros(2)), raises("shape (batch, dim)"))
case("Target.log_prob(NaN)", lambda: _MOONS.log_prob([[math.nan, 0.0]]), raises("NaN"))
case(
    "Target.log_prob(float32 points) stays in float32",
    lambda: _MOONS.log_prob(torch.zeros(3, 2, dtype=F32)),
    returns(lambda lp: lp.dtype == F32 and finite(lp), "finite float32 log-densities"),
)
case("Target.sample(-1, gen)", lambda: _MOONS.sample(-1, gen()), raises("n", "at least 0"))
case("Target.sample(5, None)", lambda: _MOONS.sample(5, None), raises("gen", "torch.Generator"))
case(
    "checkerboard().log_prob outside the board is -inf",
    lambda: toy2d.checkerboard().log_prob([[10.0, 10.0]]),
    returns(lambda lp: bool(torch.isneginf(lp).all()), "-inf"),
)
case("kl_gap(n=1)", lambda: toy2d.kl_gap(small_flow().log_prob, _MOONS, n=1), raises("n", "at least 2"))
case("kl_gap(log_q='flow')", lambda: toy2d.kl_gap("flow", _MOONS, n=10), raises("log_q", "function"))
case(
    "kl_gap(log_q of shape (n, 1))",
    lambda: toy2d.kl_gap(lambda x: small_flow().log_prob(x)[:, None], _MOONS, n=10),
    raises("log_q", "shape"),
)
case(
    "kl_gap(log_q giving NaN)", lambda: toy2d.kl_gap(lambda x: x[:, 0] * math.nan, _MOONS, n=10), raises("log_q", "NaN")
)
case(
    "kl_gap(target='two moons')",
    lambda: toy2d.kl_gap(small_flow().log_prob, "two moons", n=10),
    raises("target", "Target"),
)
case("kl_gap(seed=None)", lambda: toy2d.kl_gap(small_flow().log_prob, _MOONS, n=10, seed=None), raises("seed", "None"))
case(
    "kl_gap of a float32 flow",
    lambda: toy2d.kl_gap(small_flow().log_prob, _MOONS, n=200, dtype=F32),
    returns(lambda r: all(math.isfinite(v) for v in r) and r[0] > 0, "a finite positive gap and its error"),
)
case(
    "grid_density(extent with min = max)",
    lambda: toy2d.grid_density(_MOONS.log_prob, (0.0, 0.0, 0.0, 1.0)),
    raises("extent"),
)
case("grid_density(n=0)", lambda: toy2d.grid_density(_MOONS.log_prob, _MOONS.extent, n=0), raises("n", "at least 1"))
case(
    "grid_density(n=2.5)",
    lambda: toy2d.grid_density(_MOONS.log_prob, _MOONS.extent, n=2.5),
    raises("n", "whole number"),
)
case(
    "grid_density(extent of 3 numbers)",
    lambda: toy2d.grid_density(_MOONS.log_prob, (0.0, 1.0, 2.0)),
    raises("extent", "4"),
)
case(
    "grid_density(extent with NaN)",
    lambda: toy2d.grid_density(_MOONS.log_prob, (math.nan, 1.0, 0.0, 1.0)),
    raises("extent", "nan"),
)
case("grid_density(extent as text)", lambda: toy2d.grid_density(_MOONS.log_prob, "abcd"), raises("extent", "the text"))
case(
    "grid_density of the banana integrates to about 1 over its extent",
    lambda: toy2d.grid_density(toy2d.banana().log_prob, toy2d.banana().extent, n=120),
    returns(lambda r: 0.9 < float(r[0].sum() * r[1]) < 1.01, "mass between 0.9 and 1.01"),
)


# --------------------------------------------------------------------------------------------------
# data files: damaged copies written to tmp_path
# --------------------------------------------------------------------------------------------------
def _copy(tmp: Path, name: str, edit) -> Path:
    """A copy of a shipped CSV file in ``tmp`` with ``edit(list of lines) -> list of lines`` applied."""
    lines = (data.DATA_DIR / name).read_text(encoding="utf-8").splitlines()
    path = tmp / name
    path.write_text("\n".join(edit(lines)) + "\n", encoding="utf-8")
    return path


def _cell(lines, line: int, column: int, value: str):
    cells = lines[line - 1].split(",")
    cells[column] = value
    return lines[: line - 1] + [",".join(cells)] + lines[line:]


def faithful(edit):
    return lambda tmp: data.load_old_faithful(_copy(tmp, "old_faithful.csv", edit))


def challenger(edit):
    return lambda tmp: data.load_challenger(_copy(tmp, "challenger_orings.csv", edit))


def _write(tmp: Path, name: str, content: bytes) -> Path:
    (tmp / name).write_bytes(content)
    return tmp / name


for _what, _edit, _words in (
    ("cut short at 100 rows", lambda ls: ls[:101], ("100 data rows", "272")),
    ("without its header line", lambda ls: ls[1:], ("line 1", "header")),
    ("with a third column", lambda ls: [ls[0] + ",extra"] + [r + ",1" for r in ls[1:]], ("header",)),
    ("with one row of three cells", lambda ls: ls[:4] + [ls[4] + ",9"] + ls[5:], ("line 5", "3 cells")),
    ("with a NaN cell", lambda ls: _cell(ls, 7, 1, "nan"), ("line 7", "finite")),
    ("with an inf cell", lambda ls: _cell(ls, 7, 0, "inf"), ("line 7", "finite")),
    ("with a text cell", lambda ls: _cell(ls, 9, 0, "abc"), ("line 9", "not a number")),
    ("with an empty cell", lambda ls: _cell(ls, 9, 1, ""), ("line 9", "not a number")),
    ("with a ragged row of one cell", lambda ls: ls[:10] + ["3.6"] + ls[11:], ("line 11", "1 cells")),
    ("with a blank line in the middle", lambda ls: ls[:20] + [""] + ls[20:], ("line 21", "0 cells")),
    ("with a waiting time of 1000 minutes", lambda ls: _cell(ls, 3, 1, "1000"), ("line 3", "outside the range")),
    ("with a negative duration", lambda ls: _cell(ls, 3, 0, "-3.6"), ("line 3", "outside the range")),
    ("empty", lambda ls: [], ("empty",)),
    ("with only its header", lambda ls: ls[:1], ("0 data rows",)),
    ("with its rows twice", lambda ls: ls + ls[1:], ("544 data rows",)),
):
    case(f"load_old_faithful: a file {_what}", faithful(_edit), raises("old_faithful.csv", *_words), tmp=True)
for _what, _edit in (
    ("with Windows line ends", lambda ls: [r + "\r" for r in ls]),
    ("with blank lines at its end", lambda ls: ls + ["", ""]),
    ("with spaces around numbers", lambda ls: [ls[0]] + [r.replace(",", " , ") for r in ls[1:]]),
    ("saved with a byte-order mark (Excel's UTF-8)", lambda ls: ["\ufeff" + ls[0]] + ls[1:]),
):
    case(
        f"load_old_faithful: an intact file {_what} loads",
        faithful(_edit),
        returns(array_close(data.load_old_faithful()), "the shipped data, (272, 2)"),
        tmp=True,
    )
case(
    "load_old_faithful: a file that is not text",
    lambda tmp: data.load_old_faithful(_write(tmp, "old_faithful.csv", b"\xff\xfe\x00\x81" * 50)),
    raises("old_faithful.csv", "not a readable CSV"),
    tmp=True,
)
case(
    "load_old_faithful: a missing file",
    lambda tmp: data.load_old_faithful(tmp / "nowhere.csv"),
    raises("there is no file at", "nowhere.csv", "check the path", kind=FileNotFoundError, own=False),
    tmp=True,
)
case(
    "load_old_faithful: a folder instead of a file",
    lambda tmp: data.load_old_faithful(tmp),
    raises("not a file"),
    tmp=True,
)
case("load_old_faithful(path=5)", lambda: data.load_old_faithful(5), raises("path", "int"))
for _what, _edit, _words in (
    ("a distress of 2", lambda ls: _cell(ls, 3, 3, "2"), ("line 3", "outside the range")),
    ("a distress of 0.5", lambda ls: _cell(ls, 3, 3, "0.5"), ("distress", "0 or 1")),
    ("a temperature 'cold'", lambda ls: _cell(ls, 4, 1, "cold"), ("line 4", "not a number")),
    ("a row missing", lambda ls: ls[:-1], ("22 data rows",)),
    (
        "columns swapped in the header",
        lambda ls: ["flight,pressure_psi,temperature_F,distress,n_distressed"] + ls[1:],
        ("header",),
    ),
):
    case(f"load_challenger: a file with {_what}", challenger(_edit), raises("challenger_orings.csv", *_words), tmp=True)
case(
    "load_challenger: any text as a flight's label is fine",
    challenger(lambda ls: _cell(ls, 2, 0, "STS-1 (first)")),
    returns(lambda r: r[0].shape == (23,) and np.isfinite(r[0]).all(), "23 temperatures"),
    tmp=True,
)


def _digit_lines() -> list[str]:
    with gzip.open(data.DATA_DIR / "digits.csv.gz", "rt", encoding="utf-8") as f:
        return f.read().splitlines()


def digits(edit=None, raw: bytes | None = None):
    """load_digits of a damaged copy in tmp (the lines edited, or the raw bytes given)."""

    def load(tmp: Path):
        path = tmp / "digits.csv.gz"
        if raw is not None:
            path.write_bytes(raw)
        else:
            with gzip.open(path, "wt", encoding="utf-8") as f:
                f.write("\n".join(edit(_digit_lines())) + "\n")
        return data.load_digits(str(path))

    return load


for _what, _edit, _words in (
    ("a row of 64 fields", lambda ls: ls[:5] + [ls[5].rsplit(",", 1)[0]] + ls[6:], ("row 6", "64 pixels")),
    ("a pixel of 17", lambda ls: ["17" + ls[0][ls[0].index(",") :]] + ls[1:], ("row 1", "0..16")),
    ("a pixel of 2.5", lambda ls: ["2.5" + ls[0][ls[0].index(",") :]] + ls[1:], ("row 1", "whole numbers")),
    ("a label of 10", lambda ls: [ls[0].rsplit(",", 1)[0] + ",10"] + ls[1:], ("row 1", "label")),
    ("a NaN pixel", lambda ls: ["nan" + ls[0][ls[0].index(",") :]] + ls[1:], ("row 1", "NaN")),
    ("a text pixel", lambda ls: ["x" + ls[0][ls[0].index(",") :]] + ls[1:], ("row 1", "not a number")),
    ("100 rows only", lambda ls: ls[:100], ("100 rows", "1797")),
    ("one empty line", lambda ls: [], ("row 1", "0 fields")),
):
    case(f"load_digits: a file with {_what}", digits(_edit), raises("digits.csv.gz", *_words), tmp=True)
case("load_digits: a file that is not gzip", digits(raw=b"0,1,2\n" * 10), raises("digits.csv.gz", "gzip"), tmp=True)
case(
    "load_digits: a gzip file cut short",
    digits(raw=(data.DATA_DIR / "digits.csv.gz").read_bytes()[:5000]),
    raises("digits.csv.gz", "cut short"),
    tmp=True,
)
case(
    "load_digits: a missing file",
    lambda tmp: data.load_digits(str(tmp / "none.csv.gz")),
    raises("there is no file at", "none.csv.gz", kind=FileNotFoundError, own=False),
    tmp=True,
)
case("split_digits(sizes=(1, 1, 1))", lambda: data.split_digits(sizes=(1, 1, 1)), raises("sizes", "1797"))
case("split_digits(sizes=(1197, 600))", lambda: data.split_digits(sizes=(1197, 600)), raises("sizes", "three"))
case(
    "split_digits(sizes=('a', 300, 300))", lambda: data.split_digits(sizes=("a", 300, 300)), raises("sizes", "the text")
)
case(
    "split_digits(sizes=(1197.0, 300, 300)) reads whole floats",
    lambda: data.split_digits(sizes=(1197.0, 300, 300)),
    returns(lambda s: s.train.shape == (1197, 64), "1197 training images"),
)
case("split_digits(seed=None)", lambda: data.split_digits(seed=None), raises("seed", "None"))
case("split_digits(seed=2.5)", lambda: data.split_digits(seed=2.5), raises("seed", "whole number"))

for _arg, _words in (
    (np.arange(5.0), ("shape (N, D)",)),
    (np.array([[1.0, math.nan], [2.0, 3.0]]), ("NaN",)),
    (np.array([[1.0, 2.0], [1.0, 3.0]]), ("constant",)),
    (np.array([[1.0, 2.0]]), ("N >= 2",)),
    (np.array([[1j, 2.0], [1.0, 3.0]]), ("complex",)),
    ("faithful", ("the text",)),
    (None, ("None",)),
):
    case(f"standardise({_arg!r})", lambda a=_arg: data.standardise(a), raises("data", *_words))
case(
    "standardise(int data)",
    lambda: data.standardise(np.array([[1, 10], [2, 30], [3, 20]])),
    returns(lambda r: finite(r[0]) and abs(float(r[0].std(0, unbiased=False)[1]) - 1) < 1e-12, "unit spread"),
)
case(
    "standardise(a list)",
    lambda: data.standardise([[1.0, 10.0], [2.0, 30.0]]),
    returns(lambda r: finite(r[0]), "finite"),
)
for _n, _words in (
    (0, ("n_validation", "between 1")),
    (10, ("n_validation", "between 1")),
    (2.5, ("n_validation", "whole number")),
    ("5", ("n_validation", "the text")),
    (None, ("n_validation", "None")),
):
    case(
        f"train_validation_split(n_validation={_n!r})",
        lambda n=_n: data.train_validation_split(np.zeros((10, 2)), n),
        raises(*_words),
    )
case(
    "train_validation_split(seed=None)",
    lambda: data.train_validation_split(np.zeros((10, 2)), 2, seed=None),
    raises("seed", "None"),
)
case("train_validation_split(data=None)", lambda: data.train_validation_split(None, 2), raises("data", "None"))
case(
    "train_validation_split(n_validation=3.0) reads a whole float",
    lambda: data.train_validation_split(np.arange(20.0).reshape(10, 2), 3.0),
    returns(lambda r: r[1].shape == (3, 2), "3 held out"),
)
_X = torch.tensor([[1.0, 10.0], [2.0, 20.0]], dtype=F64)
for _x, _unit, _words in (
    (_X, 0.0, ("unit", "positive")),
    (_X, math.nan, ("unit", "nan")),
    (_X, [1.0, 2.0, 3.0], ("unit", "3", "2")),
    (_X, "1", ("unit", "the text")),
    (torch.tensor([[1.0, math.nan]]), 1.0, ("x", "NaN")),
    (torch.zeros(0, 2), 1.0, ("x", "empty")),
):
    case(
        f"dequantised(x of shape {tuple(_x.shape)}, unit={_unit!r})",
        lambda x=_x, u=_unit: data.dequantised(x, u),
        raises(*_words),
    )
case(
    "dequantised(numpy x) draws (n, 2) finite rows",
    lambda: data.dequantised(_X.numpy(), [0.1, 1.0])(5, gen()),
    returns(lambda s: s.shape == (5, 2) and finite(s), "5 finite rows"),
)

# --------------------------------------------------------------------------------------------------
# images: bits per dimension and dequantisation
# --------------------------------------------------------------------------------------------------
BPD = 98.5 / (64 * math.log(2))
for _args, _check, _what in (
    ((98.5, 64), lambda v: abs(v - BPD) < 1e-12, "98.5 / (64 ln 2)"),
    ((98.5, 64.0), lambda v: abs(v - BPD) < 1e-12, "the same, dim read as 64"),
    ((98.5, np.int64(64)), lambda v: abs(v - BPD) < 1e-12, "the same, dim read as 64"),
    ((math.inf, 64), lambda v: v == math.inf, "inf: zero likelihood costs infinitely many bits"),
    (
        (torch.tensor([98.5, 64 * math.log(2)]), 64),
        lambda v: torch.allclose(v.double(), torch.tensor([BPD, 1.0], dtype=F64)),
        "one value per image",
    ),
):
    case(f"bits_per_dim{_args!r}", lambda a=_args: bits_per_dim(*a), returns(_check, _what))
for _args, _words in (
    ((math.nan, 64), ("NaN",)),
    ((98.5, 0), ("dim", "positive")),
    (("98.5", 64), ("nll_nats", "the text")),
    ((None, 64), ("nll_nats", "None")),
    ((torch.tensor([98.5, math.nan]), 64), ("NaN",)),
    ((98.5 + 1j, 64), ("nll_nats", "complex")),
    ((98.5, "64"), ("dim", "'64'")),
):
    case(f"bits_per_dim{_args!r}", lambda a=_args: bits_per_dim(*a), raises(*_words))
case("nats_from_bits_per_dim(NaN, 64)", lambda: nats_from_bits_per_dim(math.nan, 64), raises("NaN"))
case("nats_from_bits_per_dim('1', 64)", lambda: nats_from_bits_per_dim("1", 64), raises("bpd", "the text"))
case(
    "nats_from_bits_per_dim undoes bits_per_dim",
    lambda: nats_from_bits_per_dim(bits_per_dim(98.5, 64), 64),
    returns(lambda v: abs(v - 98.5) < 1e-12, "98.5 nats"),
)
PIX = torch.tensor([[0.0, 16.0, 3.0], [5.0, 0.0, 1.0]])


def _in_cells(pixels):
    return lambda y: y.shape == pixels.shape and bool(((y >= pixels) & (y < pixels + 1)).all())


case(
    "dequantise(float pixels)",
    lambda: dequantise(PIX, 17, gen()),
    returns(_in_cells(PIX), "each pixel moved within [k, k + 1)"),
)
case(
    "dequantise(int pixels)",
    lambda: dequantise(PIX.long(), 17, gen()),
    returns(_in_cells(PIX), "each pixel moved within [k, k + 1)"),
)
case(
    "dequantise(numpy pixels)",
    lambda: dequantise(PIX.numpy(), 17, gen()),
    returns(_in_cells(PIX), "each pixel moved within [k, k + 1)"),
)
case(
    "dequantise(an empty batch (0, 3))",
    lambda: dequantise(torch.zeros(0, 3), 17),
    returns(lambda y: y.shape == (0, 3), "shape (0, 3)"),
)
for _pix, _kw, _words in (
    (PIX + 1, {}, ("0..16",)),
    (PIX + 0.5, {}, ("whole numbers",)),
    (PIX[0], {}, ("shape (batch, dim)",)),
    (torch.full((1, 3), math.nan), {}, ("NaN",)),
    (PIX, {"levels": 0}, ("levels", ">= 2")),
    (PIX, {"levels": "17"}, ("levels", "the text")),
    (PIX, {"generator": "g"}, ("generator", "torch.Generator")),
    (PIX / 16, {}, ("whole numbers", "not pixels that were already scaled")),
):
    case(
        f"dequantise({_pix.tolist() if _pix.numel() < 7 else 'pixels'}, {_kw})",
        lambda p=_pix, kw=_kw: dequantise(p, **{"levels": 17, **kw}),
        raises(*_words),
    )


# --------------------------------------------------------------------------------------------------
# the numpy maths of lessons 01 and 02
# --------------------------------------------------------------------------------------------------
N01 = cov1d.Normal()
XS = np.linspace(-4.0, 4.0, 9)


def _affine_density(x):
    return np.exp(-0.5 * ((x - 1) / -2) ** 2) / math.sqrt(2 * math.pi) / 2


for _call, _words in (
    ("AffineMap(math.nan)", ("slope", "finite")),
    ("AffineMap(0.0)", ("zero slope",)),
    ("AffineMap(1e-320)", ("slope", "out of range")),
    ("AffineMap('2')", ("slope", "the text")),
    ("AffineMap(True)", ("slope", "bool")),
    ("AffineMap(2j)", ("slope", "complex")),
    ("AffineMap(2.0, math.inf)", ("shift", "finite")),
    ("Normal(0.0, 0.0)", ("sigma > 0",)),
    ("Normal(0.0, -1.0)", ("sigma > 0",)),
    ("Normal(math.nan)", ("mu", "finite")),
    ("Normal(0.0, math.inf)", ("sigma", "finite")),
    ("Uniform(1.0, 1.0)", ("a < b",)),
    ("Uniform(0.0, math.inf)", ("b", "finite")),
    ("Exponential(0.0)", ("rate > 0",)),
    ("Logistic(0.0, 0.0)", ("s > 0",)),
    ("LogNormal(0.0, 0.0)", ("sigma > 0",)),
    ("TanhMap(-1.0, 1.0)", ("flat",)),
    ("TanhMap(-2.0, 1.0)", ("folds back",)),
    ("TanhMap(math.nan)", ("a", "finite")),
    ("MonotoneSpline([0.0, 1.0, 2.0], [0.0, 2.0, 1.0])", ("turn back",)),
    ("MonotoneSpline([0.0, 1.0], [0.0, math.nan])", ("finite",)),
    ("MonotoneSpline([0.0, 0.0], [0.0, 1.0])", ("strictly increasing",)),
    ("MonotoneSpline([0.0], [1.0])", ("length >= 2",)),
    ("MonotoneSpline(['a', 'b'], [0.0, 1.0])", ("z_knots", "the text")),
    ("MonotoneSpline([0.0, 1.0], [0.0, 1.0 + 1j])", ("x_knots", "complex")),
    ("MonotoneSpline(None, [0.0, 1.0])", ("z_knots", "None")),
    ("MonotoneSpline(np.array([0.0, 1.0]), np.array([0.0, 1.0 + 1j]))", ("x_knots", "complex")),
    ("InverseCDFMap('normal')", ("density",)),
    ("CDFMap(None)", ("density",)),
    ("Composed(cov1d.AffineMap(2.0), 'exp')", ("Composed", "the text")),
):
    case(f"cov1d.{_call}", lambda c=_call: eval(c, {**globals(), **vars(cov1d)}), raises(*_words))  # noqa: S307 - a fixed table of calls
for _call, _want in (
    ("pushforward_density(N01, cov1d.AffineMap(-2.0, 1.0), XS)", _affine_density(XS)),
    ("pushforward_density(N01, cov1d.AffineMap(-2.0, 1.0), np.zeros(0))", np.zeros(0)),
    ("pushforward_density(N01, cov1d.AffineMap(-2.0, 1.0), [[1.0, 3.0]])", _affine_density(np.array([[1.0, 3.0]]))),
    ("pushforward_density(N01, cov1d.AffineMap(-2.0, 1.0), [math.inf, -math.inf])", np.zeros(2)),
    ("pushforward_density(N01, cov1d.ExpMap(), [-1.0, 0.0])", np.zeros(2)),
    ("pushforward_log_density(N01, cov1d.ExpMap(), [-1.0])", np.array([-np.inf])),
    ("pushforward_density(cov1d.Normal(0.0, 1.0), cov1d.CDFMap(N01), [0.25, 0.5, 1.5])", np.array([1.0, 1.0, 0.0])),
    (
        "pushforward_density(cov1d.Uniform(), cov1d.InverseCDFMap(cov1d.Exponential(2.0)), [0.5])",
        np.array([2 * math.exp(-1.0)]),
    ),
    (
        "pushforward_density(N01, cov1d.AffineMap(1e-300), [1e-300])",
        np.array([1e300 / math.sqrt(2 * math.pi) * math.exp(-0.5)]),
    ),
    ("interval_mass_z(N01, 1.0, 0.0)", 0.3413447460685429),
    ("integrate(np.exp, 0.0, 1.0)", math.e - 1),
    ("integrate(np.exp, 1.0, 0.0)", 1 - math.e),
    ("interval_mass_x(N01, cov1d.ExpMap(), 1.0, math.e)", 0.3413447460685429),
):
    case(
        f"cov1d.{_call}",
        lambda c=_call: eval(c, {**globals(), **vars(cov1d)}),
        returns(array_close(_want, atol=1e-9), f"{_want!r}"),
    )  # noqa: S307
for _call, _words in (
    ("pushforward_density(N01, cov1d.AffineMap(2.0), [0.0, math.nan])", ("NaN",)),
    ("pushforward_density(N01, cov1d.AffineMap(2.0), 'x')", ("numbers", "the text")),
    ("pushforward_density(N01, cov1d.AffineMap(2.0), None)", ("numbers", "None")),
    ("pushforward_density(N01, cov1d.AffineMap(2.0), [1j])", ("complex",)),
    ("pushforward_density('normal', cov1d.AffineMap(2.0), XS)", ("base", "density")),
    ("pushforward_density(N01, lambda z: 2 * z, XS)", ("MonotoneMap",)),
    ("integrate(lambda x: 1 / 0, 0.0, 1.0)", ("integrand", "ZeroDivisionError")),
    ("integrate(math.exp, 0.0, 1.0)", ("np.exp",)),
    ("integrate(np.exp, 0.0, math.inf)", ("finite limits",)),
    ("integrate(np.exp, math.nan, 1.0)", ("lo", "finite")),
    ("integrate(np.exp, 0.0, 1.0, pieces=0)", ("pieces", "at least 1")),
    ("integrate('exp', 0.0, 1.0)", ("function", "the text")),
    ("integrate(lambda x: x * np.nan, 0.0, 1.0)", ("NaN",)),
    ("integrate(lambda x: x[:3], 0.0, 1.0)", ("shape",)),
    ("interval_mass_z(N01, 'a', 1.0)", ("a", "the text")),
    ("interval_mass_z(N01, math.nan, 1.0)", ("a", "finite")),
    ("interval_mass_z('normal', 0.0, 1.0)", ("base", "density")),
    ("check_invertible(lambda z: z**2)", ("not one-to-one",)),
    ("check_invertible(np.sin)", ("not one-to-one",)),
    ("check_invertible(lambda z: np.zeros_like(z))", ("flat",)),
    ("check_invertible(lambda z: z * np.nan)", ("NaN",)),
    ("check_invertible(np.tanh, n=2)", ("n", "at least 3")),
    ("check_invertible(np.tanh, 1.0, 0.0)", ("lo < hi",)),
    ("check_invertible(np.exp, -800.0, 800.0)", ("infinite",)),
    ("check_invertible(lambda z: np.floor(z))", ("flat",)),
    ("square_density_all_preimages(N01, [math.nan])", ("NaN",)),
    ("Normal().ppf([1.5])", ("between 0 and 1",)),
    ("Uniform(0.0, 2.0).ppf([-0.5])", ("between 0 and 1",)),
    ("Exponential(2.0).ppf([2.0])", ("between 0 and 1",)),
    ("Logistic().ppf([-1.0])", ("between 0 and 1",)),
    ("Normal().sample(np.random.default_rng(0), -1)", ("n", "at least 0")),
    ("Normal().sample(None, 5)", ("rng", "Generator")),
    ("Normal().sample(np.random.default_rng(0), 2.5)", ("n", "whole number")),
    ("Uniform().sample(np.random.default_rng(0), '3')", ("n", "the text")),
):
    case(f"cov1d.{_call}", lambda c=_call: eval(c, {**globals(), **vars(cov1d)}), raises(*_words))  # noqa: S307
case(
    "cov1d.check_invertible(np.tanh) passes a monotone map",
    lambda: cov1d.check_invertible(np.tanh),
    returns(lambda r: r is None, "None"),
)
case(
    "cov1d: a MonotoneSpline with decreasing knots is a decreasing map",
    lambda: cov1d.pushforward_density(N01, cov1d.MonotoneSpline([-1.0, 0.0, 1.0], [1.0, 0.0, -2.0]), XS),
    returns(
        lambda p: (
            np.all(np.isfinite(p))
            and np.all(p >= 0)
            and abs(
                cov1d.integrate(
                    lambda x: cov1d.pushforward_density(
                        N01, cov1d.MonotoneSpline([-1.0, 0.0, 1.0], [1.0, 0.0, -2.0]), x
                    ),
                    -30,
                    30,
                    breaks=[-2.0, 0.0, 1.0],
                )
                - 1
            )
            < 1e-9
        ),
        "a non-negative density integrating to 1",
    ),
)

M = [[1.0, 2.0], [3.0, 4.0]]
for _call, _want in (
    ("det2(M)", -2.0),
    ("det2(np.array(M, dtype=np.int64))", -2.0),
    ("rotation(math.pi / 2) @ [1.0, 0.0]", np.array([0.0, 1.0])),
    ("pushed_density_linear(2 * np.eye(2), np.zeros((0, 2)))", np.zeros(0)),
    ("pushed_density_linear(2 * np.eye(2), [[0.0, 0.0]])", np.array([1 / (8 * math.pi)])),
    ("pushed_density_linear(1e-100 * np.eye(2), [[0.0, 0.0]])", np.array([1e200 / (2 * math.pi)])),
    ("polygon_area(unit_square_image(M))", 2.0),
    ("polygon_area(np.zeros((0, 2)))", 0.0),
    ("get_map('swirl').det([[0.5, -1.0]])", np.array([1.0])),
    ("get_map('radial').inverse(get_map('radial').forward(np.array([[0.3, -2.0]])))", np.array([[0.3, -2.0]])),
    ("get_map('radial').forward([[0.0, 2.0]])", np.array([[0.0, 4.0]])),
    ("is_singular(1e-200 * np.eye(2))", False),
):
    case(
        f"linear2d.{_call}",
        lambda c=_call: eval(c, {**globals(), **vars(linear2d)}),
        returns(array_close(_want, atol=1e-12), f"{_want!r}"),
    )  # noqa: S307
for _call, _words in (
    ("det2(np.ones((3, 3)))", ("2x2", "(3, 3)")),
    ("det2([[1.0, math.nan], [0.0, 1.0]])", ("NaN",)),
    ("det2([[1j, 0.0], [0.0, 1.0]])", ("complex",)),
    ("det2('abcd')", ("matrix", "the text")),
    ("det2(None)", ("matrix", "None")),
    ("det2([[True, False], [False, True]])", ("True/False",)),
    ("det2([[1.0, 2.0], [3.0]])", ("rectangular",)),
    ("check_invertible([[1.0, 2.0], [2.0, 4.0]])", ("det A = 0", "line")),
    ("check_invertible([[1.0, 1.0], [1.0, 1.0 + 1e-15]])", ("0 up to rounding",)),
    ("check_invertible(np.zeros((2, 2)))", ("zero matrix",)),
    ("check_invertible(1e-200 * np.eye(2))", ("underflows",)),
    ("check_invertible(1e200 * np.eye(2))", ("overflows",)),
    ("pushed_density_linear(np.eye(2), np.zeros((4, 3)))", ("x", "(N, 2)")),
    ("pushed_density_linear(np.eye(2), [[math.nan, 0.0]])", ("x", "NaN")),
    ("pushed_density_linear(np.eye(2), [[0.0, 0.0]], base='normal')", ("base", "gaussian")),
    ("pushed_density_linear(np.eye(2), [[0.0, 0.0]], base=None)", ("base",)),
    ("pushed_density_grid(np.eye(2), n=0)", ("n", "at least 1")),
    ("pushed_density_grid(np.eye(2), n=5000)", ("n", "at most")),
    ("pushed_density_grid(np.eye(2), lo=1.0, hi=1.0)", ("lo < hi",)),
    ("pushed_density_grid(np.eye(2), n=2.5)", ("n", "whole number")),
    ("rotation(math.nan)", ("theta", "finite")),
    ("rotation('a')", ("theta", "the text")),
    ("apply_linear(np.eye(2), [1.0, 2.0])", ("z", "(N, 2)")),
    ("polygon_area([1.0, 2.0])", ("P", "(N, 2)")),
    ("get_map('spiral')", ("unknown map",)),
    ("get_map(None)", ("unknown map",)),
    ("get_map('radial').forward(np.array([1.0, 2.0]))", ("z", "(N, 2)")),
    ("get_map('swirl').inverse('abc')", ("x", "the text")),
    ("get_map('triangular').jacobian([[math.nan, 0.0]])", ("z", "NaN")),
    ("pushed_density_map(get_map('radial'), [[math.nan, 0.0]])", ("x", "NaN")),
    ("finite_difference_jacobian(np.sin, [[0.0, 0.0]], eps=0.0)", ("eps", "positive")),
    ("finite_difference_jacobian(np.sin, [[0.0, 0.0]], eps=math.nan)", ("eps", "finite")),
    ("cell_area_ratios(lambda z: z, n=0)", ("n", "at least 1")),
    ("cell_area_ratios(lambda z: z, sub=0)", ("sub", "at least 1")),
    ("cell_area_ratios(lambda z: z, lo=1.0, hi=1.0)", ("lo < hi",)),
    ("time_log_dets([4], repeats=0)", ("repeats", "at least 1")),
    ("time_log_dets([-1])", ("dims", "at least 1")),
    ("growth_ratio([])", ("times", "empty")),
    ("growth_ratio([0.0, 1.0])", ("times", "positive")),
    ("det_overflow_table([2], 'a')", ("value", "the text")),
    ("grid_lines(n_points=-1)", ("n_points", "at least")),
    ("bin_probabilities(get_map('radial'), np.zeros((0, 2)))", ("x_samples", "empty")),
    ("bin_probabilities(get_map('radial'), np.zeros((5, 2)), bins=0)", ("bins", "at least 1")),
    ("warp_lines(np.ones((2, 3)), grid_lines())", ("2x2",)),
):
    case(f"linear2d.{_call}", lambda c=_call: eval(c, {**globals(), **vars(linear2d)}), raises(*_words))  # noqa: S307
case(
    "linear2d.cell_area_ratios of the identity is 1 everywhere",
    lambda: linear2d.cell_area_ratios(lambda z: z, n=4)[1],
    returns(lambda r: r.shape == (16,) and np.allclose(r, 1.0), "16 ratios of 1"),
)
case(
    "linear2d.bin_probabilities of samples of the map sum to at most 1",
    lambda: linear2d.bin_probabilities(
        linear2d.get_map("swirl"), linear2d.get_map("swirl").forward(np.random.default_rng(0).standard_normal((500, 2)))
    ),
    returns(lambda r: 0.95 <= r[0].sum() <= 1.0 and 0.95 <= r[1].sum() <= 1.0, "both near 1"),
)

# --------------------------------------------------------------------------------------------------
# building blocks: nets, masks, the input policy itself, verify, claims
# --------------------------------------------------------------------------------------------------
for _call, _words in (
    ("MLP(0, 2)", ("in_dim", "at least 1")),
    ("MLP(2, 2, activation='relu')", ("activation", "the text")),
    ("MLP(2, 0)", ("out_dim", "at least 1")),
    ("randomise(MLP(2, 2), gen(), std=math.nan)", ("std", "finite")),
    ("randomise(MLP(2, 2), 'seed', std=0.5)", ("gen", "torch.Generator")),
    ("half_mask(1)", ("at least 2",)),
    ("alternating_mask('2')", ("dim", "the text")),
    ("checkerboard_mask(1, 1)", ("at least 2 pixels",)),
    ("channel_mask(3, 2)", ("even number of rows",)),
    ("channel_mask('4', 2)", ("height", "the text")),
    ("image_side(5)", ("square",)),
    ("image_side('4')", ("dim", "the text")),
    ("image_side(-4)", ("dim", "at least")),
    ("coupling_stack(2, 0)", ("at least one layer",)),
    ("coupling_stack(2, 2, mask='x')", ("mask", "alternating")),
    ("jacobian_matrix(lambda v: v, torch.zeros(2, 2))", ("one point",)),
    ("jacobian_matrix('f', torch.zeros(2))", ("fn", "function")),
    ("inputs.real_number(10**400, 'x')", ("too large",)),
    ("inputs.count(True, 'n')", ("n", "bool")),
    ("inputs.count(2**200, 'n', maximum=10)", ("n", "at most 10")),
    ("inputs.real_array([[1, 2], [3]], 'x')", ("rectangular",)),
    ("inputs.real_array(np.array(['a']), 'x')", ("numbers",)),
    ("inputs.log_scale_bound(-math.inf)", ("positive",)),
    ("inputs.positive_number(0, 'width')", ("width", "positive")),
    ("inputs.real_number([1.0, 2.0], 'x')", ("x", "list")),
    ("verify_bijector('affine', torch.zeros(2, 2))", ("Bijector",)),
    ("verify_bijector(Affine(2.0), [[math.nan, 0.0]])", ("NaN",)),
    ("autograd_log_det(lambda v: v, [[math.nan]])", ("NaN",)),
    ("claim('x', 0.5)", ("bound",)),
    ("claim('x', 'abc', 0, 1)", ("number",)),
    ("claim('x', 0.5, low='a')", ("low", "the text")),
    ("claim('x', 0.5, low=math.nan)", ("low", "finite")),
):
    case(_call, lambda c=_call: eval(c), raises(*_words))  # noqa: S307 - a fixed table of calls
case(
    "claim('x', NaN, 0, 1) fails its assertion",
    lambda: claim("x", math.nan, 0, 1),
    raises("does not hold", kind=AssertionError, own=False),
)
case(
    "verify_bijector finds a wrong log-det",
    lambda: verify_bijector(_WrongLogDet(), torch.randn(3, 2, dtype=F64)),
    returns(lambda p: any("log_det" in s and "autograd" in s for s in p), "a problem naming the log-det and autograd"),
)
case(
    "inputs.count(1e3, 'n') reads a whole float",
    lambda: inputs.count(1e3, "n"),
    returns(lambda n: n == 1000 and isinstance(n, int), "1000"),
)


class _WrongLogDet(Affine):
    """x = 2 z with log-det 0: the classic forgotten Jacobian."""

    def __init__(self):
        super().__init__(2.0, dtype=F64)

    def _forward_and_log_det(self, z):
        return 2 * z, z.new_zeros(z.shape[0])

    def _inverse_and_log_det(self, x):
        return x / 2, x.new_zeros(x.shape[0])


# --------------------------------------------------------------------------------------------------
# reverse KL: the target checked on the first batch (finite, one number per sample, with a gradient)
# --------------------------------------------------------------------------------------------------
def _positive_half(x):
    return torch.where(x[:, 0] > 0, -(x**2).sum(1), torch.full_like(x[:, 0], -math.inf))


for _target, _words in (
    (lambda x: x[:, 0] * math.nan, ("log_target", "nan", "finite")),
    (lambda x: torch.where(x[:, 0] > 1.0, math.nan, -(x**2).sum(1)), ("log_target", "nan", "of the flow's")),
    (lambda x: x[:, 0] * 0 - math.inf, ("log_target", "-inf", "p~ = 0")),
    (_positive_half, ("log_target", "-inf", "support")),
    (lambda x: x[:, 0] * 0 + math.inf, ("log_target", "inf", "finite")),
    (lambda x: -(x.detach() ** 2).sum(1), ("log_target", "no gradient", "detached")),
    (lambda x: torch.as_tensor(-(x.detach().numpy() ** 2).sum(1)), ("log_target", "no gradient")),
    (lambda x: torch.zeros(x.shape[0]), ("log_target", "no gradient")),
    (lambda x: -(x**2).sum(1).sqrt() - (x[:, 0] * 0).sqrt(), ("gradient", "NaN or infinite")),
    (lambda x: -(x**2).sum(1)[:, None], ("log_target", "one log-density per sample")),
    (lambda x: -(x**2).sum(), ("log_target", "one log-density per sample")),
    (lambda x: (-(x**2).sum(1)).tolist(), ("log_target", "tensor")),
    (lambda x: -(x**2).sum(1) + 0j, ("log_target", "complex64", "real numbers")),
    (lambda x: (x[:, 0] > 0).long(), ("log_target", "int64", "real numbers")),
):
    case(
        "train(objective=reverse_kl(a target that is not fit for it))",
        lambda t=_target: fit(data=None, objective=reverse_kl(t)),
        raises(*_words),
    )
for _target in (
    lambda x: -0.5 * (x**2).sum(1),
    lambda x: (-0.5 * (x**2).sum(1)).double(),  # float64 log-densities for a float32 flow
    lambda x: torch.logsumexp(torch.stack([-((x - 2) ** 2).sum(1), -((x + 2) ** 2).sum(1)]), 0),
):
    case(
        "train(objective=reverse_kl(a smooth, finite target))",
        lambda t=_target: fit(data=None, objective=reverse_kl(t)),
        returns(losses_ok(3), "3 finite losses"),
    )

for _kw, _words in (
    ({"loss_fn": lambda f, x: nll(f, x) + 0j}, ("loss_fn", "real number", "complex")),
    ({"loss_fn": lambda f: nll(f, DATA)}, ("loss_fn", "does not take")),
    ({"data": lambda n, g: torch.zeros(0, 2)}, ("sampler returned no points",)),
):
    case(f"train({', '.join(f'{k}={v!r}' for k, v in _kw.items())})", lambda kw=_kw: fit(**kw), raises(*_words))
case("a flow called like a layer, flow(x)", lambda: small_flow()(DATA), raises("not called directly", "log_prob"))
case(
    "a conditional flow called, cflow(x)", lambda: _cflow()(DATA), raises("not called directly", "log_prob(x, context)")
)

# --------------------------------------------------------------------------------------------------
# the limits of a dtype: overflow, splines too steep, saturating pixels, half-precision noise
# --------------------------------------------------------------------------------------------------
_STEEP = {"widths": [1.0, 1.0, 1.0], "heights": [1.0, 1.0, 1.0], "left": -1.5}


def _steep(ratio: float, dtype) -> RationalQuadraticSpline:
    w = torch.tensor(_STEEP["widths"], dtype=dtype)
    d = torch.tensor([1 / ratio, ratio, 1.0, 1 / ratio], dtype=dtype)
    return RationalQuadraticSpline.from_bins(w, w.clone(), d, left=-1.5)


def _agrees(bij, atol: float) -> bool:
    flow = Flow(standard_normal(1, bij.dtype), bij)
    with torch.no_grad():
        x, lp = flow.sample_and_log_prob(20_000, gen(3))
        return bool(torch.allclose(lp, flow.log_prob(x), atol=atol, rtol=0))


def _nan_parameters() -> Affine:
    layer = Affine([2.0, 1.0], dtype=F64)
    with torch.no_grad():
        layer.scale[0] = math.nan
    return layer


for _call, _expect in (
    ("_steep(1e6, F32)", raises("too steep", "float32", "1e+03")),
    ("_steep(1e4, F32)", raises("too steep", "float32")),
    ("_steep(1e9, F64)", raises("too steep", "float64", "1e+08")),
    ("_steep(10.0, torch.float16)", raises("float32 or float64")),
    ("_steep(1e6, torch.float16)", raises("derivatives", "infinity")),  # 1e6 overflows float16 itself
    ("_agrees(_steep(1e3, F32), atol=0.05)", returns(bool, "log_prob and sample_and_log_prob within 0.05 nats")),
    ("_agrees(_steep(1e6, F64), atol=1e-4)", returns(bool, "log_prob and sample_and_log_prob within 1e-4 nats")),
    (
        "RationalQuadraticSpline.from_bins([1.0, 1.0], [1.0, 1.0], [3.0, 1.0, 3.0]).float().forward([[3e38], [-3e38]])",
        raises("NaN or infinity", "float32", "float64"),
    ),
    (
        "RationalQuadraticSpline.from_bins([1.0, 1.0], [1.0, 1.0], [3.0, 1.0, 3.0]).float().inverse([[1e30]])",
        returns(lambda z: finite(z), "a finite point: the inverse divides by 3"),
    ),
    ("Affine(2.0, dtype=F32).forward([[3e38]])", raises("NaN or infinity", "float32")),
    ("Affine(0.5, dtype=F32).inverse([[3e38]])", raises("NaN or infinity", "float32")),
    ("_nan_parameters().forward([[1.0, 1.0]])", raises("parameters contain NaN")),
    ("Flow(standard_normal(2, F64), _nan_parameters()).log_prob([[1.0, 1.0]])", raises("parameters contain NaN")),
    ("Flow(standard_normal(2, F64), _nan_parameters()).sample(3)", raises("parameters contain NaN")),
    (
        "SplineCoupling(alternating_mask(2), conditioner=nn.Linear(1, 5), n_bins=4).forward(torch.zeros(3, 2))",
        raises("conditioner", "(3, 5)", "(batch, 11)"),
    ),
    (
        "SplineCoupling(alternating_mask(2), conditioner=lambda k: (k, k), n_bins=4).forward(torch.zeros(3, 2))",
        raises("conditioner", "one tensor"),
    ),
    ("SplineCoupling(alternating_mask(2), conditioner='net')", raises("conditioner", "the text")),
    ("AffineCoupling(alternating_mask(2), conditioner=lambda k: None).forward(torch.zeros(3, 2))", raises("None")),
    ("PixelLogit(17).forward(torch.tensor([[30.0, -30.0]], dtype=F32))", returns(finite, "finite pixels at the ends")),
    (
        "PixelLogit(17).inverse(PixelLogit(17).forward(torch.tensor([[30.0, 0.0]], dtype=F32)))",
        raises("end of its range", "float32", "17", "float64"),
    ),
    (
        "PixelLogit(17).inverse(PixelLogit(17).forward(torch.tensor([[30.0, -30.0]], dtype=F64)))",
        returns(
            lambda z: finite(z) and bool(torch.allclose(z, torch.tensor([[30.0, -30.0]], dtype=F64), atol=1e-3)),
            "z back",
        ),
    ),
    ("PixelLogit(17).inverse(torch.tensor([[0.5, 25.0]], dtype=F64))", raises("inside", "not pixels scaled")),
    (
        "dequantise(torch.full((200, 50), 16.0, dtype=torch.float16), 17, gen())",
        returns(lambda y: bool((y >= 16).all() and (y < 17).all()), "every value in [16, 17)"),
    ),
    (
        "dequantise(torch.full((2000, 1000), 16.0, dtype=F32), 17, gen())",
        returns(lambda y: bool((y >= 16).all() and (y < 17).all()), "every value of 2e6 draws in [16, 17)"),
    ),
    (
        "dequantise(torch.full((5, 5), 255.0, dtype=torch.bfloat16), 256, gen())",
        returns(lambda y: bool((y >= 255).all() and (y < 256).all()), "every value in [255, 256)"),
    ),
):
    case(_call, lambda c=_call: eval(c), _expect)  # noqa: S307 - a fixed table of calls

# --------------------------------------------------------------------------------------------------
# composed numpy maps: the image of a composition, and points outside it
# --------------------------------------------------------------------------------------------------
_COMPOSED = "cov1d.Composed(cov1d.ExpMap(), cov1d.AffineMap(-2.0, 1.0))"  # x = 1 - 2 e^z: image (-inf, 1)
for _call, _expect in (
    (f"{_COMPOSED}.image", returns(lambda im: im == (-math.inf, 1.0), "(-inf, 1)")),
    (f"{_COMPOSED}.inverse([2.0])", raises("outside the image", "(-inf, 1)")),
    (f"{_COMPOSED}.inverse([0.0, -3.0])", returns(array_close([-math.log(2.0), math.log(2.0)]), "log((1 - x) / 2)")),
    (f"cov1d.pushforward_density(cov1d.Normal(), {_COMPOSED}, [2.0, 1.5])", returns(array_close([0.0, 0.0]), "0")),
    (
        f"cov1d.pushforward_log_density(cov1d.Normal(), {_COMPOSED}, [2.0])",
        returns(lambda v: v[0] == -math.inf, "-inf"),
    ),
    (
        f"cov1d.interval_mass_x(cov1d.Normal(), {_COMPOSED}, -1.0, 5.0)",
        returns(lambda m: abs(m - 0.5) < 1e-6, "P(X > -1) = P(Z < 0) = 0.5"),
    ),
    ("cov1d.ExpMap().inverse([-1.0])", raises("outside the image", "(0, inf)")),
    ("cov1d.Composed(cov1d.AffineMap(1.0, -5.0), cov1d.CDFMap(cov1d.Exponential(1.0)))", raises("domain", "(0, inf)")),
    (
        "cov1d.Composed(cov1d.CDFMap(cov1d.Normal()), cov1d.InverseCDFMap(cov1d.Exponential(2.0))).image",
        returns(lambda im: im == (0.0, math.inf), "(0, inf)"),
    ),
):
    case(_call, lambda c=_call: eval(c), _expect)  # noqa: S307 - a fixed table of calls


# --------------------------------------------------------------------------------------------------
# what an entry point reads before it computes: the caller's functions (their arguments, their results),
# switches, dtypes, devices, sample counts of 0, and the lower-level functions lessonlib exports
# --------------------------------------------------------------------------------------------------
_M2, _Z2 = [[2.0, 1.0], [0.5, 1.5]], np.array([[0.5, -1.0], [1.0, 2.0]])
_PX = torch.randint(0, 3, (4, 16), generator=gen(2)).double()
_W3, _D4 = [0.5, 1.0, 0.7], [1.0, 0.5, 2.0, 1.0]


def _noise():
    return VariationalNoise(16, 3, n_layers=1, hidden=(4,))


def _dequantised_flow():
    return DequantisedFlow(make_image_flow((1, 4, 4), 1, 1, (4,)), 3)


def _strict(fn):
    """fn() with missed claims raising, as under the test command."""
    old = os.environ.get("LESSONLIB_STRICT_CLAIMS")
    os.environ["LESSONLIB_STRICT_CLAIMS"] = "1"
    try:
        return fn()
    finally:
        os.environ.pop("LESSONLIB_STRICT_CLAIMS") if old is None else os.environ.update(LESSONLIB_STRICT_CLAIMS=old)


def _gauss(x):
    return -0.5 * (x**2).sum(1)


for _call, _expect in (
    # flows and training: the caller's functions are checked for their arguments, results are named
    ("conditional().log_prob(X64, torch.zeros(3, device='meta'))", raises("context", "meta", ".cpu()")),
    ("small_flow().log_prob(torch.zeros(2, 2, device='meta'))", raises("meta", ".cpu()")),
    ("make_flow(2, 2, hidden=(8,), last=Affine([1.0, 2.0, 3.0]))", raises("last", "3 coordinates")),
    ("make_flow(2, 2, hidden=(8,), context_dim=2, base='Uniform(0, 1)')", raises("conditional", "Uniform")),
    ("make_flow(2, 2, hidden=(8,), context_dim=2, scale_to=DATA)", raises("conditional", "scale_to")),
    ("make_flow(2, 2, hidden=(8,), context_dim=2, last=Affine([1.0, 2.0]))", raises("conditional", "last")),
    ("make_flow(2, 2, hidden=(8,), context_dim=2, mask='half')", raises("conditional", "mask='half'")),
    ("fit(data=DATA * 1e30)", raises("step 1", "standardise", kind=Diverged, own=False)),
    ("fit(callback=lambda: None, callback_every=1)", raises("callback(step, result)")),
    ("fit(data=lambda n: torch.randn(n, 2))", raises("sampler(n, generator)")),
    ("fit(data=None, objective=lambda f, n: None)", raises("objective(model, n, generator)")),
    ("fit(data=None, objective=lambda f, n, g: None)", raises("the objective must return", "None")),
    ("fit(data=None, objective=lambda f, n, g: torch.tensor(math.nan))", raises("the objective", "gradient")),
    (
        "fit(data=None, objective=lambda f, n, g: (f.sample(n, g) * math.nan).sum())",
        raises("the objective returned nan at step 1"),
    ),
    ("fit(flow=nn.Linear(2, 2))", raises("log_prob", "Linear")),
    ("nll('flow', DATA)", raises("log_prob", "the text")),
    ("ValidationCurve('flow', DATA)", raises("log_prob", "the text")),
    ("reverse_kl(lambda x, c: _gauss(x))", raises("log_target(x)", "context")),
    ("reverse_kl(lambda x, c: _gauss(x), context=lambda n: torch.zeros(n, 3))", raises("context sampler")),
    ("reverse_kl(_gauss)(small_flow(), 0, gen())", raises("n = 0")),
    ("reverse_kl(_gauss)('flow', 5, gen())", raises("sample_and_log_prob", "the text")),
    ("fit(flow=_cflow(), data=None, objective=reverse_kl(_joint, context=torch.zeros(0, 3)))", raises("empty")),
    # toy targets, data, images
    ("toy2d.two_moons().entropy_estimate(n=1)", raises("n", "at least 2")),
    ("toy2d.checkerboard().entropy_estimate(n=1)", raises("n", "at least 2")),
    ("toy2d.banana().entropy_estimate(seed=None)", raises("seed", "None")),
    ("toy2d.kl_gap(small_flow().log_prob, _MOONS, n=50, dtype='float32')", raises("dtype", "'float32'")),
    ("toy2d.kl_gap(lambda: 0, _MOONS, n=50)", raises("log_q", "1 argument")),
    ("toy2d.grid_density(lambda x: x, (-2, 3, -1, 2), n=5)", raises("log_prob", "(25,)", "(25, 2)")),
    ("toy2d.grid_density(lambda x: x[:, 0] * math.nan, (-2, 3, -1, 2), n=5)", raises("log_prob", "NaN")),
    ("toy2d.grid_density('moons', (-2, 3, -1, 2), n=5)", raises("log_prob", "the text")),
    ("data.standardise(DATA, dtype='float32')", raises("dtype", "'float32'")),
    ("data.train_validation_split(np.zeros((0, 2)), 0)", raises("0 row", "at least 2")),
    ("data.dequantised(DATA, 0.1)(-1, gen())", raises("n", "at least 0")),
    ("InvertibleConv1x1((4, 2, 2), generator=0)", raises("generator", "torch.Generator")),
    ("InvertibleConv1x1((4, 2, 2), generator=gen()).matrix(like='a')", raises("like", "the text")),
    ("make_image_flow((1, 4, 4), 1, 1, (4,), last=Affine([1.0] * 15))", raises("last", "15", "16")),
    ("UniformNoise().sample_and_log_prob(_PX.tolist(), gen())", returns(lambda o: finite(*o), "u and log q")),
    ("_noise().sample_and_log_prob(_PX.tolist(), gen())", returns(lambda o: finite(*o), "u and log q")),
    ("_noise().sample_and_log_prob(_PX + 5, gen())", raises("pixels", "0..2")),
    ("_noise().sample_and_log_prob(_PX > 0, gen())", raises("True/False")),
    ("_noise().sample_and_log_prob(_PX[:, :8], gen())", raises("8 pixels", "16")),
    ("_noise().log_prob(torch.full((4, 16), 0.5), _PX + 7)", raises("pixels", "0..2")),
    ("_noise().context(_PX.tolist())", returns(lambda c: c.shape == (4, 16), "the context of 4 images")),
    ("_dequantised_flow().discrete_log_prob(_PX, n_noise=10**9)", raises("n_noise", "at most")),
    ("elbo_objective(_PX)(_dequantised_flow(), 0, gen())", raises("n = 0")),
    # splines, couplings, networks: the functions lessonlib exports beside its layers
    ("knots_from_bins(_W3, _W3, _D4, left=1e308)", raises("far from 0")),
    ("RationalQuadraticSpline([0.0, 1.0], [0.0, 1.0], [1.0, 1.0], learnable='yes')", raises("learnable", "True")),
    ("RationalQuadraticSpline([0.0, 1.0], [0.0, 1.0], [1.0, 1.0]).knots(like='a')", raises("like", "the text")),
    (
        "rq_spline(torch.zeros(3, 1), knots_from_bins(_W3, _W3, _D4, left=-1.0))",
        returns(lambda o: o[0].shape == (3, 1) and finite(*o), "one spline for every point"),
    ),
    ("rq_spline([[0.0]], knots_from_bins(_W3, _W3, _D4))", raises("torch tensor", "a list")),
    ("rq_spline(torch.zeros(3, 1), (1, 2, 3))", raises("Knots")),
    ("rq_spline(torch.zeros(3, 2), knots_from_bins([_W3] * 3, [_W3] * 3, [_D4] * 3))", raises("do not fit")),
    (
        "SplineCoupling([1.0, 0.0], conditioner=nn.Linear(2, 23)).forward(torch.zeros(3, 2))",
        raises("conditioner", "(3, 1)"),
    ),
    ("spline_parameter_count(1, 1, 0, (64,))", raises("n_bins", "at least 1")),
    ("spline_parameter_count(1, 1, 8, 64)", raises("hidden", "tuple")),
    ("spline_parameter_count(-1, 1, 8, (64,))", raises("n_kept", "at least 1")),
    ("spline_parameter_count('1', 1, 8, (64,))", raises("n_kept", "the text")),
    ("spline_parameter_count(1, 1, 2.5, (64,))", raises("n_bins", "whole number")),
    ("half_mask(2, flip='yes')", raises("flip", "True or False")),
    ("jacobian_matrix(lambda x: x.sum(), torch.ones(2))", raises("fn", "batch", "shape ()")),
    ("coupling_stack(2, 2, hidden=(4,), layer=nn.Linear)", raises("layer", "coupling layer class")),
    ("AffineCoupling([1.0, 0.0], conditioner=nn.Linear(3, 4)).forward(torch.zeros(3, 2))", raises("conditioner", "2")),
    ("AffineCoupling([1.0, 0.0], hidden=(4,)).scale_and_shift(torch.zeros(3, 3))", raises("conditioner", "(3, 3)")),
    ("AffineCoupling([1.0, 0.0], hidden=(4,)).scale_and_shift([[0.0, 0.0]])", raises("conditioner", "a list")),
    ("MLP(2, 2, hidden=(4,), zero_last='no')", raises("zero_last", "True or False")),
    ("randomise('mlp', gen(), 0.5)", raises("module", "the text")),
    ("bound_log_scale(torch.tensor([100.0]), 0.0)", raises("bound", "positive")),
    ("LULinear(2, permute=True, generator=0)", raises("generator", "torch.Generator")),
    ("LULinear(2, permute='yes')", raises("permute", "True or False")),
    ("LULinear(3).factors(like='a')", raises("like", "the text")),
    ("MADE(3, hidden=(4,)).mean_and_log_scale(torch.zeros(2, 4))", raises("(batch, 3)", "(2, 4)")),
    ("MADE(3, hidden=(4,)).mean_and_log_scale([[0.0, 0.0, 0.0]])", raises("(batch, 3)", "a list")),
    ("AutoregressiveAffine(2, hidden=(4,)).scale_and_shift(torch.zeros(3, 2), 5)", raises("i", "0 to 1", "5")),
    ("Affine([2.0, 3.0], learnable='no')", raises("learnable", "True or False")),
    ("Affine(2.0, dtype='float64')", raises("dtype", "torch.float64")),
    ("Linear(np.eye(2), dtype=torch.int64)", raises("dtype", "torch.int64")),
    (
        "Linear(np.eye(2)[::-1]).forward(torch.tensor([[1.0, 2.0]]))",
        returns(lambda x: torch.equal(x, torch.tensor([[2.0, 1.0]])), "the coordinates swapped"),
    ),
    ("Sigmoid.__doc__", returns(lambda d: "17 in float32" in d, "the float32 limit documented")),
    ("verify_bijector(Affine([2.0, 0.5], dtype=F64), torch.zeros(0, 2, dtype=F64))", raises("at least one point")),
    ("verify_bijector(Affine([2.0, 0.5], dtype=F64), torch.ones(3, 2, dtype=F64), atol=-1)", raises("atol=-1")),
    (
        "verify_bijector(Affine([2.0, 0.5], dtype=F64), torch.ones(3, 2, dtype=F64), atol='a')",
        raises("atol", "the text"),
    ),
    ("autograd_log_det('f', torch.ones(3, 2))", raises("fn", "the text")),
    ("autograd_log_det(lambda x: x[:, :1], torch.ones(3, 2, dtype=F64))", raises("(1, 2)", "not square")),
    ("autograd_log_det(lambda x: 2 * x, torch.zeros(0, 2, dtype=F64))", returns(lambda v: v.shape == (0,), "(0,)")),
    ("_strict(lambda: claim('a', 0.5, 1, 0))", raises("low must be below high")),
    ("claim('a', '0.5', 0, 1)", raises("value", "the text")),
    # the numpy maths: overflow, points outside a domain, the caller's functions and matrices
    ("cov1d.Uniform(-1e308, 1e308)", raises("wider than float64")),
    ("cov1d.AffineMap(1e300).forward([1e10])", raises("overflows float64", "10000000000.0")),
    ("cov1d.ExpMap().forward([800.0])", raises("overflows float64", "800")),
    ("cov1d.InverseCDFMap(cov1d.Uniform(0.0, 2.0)).inverse([3.0])", raises("outside the image", "(0, 2)")),
    ("cov1d.CDFMap(cov1d.Exponential(1.0)).forward([-1.0])", raises("outside the domain", "(0, inf)")),
    ("cov1d.integrate(np.exp, 0.0, 1.0, breaks=[math.nan])", raises("breaks", "NaN")),
    ("cov1d.integrate(np.exp, 0.0, 1.0, breaks='a')", raises("breaks", "the text")),
    ("cov1d.square_density_all_preimages('normal', [1.0])", raises("base", "the text")),
    ("cov1d.square_density_single_preimage(None, [1.0])", raises("base", "None")),
    ("linear2d.is_singular(_M2, rtol=-1.0)", raises("rtol", "[0, 1)")),
    ("linear2d.is_singular(_M2, rtol='a')", raises("rtol", "the text")),
    ("linear2d.check_invertible(_M2, rtol=2.0)", raises("rtol", "[0, 1)")),
    ("linear2d.polygon_area(linear2d.unit_square(), signed='yes')", raises("signed", "True or False")),
    ("linear2d.grid_lines(n_lines=0)", raises("n_lines", "at least 1")),
    ("linear2d.grid_lines(lo=2.0, hi=-2.0)", raises("lo < hi")),
    ("linear2d.warp_lines(lambda z: z[:, :1], linear2d.grid_lines(n_lines=3, n_points=5))", raises("f", "(5, 1)")),
    ("linear2d.warp_lines(lambda z: 1 / 0, linear2d.grid_lines(n_lines=3, n_points=5))", raises("ZeroDivisionError")),
    ("linear2d.warp_lines('f', linear2d.grid_lines(n_lines=3, n_points=5))", raises("function", "2x2", "the text")),
    ("linear2d.warp_lines(_M2, 'lines')", raises("lines", "the text")),
    ("linear2d.warp_lines(_M2, [np.zeros((4, 3))])", raises("lines", "(N, 2)")),
    ("linear2d.get_map('swirl').forward(_Z2, xp=torch)", raises("xp=torch", "tensor")),
    ("linear2d.get_map('swirl').forward(_Z2, xp='torch')", raises("xp", "the text")),
    ("linear2d.get_map('swirl').forward([[1e300, 0.0]])", raises("not finite", "float64")),
    ("linear2d.pushed_density_map('swirl', _Z2)", raises("Map2D", "the text")),
    ("linear2d.bin_probabilities('radial', _Z2, bins=4)", raises("Map2D", "the text")),
    ("linear2d.finite_difference_jacobian(lambda z: z[:, :1], _Z2)", raises("f", "(2, 1)")),
    ("linear2d.finite_difference_jacobian('f', _Z2)", raises("function", "the text")),
    ("linear2d.finite_difference_jacobian(lambda z: 1 / 0, _Z2)", raises("ZeroDivisionError")),
    ("linear2d.cell_area_ratios(_M2, n=3, sub=2)", raises("function", "list")),
    ("linear2d.cell_area_ratios(lambda z: z[:, :1], n=3, sub=2)", raises("f", "(72, 1)")),
    ("linear2d.cell_area_ratios('f')", raises("function", "the text")),
    ("linear2d.time_log_dets([])", raises("dims", "empty")),
    ("linear2d.time_log_dets([2], dense='np')", raises("dense", "the text")),
    ("linear2d.det_overflow_table(None, 10.0)", raises("dims", "None")),
):
    case(_call, lambda c=_call: eval(c), _expect)  # noqa: S307 - a fixed table of calls


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.test_id)
def test_odd_input_gets_a_right_result_or_a_clear_error(case, tmp_path):
    check_case(case, tmp_path)


def test_the_probe_is_broad():
    assert len(CASES) >= 600


if __name__ == "__main__":
    main(CASES)
