"""Property suite over every registered bijector, in float64.

A new Bijector is tested by registering an example with lessonlib.bijectors.register_example;
test_every_bijector_is_registered fails for one that is not.
"""

import importlib
import inspect
import pkgutil

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import lessonlib
from lessonlib.bijectors import EXAMPLES, Affine, Bijector, Chain
from lessonlib.flows import Flow, standard_normal
from lessonlib.verify import verify_bijector

MODULES = [
    importlib.import_module(m.name) for m in pkgutil.walk_packages(lessonlib.__path__, "lessonlib.")
]  # every registration runs

CASES = [(name, dim) for name, factory in sorted(EXAMPLES.items()) for dim in factory.dims]


def make(name: str, dim: int) -> Bijector:
    return EXAMPLES[name](dim, torch.Generator().manual_seed(1234 + dim))


def batches(dim: int):
    return arrays(
        np.float64,
        st.tuples(st.integers(1, 4), st.just(dim)),
        elements=st.floats(-3, 3, allow_nan=False, allow_infinity=False),
    )


@pytest.mark.parametrize("name,dim", CASES, ids=[f"{n}-{d}d" for n, d in CASES])
@given(data=st.data())
def test_bijector_properties(name, dim, data):
    bij = make(name, dim)
    z = torch.as_tensor(data.draw(batches(dim)))
    problems = verify_bijector(bij, z, atol=1e-7, rtol=1e-6)
    assert problems == []


@pytest.mark.parametrize("name,dim", CASES, ids=[f"{n}-{d}d" for n, d in CASES])
def test_gradients_reach_every_parameter(name, dim):
    bij = make(name, dim)
    params = [p for p in bij.parameters() if p.requires_grad]
    if not params:
        pytest.skip(f"{name} has no trainable parameters")
    flow = Flow(standard_normal(dim, torch.float64), bij)
    x = torch.randn(16, dim, generator=torch.Generator().manual_seed(0))
    loss = -flow.log_prob(x).mean()
    loss.backward()
    for pname, p in bij.named_parameters():
        assert p.grad is not None, f"no gradient reaches {pname}"
        assert torch.isfinite(p.grad).all(), f"non-finite gradient at {pname}"
        assert p.grad.abs().sum() > 0, f"gradient at {pname} is exactly zero"


def _all_bijector_classes():
    out = set()
    for mod in MODULES:
        for _, cls in inspect.getmembers(mod, inspect.isclass):
            if issubclass(cls, Bijector) and cls is not Bijector and cls.__module__.startswith("lessonlib"):
                out.add(cls)
    return out


def test_every_bijector_is_registered():
    covered = set()
    for factory in EXAMPLES.values():
        b = factory(factory.dims[0], torch.Generator().manual_seed(0))
        covered |= {type(m) for m in b.modules() if isinstance(m, Bijector)}
    missing = sorted(c.__name__ for c in _all_bijector_classes() - covered)
    assert not missing, f"register an example for {missing} with lessonlib.bijectors.register_example"


# --- the suite must catch the classic mistakes: a test that cannot fail is worth nothing ---------


class _SignFlipped(Affine):
    def _inverse_and_log_det(self, x):
        z, ld = super()._inverse_and_log_det(x)
        return z, -ld  # wrong: the inverse log-det must be minus the forward one


class _MissingTerm(Affine):
    def _forward_and_log_det(self, z):
        x, ld = super()._forward_and_log_det(z)
        return x, ld - torch.log(torch.abs(self.scale[0]))  # drops one coordinate's term


class _NoAbs(Affine):
    def _log_det(self, like):
        return torch.log(self.scale.to(like)).expand(like.shape[1]).sum().expand(like.shape[0])


@pytest.mark.parametrize("broken", [_SignFlipped, _MissingTerm, _NoAbs])
def test_suite_catches_broken_log_dets(broken):
    bij = broken(torch.tensor([2.0, -0.5, 1.5]), torch.zeros(3))
    z = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    assert verify_bijector(bij, z), f"{broken.__name__} should have been caught"


def test_chain_is_ordered_like_sequential():
    a, b = Affine(torch.tensor([2.0]), torch.tensor([0.0])), Affine(torch.tensor([1.0]), torch.tensor([1.0]))
    z = torch.tensor([[3.0]])
    assert Chain(a, b).forward(z).item() == 7.0  # 2*3, then +1
    assert Chain(b, a).forward(z).item() == 8.0  # 3+1, then *2
