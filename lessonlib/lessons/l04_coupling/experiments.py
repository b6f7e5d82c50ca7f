"""Notebook 04's computations: the hand-shaped conditioner of the coupling explorer, coupling stacks
against an invertible MLP of the same depth, and what the two safeguards of a coupling flow (bounded
log-scales, a zero last layer) prevent in training.

Nothing here draws: ``plots`` and ``widgets`` show these results, ``exercises`` may use them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from lessonlib.flows import Flow, make_flow
from lessonlib.nets import randomise
from lessonlib.toy2d import Target, kl_gap, target_sampler
from lessonlib.training import Diverged, Trainer, train

__all__ = ["CurveConditioner", "RIVALS", "STABILITY_SETUPS", "hand_initialised_flow", "rival_gaps", "stability_runs"]


class CurveConditioner(nn.Module):
    """s(x1) = a + b sin(c x1), t(x1) = d + e x1^2: the conditioner of a 2D coupling with mask (1, 0).

    Shapes: kept (B, 2) -> (B, 4), laid out as AffineCoupling expects: (s for both coordinates,
    t for both), zero for the kept x1.
    """

    def __init__(self, a: float = 0.0, b: float = 0.0, c: float = 1.0, d: float = 0.0, e: float = 0.0):
        super().__init__()
        self.a, self.b, self.c, self.d, self.e = a, b, c, d, e

    def s(self, x1: Tensor) -> Tensor:
        """Log-scale of x2 as a function of x1. Shapes: (B,) -> (B,)."""
        return self.a + self.b * torch.sin(self.c * x1)

    def t(self, x1: Tensor) -> Tensor:
        """Shift of x2 as a function of x1. Shapes: (B,) -> (B,)."""
        return self.d + self.e * x1**2

    def forward(self, kept: Tensor) -> Tensor:  # noqa: D401 - nn.Module name
        """(0, s(x1), 0, t(x1)) for each row."""
        x1 = kept[:, 0]
        zero = torch.zeros_like(x1)
        return torch.stack([zero, self.s(x1), zero, self.t(x1)], dim=1)


#: name -> (log-scales bounded by 3 tanh(s / 3), conditioners' last layer starting at zero)
STABILITY_SETUPS: dict[str, tuple[bool, bool]] = {
    "tanh-bounded s, zero-init last layer": (True, True),
    "bounded s, random last layer": (True, False),
    "unbounded s, random last layer": (False, False),
}


def hand_initialised_flow(bounded: bool, zero_init: bool, weight_std: float = 0.7, seed: int = 0) -> Flow:
    """A 2D flow of 4 affine couplings, float32, every conditioner weight ~ N(0, weight_std^2).

    Shapes: the flow maps (B, 2) -> (B, 2).

    ``bounded``: log-scales squashed into (-3, 3) by 3 tanh(s / 3). ``zero_init``: the conditioners'
    last layers then set back to zero, so each layer starts as the identity. The weights are a
    hand-rolled initialisation larger than PyTorch's default.
    """
    flow = make_flow(2, 4, hidden=(32, 32), seed=seed, dtype=torch.float32, log_scale_bound=3.0 if bounded else None)
    randomise(flow.bijector, torch.Generator().manual_seed(seed), weight_std, dtype=torch.float32)
    if zero_init:
        with torch.no_grad():
            for layer in flow.bijector.layers:
                layer.conditioner[-1].weight.zero_()
                layer.conditioner[-1].bias.zero_()
    return flow


def stability_runs(
    data: Tensor, steps: int = 60, lr: float = 2e-3, seeds: Sequence[int] = range(12), weight_std: float = 0.7
) -> dict[str, list[list[float]]]:
    """name -> for each seed, the training losses of that STABILITY_SETUPS flow on ``data``, until the end or a blow-up.

    Shapes: data (N, 2) float32.

    Each seed draws one set of random weights, N(0, weight_std^2) (``hand_initialised_flow``), shared by
    the three set-ups, and the minibatches. A list shorter than ``steps`` means the loss blew up (became inf or NaN, or rose far
    above its first value) at step len(losses) + 1; an empty list, at the very first step.
    """
    out: dict[str, list[list[float]]] = {name: [] for name in STABILITY_SETUPS}
    for seed in seeds:
        for name, (bounded, zero_init) in STABILITY_SETUPS.items():
            flow = hand_initialised_flow(bounded, zero_init, weight_std, seed)
            trainer = Trainer(flow, data, lr=lr, batch_size=256, seed=seed)
            try:
                trainer.run(steps)
            except Diverged:
                pass
            out[name].append(list(trainer.result.losses))
    return out


#: name -> (make_flow's layer count, layer kind, conditioner widths): four invertible linear maps against four couplings
RIVALS: dict[str, tuple[int, str, tuple[int, ...]]] = {
    "invertible MLP": (3, "invertible-mlp", ()),
    "4 small couplings": (4, "coupling", (3,)),
    "4 couplings": (4, "coupling", (32, 32)),
}


def rival_gaps(
    target: Target, seeds: Sequence[int] = range(3), steps: int = 500
) -> tuple[dict[str, Flow], dict[str, list[float]]]:
    """Each RIVALS flow trained on ``target`` from every seed: (the flows of the first seed, name -> KL gaps in nats).

    Shapes: every flow maps (B, 2) -> (B, 2). Same optimiser (Adam, lr 5e-3), batch (256) and steps for all.
    """
    first: dict[str, Flow] = {}
    gaps: dict[str, list[float]] = {name: [] for name in RIVALS}
    for seed in seeds:
        for name, (n_layers, layer, hidden) in RIVALS.items():
            flow = (
                make_flow(2, n_layers, layer, hidden=hidden, seed=seed)
                if hidden
                else make_flow(2, n_layers, layer, seed=seed)
            )
            train(flow, target_sampler(target), steps=steps, lr=5e-3, batch_size=256, seed=seed)
            gaps[name].append(kl_gap(flow.log_prob, target)[0])
            first.setdefault(name, flow)
    return first, gaps
