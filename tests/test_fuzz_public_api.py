"""Odd inputs thrown at the public API: every answer is a result or lessonlib's own clear error.

For each entry point (every registered bijector, Flow, training, the numpy maths of cov1d and linear2d,
every exercise checker) hypothesis draws inputs of every kind: numbers of every size and sign, NaN and
infinity, text, True/False, None, complex numbers, ragged lists, arrays and tensors of many dtypes and
shapes, functions that raise or return garbage. A test fails on

* any exception that is not a ValueError or TypeError, with a message, raised by a ``raise`` statement in
  lessonlib's own code (a torch or numpy error surfacing from inside lessonlib counts as a failure; an
  exception raised by a sampler or loss function the test itself passed to ``train`` is the caller's);
* a non-finite result from finite input in range (|values| <= 10, the right shape);
* a checker that raises, returns something other than a CheckResult, calls a non-None answer "not
  attempted", or reports its own failure.

The examples are derandomised (tests/conftest.py), so a run is the same on every machine.
"""

from __future__ import annotations

import importlib
import inspect
import math
import pkgutil
import traceback
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lessonlib  # noqa: E402
from lessonlib import cov1d, linear2d
from lessonlib.bijectors import EXAMPLES
from lessonlib.checks import CHECKER_FAILED, CheckResult
from lessonlib.flows import LAYERS, make_flow
from lessonlib.training import reverse_kl, train

for _core in pkgutil.iter_modules(lessonlib.__path__, "lessonlib."):  # every core module's examples get registered
    if not _core.ispkg:
        importlib.import_module(_core.name)

ROOT = Path(__file__).resolve().parent.parent
LESSONLIB = str(ROOT / "lessonlib")


def fuzz(n: int) -> settings:
    """The course profile (deterministic), with ``n`` examples; the five tests draw about 300 in all."""
    return settings(max_examples=n, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


# --------------------------------------------------------------------------------------------------
# what counts as a clear answer
# --------------------------------------------------------------------------------------------------
def assert_own_error(e: BaseException) -> None:
    """Fail unless ``e`` is a ValueError/TypeError with a message, raised by a raise statement in lessonlib.

    An exception raised inside a function this test passed in (a sampler, a loss) is the caller's own and
    passes through as it is, as in any Python library; the checkers and the numpy maths, which students
    call with their own functions, report those as lessonlib errors instead.
    """
    last = traceback.extract_tb(e.__traceback__)[-1]
    if last.filename == __file__:
        return
    own = last.filename.startswith(LESSONLIB) and (last.line or "").lstrip().startswith("raise")
    assert isinstance(e, (ValueError, TypeError)) and str(e).strip() and own, (
        f"{type(e).__name__} from {last.filename}:{last.lineno} ({last.line!r}): {e}"
    )


def outcome(fn, *args, **kwargs):
    """fn(...)'s result, or None after checking that the error it raised is lessonlib's own."""
    try:
        return fn(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - the point is to look at every exception
        assert_own_error(e)
        return None


def all_finite(*tensors) -> bool:
    return all(bool(torch.isfinite(torch.as_tensor(t)).all()) for t in tensors)


# --------------------------------------------------------------------------------------------------
# odd inputs
# --------------------------------------------------------------------------------------------------
DTYPES = [torch.float32, torch.float64, torch.int64, torch.bool, torch.complex64, torch.bfloat16, torch.float16]


def raising(value):
    def fn(*args):
        raise value

    return fn


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.just(10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.complex_numbers(max_magnitude=1e6),
    st.text(max_size=5),
    st.binary(max_size=3),
    st.just(Ellipsis),
    st.just({"a": 1}),
    st.just(object()),
)
arrays = hnp.arrays(
    dtype=st.sampled_from([np.float64, np.float32, np.int64, np.bool_, np.complex128]),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
)
tensors = st.builds(
    lambda a, dtype: torch.as_tensor(np.asarray(a, dtype=np.float64)).to(dtype),
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
        elements=st.floats(-1e6, 1e6) | st.sampled_from([math.nan, math.inf, -math.inf]),
    ),
    st.sampled_from(DTYPES),
)
ragged = st.lists(st.one_of(st.floats(-5, 5), st.lists(st.floats(-5, 5), max_size=3), st.text(max_size=2)), max_size=4)
functions = st.one_of(
    st.builds(lambda v: lambda *a: v, scalars),
    st.sampled_from(
        [
            raising(ZeroDivisionError("boom")),
            raising(RuntimeError("shape")),
            raising(KeyError("k")),
            lambda *a: a[0] * np.nan if a and hasattr(a[0], "__mul__") else None,
            lambda *a: (1, 2, 3),
        ]
    ),
)
odd = st.one_of(scalars, arrays, tensors, ragged, functions)


def _as_kind(values: np.ndarray, kind: str):
    if kind == "list" and len(values):  # an empty list has no second dimension: [] cannot say (0, D)
        return values.tolist()
    return values if kind in ("numpy", "list") else torch.as_tensor(values).to(getattr(torch, kind))


def batches(dim: int, low: float = -10.0, high: float = 10.0):
    """Valid batches in range (finite, in [low, high], shape (B, dim), B from 0): a tensor of some dtype, an array or a list."""
    values = hnp.arrays(np.float64, st.tuples(st.integers(0, 5), st.just(dim)), elements=st.floats(low, high))
    return st.builds(_as_kind, values, st.sampled_from(["float32", "float64", "numpy", "list"]))


# --------------------------------------------------------------------------------------------------
# bijectors and flows
# --------------------------------------------------------------------------------------------------
BIJECTORS = {
    name: factory(factory.dims[-1], torch.Generator().manual_seed(0)) for name, factory in sorted(EXAMPLES.items())
}
#: Where a direction's input must lie, when not the whole real line: PixelLogit's inverse takes pixels in [0, levels).
DOMAINS = {("PixelLogit", "inverse_and_log_det"): (0.0, BIJECTORS["PixelLogit"].levels - 0.01)}


@fuzz(60)
@given(
    name=st.sampled_from(sorted(BIJECTORS)),
    direction=st.sampled_from(["forward_and_log_det", "inverse_and_log_det"]),
    good=st.booleans(),
    data=st.data(),
)
def test_bijectors_answer_odd_input_clearly_and_good_input_finitely(name, direction, good, data):
    bij = BIJECTORS[name]
    dim = bij.dim or 2
    x = data.draw(batches(dim, *DOMAINS.get((name, direction), (-10.0, 10.0))) if good else odd)
    with torch.no_grad():
        out = outcome(getattr(bij, direction), x)
    if good:
        assert out is not None, f"{name}.{direction} refused a finite batch in range"
        points, log_det = out
        n = len(x)
        assert tuple(points.shape) == (n, dim) and tuple(log_det.shape) == (n,)
        assert all_finite(points, log_det), f"{name}.{direction}: non-finite output from finite input"


FLOWS = {layer: make_flow(2, 2, layer, hidden=(8,)) for layer in LAYERS}


@fuzz(40)
@given(
    layer=st.sampled_from(LAYERS),
    method=st.sampled_from(["log_prob", "sample", "sample_and_log_prob"]),
    good=st.booleans(),
    data=st.data(),
)
def test_flows_answer_odd_input_clearly_and_good_input_finitely(layer, method, good, data):
    flow = FLOWS[layer]
    if method == "log_prob":
        arg = data.draw(batches(2) if good else odd)
    else:
        arg = data.draw(st.integers(0, 5) if good else st.one_of(odd, st.integers(-5, -1)))
    with torch.no_grad():
        out = outcome(getattr(flow, method), arg)
    if good:
        assert out is not None and all_finite(*(out if isinstance(out, tuple) else (out,)))


CONDITIONAL = make_flow(2, 2, hidden=(8,), context_dim=3)


def _contexts(n: int):
    """Valid contexts for n points: one (3,) for all, or one per point (n, 3), as a tensor, an array or a list."""
    shapes = st.sampled_from([(3,), (n, 3)])
    values = shapes.flatmap(lambda shape: hnp.arrays(np.float64, shape, elements=st.floats(-5, 5)))
    return st.builds(_as_kind, values, st.sampled_from(["float32", "float64", "numpy", "list"]))


@fuzz(40)
@given(method=st.sampled_from(["log_prob", "sample", "sample_and_log_prob"]), good=st.booleans(), data=st.data())
def test_conditional_flows_answer_odd_input_clearly_and_good_input_finitely(method, good, data):
    n = data.draw(st.integers(1, 5))
    if method == "log_prob":
        first = data.draw(batches(2).filter(lambda b: len(b) == n) if good else st.one_of(odd, batches(2)))
    else:
        first = n if good else data.draw(st.one_of(odd, st.integers(-5, 5)))
    context = data.draw(_contexts(n) if good else st.one_of(odd, _contexts(n), st.none()))
    with torch.no_grad():
        out = outcome(getattr(CONDITIONAL, method), first, context)
    if good:
        assert out is not None and all_finite(*(out if isinstance(out, tuple) else (out,)))


@fuzz(30)
@given(target=st.one_of(functions, st.sampled_from([lambda x: x.sum(1) * np.nan, lambda x: -(x.detach() ** 2).sum(1)])))
def test_reverse_kl_answers_odd_targets_clearly(target):
    flow = make_flow(2, 1, hidden=(4,), seed=0)
    result = outcome(train, flow, objective=reverse_kl(target), steps=2, batch_size=16)
    assert all(torch.isfinite(p).all() for p in flow.parameters()), "training left non-finite parameters"
    if result is not None:
        assert all(math.isfinite(v) for v in result.losses)


@fuzz(30)
@given(data=st.data(), which=st.sampled_from(["data", "steps", "lr", "batch_size", "seed", "callback_every"]))
def test_training_answers_odd_settings_clearly(data, which):
    flow = make_flow(2, 1, hidden=(4,), seed=0)
    args = {
        "data": torch.randn(20, 2, generator=torch.Generator().manual_seed(1)),
        "steps": 2,
        "lr": 1e-2,
        "batch_size": 8,
        "seed": 0,
        "callback_every": 1,
    }
    args[which] = data.draw(st.one_of(odd, st.integers(-3, 3), st.floats(-1e40, 1e40)))
    result = outcome(train, flow, **args)
    assert all(torch.isfinite(p).all() for p in flow.parameters()), "training left non-finite parameters"
    if result is not None:
        assert all(math.isfinite(v) for v in result.losses)


# --------------------------------------------------------------------------------------------------
# the numpy maths
# --------------------------------------------------------------------------------------------------
NUMPY_CALLS = {
    "AffineMap": lambda a, b: cov1d.AffineMap(a, b),
    "Normal": lambda a, b: cov1d.Normal(a, b),
    "Uniform": lambda a, b: cov1d.Uniform(a, b),
    "TanhMap": lambda a, b: cov1d.TanhMap(a, b),
    "pushforward_density": lambda a, b: cov1d.pushforward_density(cov1d.Normal(), cov1d.AffineMap(-2.0, 1.0), a),
    "pushforward_log_density": lambda a, b: cov1d.pushforward_log_density(cov1d.Normal(), cov1d.ExpMap(), a),
    "check_invertible": lambda a, b: cov1d.check_invertible(a),
    "integrate": lambda a, b: cov1d.integrate(a if callable(a) else np.exp, 0.0, 1.0 if b is None else b),
    "interval_mass_z": lambda a, b: cov1d.interval_mass_z(cov1d.Normal(), a, b),
    "linear2d.check_invertible": lambda a, b: linear2d.check_invertible(a),
    "det2": lambda a, b: linear2d.det2(a),
    "pushed_density_linear": lambda a, b: linear2d.pushed_density_linear([[1.0, 0.5], [0.2, 2.0]], a),
    "gaussian_density": lambda a, b: linear2d.gaussian_density(a),
    "rotation": lambda a, b: linear2d.rotation(a),
    "pushed_density_grid": lambda a, b: linear2d.pushed_density_grid(np.eye(2), n=a),
}


@fuzz(60)
@given(name=st.sampled_from(sorted(NUMPY_CALLS)), a=odd, b=odd)
def test_the_numpy_maths_answers_odd_input_clearly(name, a, b):
    with np.errstate(all="ignore"):
        outcome(NUMPY_CALLS[name], a, b)


@fuzz(30)
@given(
    x=hnp.arrays(np.float64, st.integers(0, 6), elements=st.floats(-10, 10)),
    A=hnp.arrays(np.float64, (2, 2), elements=st.floats(-10, 10)),
)
def test_the_numpy_maths_is_finite_on_finite_input_in_range(x, A):
    for fmap in (cov1d.AffineMap(-2.0, 1.0), cov1d.TanhMap(0.8), cov1d.ExpMap()):
        p = cov1d.pushforward_density(cov1d.Normal(), fmap, x)
        assert p.shape == x.shape and np.all(np.isfinite(p)) and np.all(p >= 0)
    points = np.column_stack([x, x[::-1]]) if x.size else np.zeros((0, 2))
    density = outcome(linear2d.pushed_density_linear, A, points)
    if density is not None:  # a singular A is refused; any other gives finite densities
        assert density.shape == (len(points),) and np.all(np.isfinite(density))


# --------------------------------------------------------------------------------------------------
# every exercise checker
# --------------------------------------------------------------------------------------------------
def all_checkers() -> dict[str, object]:
    found = {}
    for path in sorted((ROOT / "lessonlib" / "lessons").glob("*/exercises.py")):
        module = importlib.import_module(f"lessonlib.lessons.{path.parent.name}.exercises")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("check_") and fn.__module__ == module.__name__:
                found[f"{path.parent.name}.{name}"] = fn
    return found


CHECKERS = all_checkers()


def test_every_checker_goes_through_the_checker_core():
    assert len(CHECKERS) >= 21
    assert [name for name, fn in CHECKERS.items() if not getattr(fn, "is_checker", False)] == []


#: Answers that are iterables numpy cannot read by itself: generators, maps, a dict's values, endless iterators.
iterables = st.one_of(
    st.builds(
        lambda v: (x for x in v), st.lists(st.one_of(scalars, st.lists(st.floats(-5, 5), max_size=4)), max_size=5)
    ),
    st.builds(lambda v: map(float, v), st.lists(st.floats(allow_nan=True), max_size=5)),
    st.builds(lambda v: dict(enumerate(v)).values(), st.lists(st.floats(-5, 5), max_size=5)),
    st.sampled_from([range(3), range(10**20)]),
    st.builds(lambda: iter(int, 1)),
)


@fuzz(120)
@given(name=st.sampled_from(sorted(CHECKERS)), answer=st.one_of(odd, iterables))
def test_every_checker_answers_every_answer_with_feedback(name, answer):
    try:
        result = CHECKERS[name](answer)
    except Exception as e:  # noqa: BLE001
        pytest.fail(f"{name} raised {type(e).__name__}: {e}")
    assert isinstance(result, CheckResult), f"{name} returned {type(result).__name__}"
    assert CHECKER_FAILED not in result.message, result.message
    if answer is None:
        assert "not attempted" in result.message and not result
    else:
        assert "not attempted" not in result.message, f"{name}({answer!r}): {result.message}"
