"""The same RealNVP-style flow built with three libraries, and the same spline flow with two, behind one small interface.

Every adapter speaks lessonlib's direction convention, whatever the library's own:

* ``forward_and_log_det(z) -> (x, log_det)``: base to data (sampling), log|det J_f(z)|;
* ``inverse_and_log_det(x) -> (z, log_det)``: data to base (density), log|det J_{f^-1}(x)|;
* ``log_prob(x) = log p_Z(z) + log|det J_{f^-1}(x)|``.

Matched architecture: 8 affine coupling layers on 2D data, each conditioner an MLP with two
hidden layers of 64 ReLU units, masks alternating between the two coordinates, a fixed N(0, I)
base. What each library does its own way is kept (it is part of what is compared): lessonlib
feeds the masked full vector to its conditioner and bounds log-scales with 3 tanh(s / 3);
zuko feeds only the kept coordinate and soft-clips its log-scales; normflows feeds only the
kept coordinate, uses an unbounded exp scale and swaps the coordinates between layers.

The spline family (``family="spline"``): 8 layers of monotone rational-quadratic splines with 8 bins
on [-5, 5] (zuko's domain), identity beyond, conditioners with two hidden layers of 64 ReLU units.
lessonlib stacks ``SplineCoupling`` layers with alternating masks (the kept coordinate passes through);
zuko's ``NSF`` is autoregressive, which in 2D means the first coordinate gets a spline whose parameters
are learned constants and the second a spline computed from the first, in an order that alternates
between layers. normflows has no adapter for this family.

zuko and normflows are imported only when their adapter is built: the course's own venv does
not have them (they live in .venv-bench).

Shapes: x, z (B, 2); log_det, log_prob (B,).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

__all__ = ["Adapter", "ADAPTERS", "FAMILIES", "SPLINE_LIBRARIES", "build", "N_LAYERS", "HIDDEN", "N_BINS", "BOUND"]

N_LAYERS = 8
HIDDEN = (64, 64)
DIM = 2
FAMILIES = ("affine", "spline")
SPLINE_LIBRARIES = ("lessonlib", "zuko")  # the libraries with a spline adapter
N_BINS = 8
BOUND = 5.0


class Adapter:
    """A trainable flow and its maps, in lessonlib's direction convention."""

    library: str = ""
    version: str = ""
    family: str = "affine"

    def __init__(self, model: nn.Module):
        self.model = model

    def log_prob(self, x: Tensor) -> Tensor:
        """log p_X(x). Shapes: (B, 2) -> (B,)."""
        raise NotImplementedError

    def forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """x = f(z), log|det J_f(z)|. Shapes: (B, 2) -> (B, 2), (B,)."""
        raise NotImplementedError

    def inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """z = f^-1(x), log|det J_{f^-1}(x)|. Shapes: (B, 2) -> (B, 2), (B,)."""
        raise NotImplementedError

    def base_log_prob(self, z: Tensor) -> Tensor:
        """log N(z; 0, I). Shapes: (B, 2) -> (B,)."""
        return -0.5 * (z**2).sum(-1) - 0.5 * z.shape[-1] * torch.log(torch.tensor(2 * torch.pi, dtype=z.dtype))

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad)

    def to_double(self) -> Adapter:
        self.model.double()
        return self


class LessonlibAdapter(Adapter):
    library = "lessonlib"

    def __init__(self, family: str = "affine") -> None:
        import lessonlib
        from lessonlib.coupling import coupling_stack
        from lessonlib.flows import Flow, standard_normal
        from lessonlib.splines import SplineCoupling

        self.version, self.family = lessonlib.__version__, family
        if family == "spline":
            stack = coupling_stack(
                dim=DIM, n_layers=N_LAYERS, hidden=HIDDEN, layer=SplineCoupling, n_bins=N_BINS, bound=BOUND
            )
        else:
            stack = coupling_stack(dim=DIM, n_layers=N_LAYERS, hidden=HIDDEN)
        self.flow = Flow(standard_normal(DIM), stack)
        super().__init__(self.flow)

    def log_prob(self, x: Tensor) -> Tensor:
        return self.flow.log_prob(x)

    def forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return self.flow.bijector.forward_and_log_det(z)

    def inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.flow.bijector.inverse_and_log_det(x)

    def to_double(self) -> Adapter:
        from lessonlib.flows import standard_normal

        self.flow.double()
        self.flow.base = standard_normal(DIM, dtype=torch.float64)
        return self


class ZukoAdapter(Adapter):
    """zuko's transform maps data to base (x -> z): its inverse is our forward."""

    library = "zuko"

    def __init__(self, family: str = "affine") -> None:
        import zuko

        self.version, self.family = zuko.__version__, family
        if family == "spline":
            flow = zuko.flows.NSF(DIM, transforms=N_LAYERS, hidden_features=HIDDEN, bins=N_BINS)
        else:
            flow = zuko.flows.RealNVP(DIM, transforms=N_LAYERS, hidden_features=HIDDEN)
        super().__init__(flow)

    def log_prob(self, x: Tensor) -> Tensor:
        return self.model().log_prob(x)

    def forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return self.model().transform.inv.call_and_ladj(z)

    def inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.model().transform.call_and_ladj(x)


class NormflowsAdapter(Adapter):
    """normflows' NormalizingFlow: forward is base to data, like ours; its inverse log-det is data to base."""

    library = "normflows"

    def __init__(self, family: str = "affine") -> None:
        import normflows as nf

        self.version = nf.__version__ if hasattr(nf, "__version__") else _dist_version("normflows")
        layers: list[nn.Module] = []
        for _ in range(N_LAYERS):
            param_map = nf.nets.MLP([DIM // 2, *HIDDEN, DIM], init_zeros=True)
            layers.append(nf.flows.AffineCouplingBlock(param_map))
            layers.append(nf.flows.Permute(DIM, mode="swap"))
        base = nf.distributions.DiagGaussian(DIM, trainable=False)
        super().__init__(nf.NormalizingFlow(q0=base, flows=layers))

    def log_prob(self, x: Tensor) -> Tensor:
        return self.model.log_prob(x)

    def forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return self.model.forward_and_log_det(z)

    def inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.model.inverse_and_log_det(x)


def _dist_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


ADAPTERS: dict[str, Callable[..., Adapter]] = {
    "lessonlib": LessonlibAdapter,
    "zuko": ZukoAdapter,
    "normflows": NormflowsAdapter,
}


def build(library: str, seed: int, family: str = "affine") -> Adapter:
    """A fresh flow of ``family`` ("affine" or "spline") from ``library``, parameters initialised from ``seed``."""
    if library not in ADAPTERS:
        raise ValueError(f"unknown library {library!r}; choose one of {sorted(ADAPTERS)}")
    if family not in FAMILIES:
        raise ValueError(f"unknown flow family {family!r}; choose one of {FAMILIES}")
    if family == "spline" and library not in SPLINE_LIBRARIES:
        raise ValueError(f"{library} has no spline adapter here; the spline family is built with {SPLINE_LIBRARIES}")
    torch.manual_seed(seed)
    return ADAPTERS[library](family)
