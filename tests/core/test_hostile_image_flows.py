"""A hostile probe of the image-flow API (squeeze, ActNorm, 1x1 convolution, multi-scale flows, dequantisation).

Each case is one call with an odd input and its outcome stated in advance: lessonlib's own ValueError or
TypeError whose message names the cause, or a result that passes a stated check. The harness is
tests/hostile.py, as for tests/core/test_hostile_inputs.py.

    python -m tests.core.test_hostile_image_flows      prints the cases that are not right, and the tally
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lessonlib.bijectors import Affine
from lessonlib.dequantisation import DequantisedFlow, UniformNoise, VariationalNoise, elbo_objective
from lessonlib.flows import make_flow
from lessonlib.image_layers import ActNorm, InvertibleConv1x1, Squeeze, image_shape, initialise_actnorm
from lessonlib.images import PixelLogit
from lessonlib.multiscale import FactorOut, MultiScaleFlow, glow_step, make_image_flow
from tests.hostile import Case, check_case, main, raises, returns

F32, F64 = torch.float32, torch.float64
CASES: list[Case] = []


def case(id: str, call, expect) -> None:
    CASES.append(Case(id, call, expect))


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def finite(*ts) -> bool:
    return all(bool(torch.isfinite(torch.as_tensor(t)).all()) for t in ts)


def pair(n: int, d: int):
    """Check for (points, log_det) of shapes (n, d) and (n,), finite."""
    return lambda out: tuple(out[0].shape) == (n, d) and tuple(out[1].shape) == (n,) and finite(*out)


def small_flow(levels: int = 2, dtype=F64) -> MultiScaleFlow:
    return make_image_flow((1, 4, 4), levels, 1, (8,), last=PixelLogit(17), dtype=dtype)


PIXELS = torch.tensor([[0.0, 16.0, 3.0, 5.0] * 4, [1.0, 2.0, 0.0, 9.0] * 4])  # two 4 x 4 images, grey levels 0..16


# --------------------------------------------------------------------------------------------------
# image shapes
# --------------------------------------------------------------------------------------------------
for _shape, _words in (
    ((1, 8), ("three whole numbers", "length 2")),
    ("1x8x8", ("three whole numbers",)),
    (None, ("three whole numbers",)),
    ((0, 8, 8), ("channels",)),
    ((1, -8, 8), ("height",)),
    ((1, 8, 8.5), ("width",)),
    ((1, "8", 8), ("height",)),
):
    case(f"image_shape({_shape!r})", lambda s=_shape: image_shape(s), raises(*_words))
case(
    "image_shape([1, 8.0, 8]) reads whole floats",
    lambda: image_shape([1, 8.0, 8]),
    returns(lambda s: s.dim == 64, "64"),
)
case("Squeeze((1, 7, 8))", lambda: Squeeze((1, 7, 8)), raises("even", "7 x 8"))

# --------------------------------------------------------------------------------------------------
# the layers on odd batches
# --------------------------------------------------------------------------------------------------
LAYERS = {
    "Squeeze": lambda: Squeeze((1, 4, 4)).double(),
    "ActNorm": lambda: ActNorm((4, 2, 2), dtype=F64),
    "InvertibleConv1x1": lambda: InvertibleConv1x1((4, 2, 2), gen(1), dtype=F64),
}
for _name, _make in LAYERS.items():
    for _method in ("forward_and_log_det", "inverse_and_log_det"):
        _id = f"{_name}.{_method}"
        case(
            f"{_id}(15 coordinates)", lambda m=_make, f=_method: getattr(m(), f)(torch.zeros(2, 15)), raises("15", "16")
        )
        case(f"{_id}(one image, 1D)", lambda m=_make, f=_method: getattr(m(), f)(torch.zeros(16)), raises("shape"))
        case(
            f"{_id}(NaN)",
            lambda m=_make, f=_method: getattr(m(), f)(torch.full((2, 16), math.nan)),
            raises("NaN"),
        )
        case(
            f"{_id}(empty batch)",
            lambda m=_make, f=_method: getattr(m(), f)(torch.zeros(0, 16)),
            returns(pair(0, 16), "empty"),
        )
        case(
            f"{_id}(a list of ints)",
            lambda m=_make, f=_method: getattr(m(), f)([list(range(16))] * 3),
            returns(pair(3, 16), "(3, 16) and (3,)"),
        )
        case(
            f"{_id}(float32 input to a float64 layer)",
            lambda m=_make, f=_method: getattr(m(), f)(torch.randn(3, 16, generator=gen(), dtype=F32)),
            returns(
                lambda out, n=_name: pair(3, 16)(out) and out[0].dtype == (F32 if n == "Squeeze" else F64),
                "results in the layer's dtype (a squeeze, without parameters, keeps the input's)",
            ),
        )
        case(f"{_id}(complex)", lambda m=_make, f=_method: getattr(m(), f)(torch.zeros(2, 16) * 1j), raises("complex"))

# --------------------------------------------------------------------------------------------------
# ActNorm's initialisation
# --------------------------------------------------------------------------------------------------
case(
    "ActNorm.initialise_from(a batch of one image)",
    lambda: ActNorm((1, 2, 2)).initialise_from(torch.ones(1, 4)),
    raises("at least 2"),
)
case(
    "ActNorm.initialise_from(NaN)",
    lambda: ActNorm((1, 2, 2)).initialise_from(torch.full((3, 4), math.nan)),
    raises("NaN"),
)
case(
    "ActNorm.initialise_from(wrong size)",
    lambda: ActNorm((1, 2, 2)).initialise_from(torch.ones(3, 5)),
    raises("5", "4"),
)


def _constant_channel():
    layer = ActNorm((2, 1, 1), dtype=F64)
    layer.initialise_from(torch.tensor([[1.0, 0.0], [1.0, 2.0], [1.0, 4.0]]))
    with torch.no_grad():
        return layer.inverse_and_log_det(torch.tensor([[1.0, 2.0]]))


case(
    "ActNorm initialised on a channel that is constant in the batch",
    _constant_channel,
    returns(lambda out: finite(*out) and float(out[0][0, 0]) == 0.0, "finite, the constant mapped to 0"),
)
case(
    "initialise_actnorm(not a flow)",
    lambda: initialise_actnorm(ActNorm((1, 2, 2)), torch.ones(3, 4)),
    raises("log_prob"),
)
case(
    "initialise_actnorm(flow, NaN data)",
    lambda: initialise_actnorm(small_flow(), torch.full((4, 16), math.nan)),
    raises("NaN"),
)
case(
    "initialise_actnorm(flow, pixels of the wrong size)",
    lambda: initialise_actnorm(small_flow(), torch.full((4, 15), 3.5)),
    raises("15", "16"),
)


def _one_image_then_a_batch():
    """A refused batch of one leaves the layers as they were: a later call with a good batch initialises them."""
    flow = small_flow()
    try:
        initialise_actnorm(flow, torch.full((1, 16), 3.5))
    except ValueError:
        pass
    return len(initialise_actnorm(flow, 16.9 * torch.rand(8, 16, generator=gen(), dtype=F64)))


case(
    "initialise_actnorm(flow, one image)",
    lambda: initialise_actnorm(small_flow(), torch.full((1, 16), 3.5)),
    raises("at least 2"),
)
case("initialise_actnorm after a refused call", _one_image_then_a_batch, returns(lambda n: n == 2, "2 layers"))
case(
    "initialise_actnorm(a flow without ActNorm)",
    lambda: initialise_actnorm(make_flow(2, 2), torch.randn(4, 2)),
    returns(lambda met: met == [], "no layer"),
)

# --------------------------------------------------------------------------------------------------
# multi-scale flows
# --------------------------------------------------------------------------------------------------
for _kwargs, _words in (
    ({"levels": 4}, ("level 4", "fewer levels")),
    ({"shape": (1, 6, 6), "levels": 2}, ("3 x 3", "fewer levels")),
    ({"shape": (1, 8)}, ("three whole numbers",)),
    ({"levels": 0}, ("levels",)),
    ({"steps": -1}, ("steps",)),
    ({"steps": 2.5}, ("steps",)),
    ({"hidden": "64"}, ("hidden",)),
    ({"seed": "a"}, ("seed",)),
    ({"last": "PixelLogit"}, ("last", "Bijector")),
    ({"dtype": torch.int32}, ("dtype", "float")),
):
    case(
        f"make_image_flow(**{_kwargs!r})", lambda kw=_kwargs: make_image_flow(**{"hidden": (8,), **kw}), raises(*_words)
    )
case("glow_step((3, 2, 2))", lambda: glow_step((3, 2, 2), (8,)), raises("even number", "3"))
case("FactorOut(a function, 4)", lambda: FactorOut(lambda z: z, 4), raises("Bijector"))
case("FactorOut(a 3D map, 3)", lambda: FactorOut(Affine(torch.ones(3)), 3), raises("fewer than dim"))
case(
    "MultiScaleFlow.split(wrong size)",
    lambda: small_flow().split(torch.zeros(2, 15)),
    raises("15", "16"),
)
case(
    "MultiScaleFlow.join(a level missing)",
    lambda: small_flow().join({"level 1": torch.zeros(2, 8)}),
    raises("one block per level"),
)
case(
    "MultiScaleFlow.join(blocks of different batch sizes)",
    lambda: small_flow().join({"level 1": torch.zeros(2, 8), "level 2": torch.zeros(3, 8)}),
    raises("level 2", "rows"),
)
case(
    "MultiScaleFlow.join(a block of the wrong width)",
    lambda: small_flow().join({"level 1": torch.zeros(2, 8), "level 2": torch.zeros(2, 7)}),
    raises("level 2", "8"),
)
case(
    "MultiScaleFlow.log_prob_by_level(NaN)",
    lambda: small_flow().log_prob_by_level(torch.full((2, 16), math.nan)),
    raises("NaN"),
)
case(
    "MultiScaleFlow.log_prob_by_level(numpy pixels)",
    lambda: small_flow().log_prob_by_level(np.full((2, 16), 3.5)),
    returns(lambda out: set(out[0]) == {"level 1", "level 2"} and finite(out[1], *out[0].values()), "two terms"),
)

# --------------------------------------------------------------------------------------------------
# dequantisation
# --------------------------------------------------------------------------------------------------
case("VariationalNoise(dim=1)", lambda: VariationalNoise(1, 17), raises("dim"))
case("VariationalNoise(levels=1)", lambda: VariationalNoise(16, 1), raises("levels"))
case("VariationalNoise(hidden='64')", lambda: VariationalNoise(16, 17, hidden="64"), raises("hidden"))
case("DequantisedFlow(a bijector)", lambda: DequantisedFlow(Affine(torch.ones(16)), 17), raises("Flow"))
case("DequantisedFlow(flow, noise='uniform')", lambda: DequantisedFlow(small_flow(), 17, "uniform"), raises("noise"))
case(
    "DequantisedFlow(16-pixel flow, noise for 64 pixels)",
    lambda: DequantisedFlow(small_flow(), 17, VariationalNoise(64, 17, 1, (8,), dtype=F64)),
    raises("64", "16"),
)
case(
    "DequantisedFlow(flow, levels=17, noise for 256 levels)",
    lambda: DequantisedFlow(small_flow(), 17, VariationalNoise(16, 256, 1, (8,), dtype=F64)),
    raises("256", "17"),
)
MODELS = {
    "uniform": lambda: DequantisedFlow(small_flow(), 17),
    "learned": lambda: DequantisedFlow(small_flow(), 17, VariationalNoise(16, 17, 1, (8,), dtype=F64)),
}
for _kind, _model in MODELS.items():
    case(
        f"{_kind}: elbo(pixels 0..16)",
        lambda m=_model: m().elbo(PIXELS, gen()),
        returns(lambda v: v.shape == (2,) and finite(v), "2 finite bounds"),
    )
    case(
        f"{_kind}: elbo(int pixels)",
        lambda m=_model: m().elbo(PIXELS.long(), gen()),
        returns(lambda v: finite(v), "finite"),
    )
    case(
        f"{_kind}: elbo(numpy pixels)",
        lambda m=_model: m().elbo(PIXELS.numpy(), gen()),
        returns(lambda v: v.shape == (2,) and finite(v), "2 finite bounds"),
    )
    case(
        f"{_kind}: elbo(empty batch)",
        lambda m=_model: m().elbo(PIXELS[:0], gen()),
        returns(lambda v: v.shape == (0,), "empty"),
    )
    case(f"{_kind}: elbo(a pixel of 17)", lambda m=_model: m().elbo(PIXELS + 1, gen()), raises("0..16", "17"))
    case(f"{_kind}: elbo(dequantised pixels)", lambda m=_model: m().elbo(PIXELS + 0.5, gen()), raises("whole numbers"))
    case(f"{_kind}: elbo(15 pixels)", lambda m=_model: m().elbo(PIXELS[:, :15], gen()), raises("15", "16"))
    case(f"{_kind}: elbo(NaN)", lambda m=_model: m().elbo(PIXELS * math.nan, gen()), raises("NaN"))
    case(f"{_kind}: elbo(one image, 1D)", lambda m=_model: m().elbo(PIXELS[0], gen()), raises("shape"))
    case(
        f"{_kind}: discrete_log_prob(n_noise=0)",
        lambda m=_model: m().discrete_log_prob(PIXELS, 0, gen()),
        raises("n_noise"),
    )
case(
    "UniformNoise on int pixels",
    lambda: UniformNoise().sample_and_log_prob(PIXELS.long(), gen()),
    returns(lambda o: finite(*o) and o[0].is_floating_point(), "float noise"),
)
case(
    "VariationalNoise.log_prob(u outside the bin)",
    lambda: VariationalNoise(16, 17, 1, (8,), dtype=F64).log_prob(torch.full((2, 16), 1.5), PIXELS),
    raises("(0, 1)"),
)
case(
    "VariationalNoise.sample_and_log_prob(15 pixels)",
    lambda: VariationalNoise(16, 17, 1, (8,), dtype=F64).sample_and_log_prob(PIXELS[:, :15], gen()),
    raises("15", "16"),
)
case("elbo_objective(numpy pixels)", lambda: elbo_objective(PIXELS.numpy()), returns(callable, "an objective"))
case("elbo_objective(empty)", lambda: elbo_objective(PIXELS[:0]), raises("at least one"))
case("elbo_objective(1D)", lambda: elbo_objective(PIXELS[0]), raises("shape"))
case(
    "elbo_objective(a pixel of 17)", lambda: elbo_objective(PIXELS + 1)(MODELS["uniform"](), 2, gen()), raises("0..16")
)
case(
    "elbo_objective(pixels)(a plain flow)",
    lambda: elbo_objective(PIXELS)(small_flow(), 2, gen()),
    raises("DequantisedFlow"),
)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.test_id)
def test_odd_input_gets_a_right_result_or_a_clear_error(case, tmp_path):
    check_case(case, tmp_path)


if __name__ == "__main__":
    main(CASES)
