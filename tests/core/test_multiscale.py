"""Multi-scale flows: each level's z has its own base term, log p(x) sums them, and factor-out leaves half behind."""

import pytest
import torch

from lessonlib.bijectors import Affine
from lessonlib.image_layers import ActNorm, InvertibleConv1x1, Squeeze, initialise_actnorm
from lessonlib.images import PixelLogit
from lessonlib.multiscale import FactorOut, MultiScaleFlow, make_image_flow
from lessonlib.verify import verify_bijector

F64 = torch.float64


def _moved(flow):
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel()), dtype=p.dtype))
    return flow


def test_levels_halve_and_their_blocks_cover_z():
    flow = make_image_flow((1, 8, 8), levels=3, steps=1, hidden=(8,))
    assert [(lv.name, lv.start, lv.stop, tuple(lv.shape)) for lv in flow.levels] == [
        ("level 1", 32, 64, (2, 4, 4)),
        ("level 2", 16, 32, (4, 2, 2)),
        ("level 3", 0, 16, (16, 1, 1)),
    ]
    couplings = [m.dim for m in flow.modules() if type(m).__name__ == "AffineCoupling"]
    assert couplings[::-1] == [64, 32, 16]  # each level transforms half of what the one before did
    convs = [m.shape.channels for m in flow.modules() if isinstance(m, InvertibleConv1x1)]
    assert convs[::-1] == [4, 8, 16]
    single = make_image_flow((1, 8, 8), levels=3, steps=1, hidden=(8,), multiscale=False)
    assert [m.dim for m in single.modules() if type(m).__name__ == "AffineCoupling"] == [64, 64, 64]
    assert [(lv.start, lv.stop) for lv in single.levels] == [(0, 64)]


def test_log_prob_is_the_sum_of_the_levels_base_terms_plus_the_log_det():
    flow = _moved(make_image_flow((1, 8, 8), levels=3, steps=2, hidden=(8,), last=PixelLogit(17), dtype=F64))
    x = 17 * torch.rand(5, 64, generator=torch.Generator().manual_seed(0), dtype=F64)
    terms, log_det = flow.log_prob_by_level(x)
    assert set(terms) == {"level 1", "level 2", "level 3"}
    torch.testing.assert_close(sum(terms.values()) + log_det, flow.log_prob(x))
    z = flow.bijector.inverse(x)
    normal = torch.distributions.Normal(0.0, 1.0)
    torch.testing.assert_close(terms["level 1"], normal.log_prob(z[:, 32:]).sum(1))
    assert verify_bijector(flow.bijector, flow.bijector.inverse(x[:2]), atol=1e-6, rtol=1e-5) == []


def test_a_level_factored_out_is_left_alone_by_the_later_levels():
    flow = _moved(make_image_flow((1, 8, 8), levels=3, steps=1, hidden=(8,), dtype=F64))
    z = torch.randn(3, 64, generator=torch.Generator().manual_seed(1), dtype=F64)
    x, z2 = flow.bijector.forward(z), z.clone()
    z2[:, :32] += 1.0  # change levels 2 and 3 only: the inner flow's input
    level1 = flow.bijector.layers[0]
    assert isinstance(level1, FactorOut)
    assert torch.equal(level1.forward(z)[:, 32:], z[:, 32:])  # level 1's z passes straight through
    assert not torch.allclose(flow.bijector.forward(z2), x)


def test_join_and_split_are_inverse():
    flow = make_image_flow((1, 8, 8), levels=3, steps=1, hidden=(8,))
    z = torch.randn(2, 64)
    blocks = flow.split(z)
    assert {k: v.shape[1] for k, v in blocks.items()} == {"level 1": 32, "level 2": 16, "level 3": 16}
    assert torch.equal(flow.join(blocks), z)
    with pytest.raises(ValueError, match="one block per level"):
        flow.join({"level 1": z[:, 32:]})


def test_the_layers_come_in_glow_order():
    flow = make_image_flow((1, 4, 4), levels=1, steps=2, hidden=(8,))
    names = [type(layer).__name__ for layer in flow.bijector.layers][::-1]  # density order
    assert names == ["Squeeze", *["ActNorm", "InvertibleConv1x1", "AffineCoupling"] * 2]
    assert initialise_actnorm(flow, torch.randn(16, 16)) == [
        m for m in list(flow.bijector.layers)[::-1] if isinstance(m, ActNorm)
    ]


def test_building_is_reproducible_and_leaves_the_global_random_state_alone():
    state = torch.get_rng_state()
    a, b = (make_image_flow((1, 8, 8), 2, 1, (8,), seed=5) for _ in range(2))
    assert torch.equal(state, torch.get_rng_state())
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.mark.parametrize(
    "kwargs,words",
    [
        (dict(shape=(1, 6, 6), levels=2), "divisible by 2^2"),
        (dict(shape=(1, 8)), "three whole numbers"),
        (dict(levels=0), "levels"),
    ],
)
def test_bad_settings_are_refused_by_name(kwargs, words):
    with pytest.raises((ValueError, TypeError), match=words.replace("^", r"\^")):
        make_image_flow(**kwargs)


def test_factor_out_needs_a_smaller_inner_map():
    with pytest.raises(ValueError, match="fewer than dim"):
        FactorOut(Affine(torch.ones(4)), 4)
    with pytest.raises(ValueError, match="fixed dim"):
        FactorOut(Squeeze((1, 2, 2)).inverse, 8)


def test_multiscale_flow_needs_covering_levels():
    flow = make_image_flow((1, 4, 4), levels=2, steps=1, hidden=(8,))
    with pytest.raises(ValueError, match="cover"):
        MultiScaleFlow(flow.bijector, flow.levels[:1])
