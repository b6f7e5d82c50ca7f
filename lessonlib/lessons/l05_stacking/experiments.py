"""Notebook 05's computations: the log-det ledger, densities on a grid, training snapshots, what a
trained ring flow puts between its modes, summaries of samples, and the cost of sampling.

Direction as everywhere in lessonlib: z base, x data, x = f(z) forward (sampling), z = f^-1(x)
inverse (density); ``log_det`` is log|det J| of the direction called, shape (B,). Nothing here
draws: ``plots`` and ``widgets`` show these results, ``exercises`` may use them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from lessonlib.bijectors import Chain
from lessonlib.flows import Flow, make_flow
from lessonlib.toy2d import Target, grid_density
from lessonlib.training import TrainResult

__all__ = [
    "Ledger",
    "ledger",
    "grid_density",
    "Snapshots",
    "bridge_profile",
    "sample_summary",
    "ring_summary",
    "passes_to_sample",
    "time_samplers",
]


@dataclass
class Ledger:
    """The terms of log p_X(x) for a few points, one row per term, one column per point.

    Rows: each layer's inverse log-det (last layer first, the order the inverse applies them),
    then log p_Z(z). ``total`` is each column's sum, ``log_prob`` what ``flow.log_prob`` returns.

    Shapes: x (B, D); log_dets (L, B); base (B,); total, log_prob (B,).
    """

    x: np.ndarray
    names: list[str]
    log_dets: np.ndarray
    base: np.ndarray
    total: np.ndarray
    log_prob: np.ndarray

    def __str__(self) -> str:
        head = "term".ljust(26) + "".join(f"({a:+.1f}, {b:+.1f})".rjust(15) for a, b in self.x)
        rows = [head, "-" * len(head)]
        for name, vals in zip(self.names, self.log_dets):
            rows.append(name.ljust(26) + "".join(f"{v:15.4f}" for v in vals))
        rows.append("log p_Z(z)".ljust(26) + "".join(f"{v:15.4f}" for v in self.base))
        rows.append("-" * len(head))
        rows.append("column sum".ljust(26) + "".join(f"{v:15.4f}" for v in self.total))
        rows.append("flow.log_prob(x)".ljust(26) + "".join(f"{v:15.4f}" for v in self.log_prob))
        return "\n".join(rows)


def ledger(flow: Flow, x: Tensor) -> Ledger:
    """Run the inverse pass layer by layer and keep every term of log p_X(x).

    log p_X(x) = log p_Z(z) + sum_k log|det J_{f_k^-1}|, with the sum over the layers in the
    order the inverse applies them (last layer first).

    Shapes: x (B, D) -> Ledger with (L, B) log-dets.
    """
    bij = flow.bijector
    if not isinstance(bij, Chain):
        raise ValueError("a ledger needs a Chain of layers (e.g. from coupling_stack) to list them one by one.")
    with torch.no_grad():
        steps = bij.inverse_steps(x)
        base = flow.base.log_prob(steps.points[-1])
        lp = flow.log_prob(x)
    n = len(bij)
    names = [f"layer {n - k} log-det (inverse)" for k in range(n)]
    log_dets = torch.stack(steps.log_dets).double().numpy()
    base_np = base.double().numpy()
    return Ledger(
        x=x.double().numpy(),
        names=names,
        log_dets=log_dets,
        base=base_np,
        total=log_dets.sum(0) + base_np,
        log_prob=lp.double().numpy(),
    )


@dataclass
class Snapshots:
    """A training callback: every time it is called, keep the flow's density on a grid and some samples.

    Use as ``train(flow, data, callback=snaps, callback_every=...)``; ``widgets.LiveSnapshots`` also draws them.

    Shapes: densities[i] (n, n); samples[i] (n_samples, 2).
    """

    flow: Flow
    extent: tuple[float, float, float, float]
    n_grid: int = 60
    n_samples: int = 400
    seed: int = 0
    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    densities: list[np.ndarray] = field(default_factory=list)
    samples: list[np.ndarray] = field(default_factory=list)

    def __call__(self, step: int, result: TrainResult) -> None:
        self.record(step, float(np.mean(result.losses[-25:])) if result.losses else float("nan"))

    def record(self, step: int, loss: float) -> None:
        """Store the current state under ``step``."""
        dens, _ = grid_density(self.flow.log_prob, self.extent, self.n_grid)
        gen = torch.Generator().manual_seed(self.seed)
        z = torch.randn(self.n_samples, self.flow.dim, generator=gen, dtype=torch.get_default_dtype())
        with torch.no_grad():
            x = self.flow.bijector.forward(z)
        self.steps.append(step)
        self.losses.append(loss)
        self.densities.append(dens)
        self.samples.append(x.double().numpy())


def bridge_profile(flow: Flow, target: Target, radius: float = 2.0, n: int = 720) -> dict[str, np.ndarray]:
    """Flow and true density along the circle of ``radius`` through the ring's modes.

    Returns angles (n,), flow (n,), true (n,) densities, and their values at the gap midpoints
    between neighbouring modes (``flow_gap``, ``true_gap``) and at the modes (``flow_peak``, ``true_peak``).
    """
    theta = np.linspace(0, 2 * np.pi, n, endpoint=False)
    pts = np.stack([radius * np.cos(theta), radius * np.sin(theta)], 1)
    t = torch.as_tensor(pts, dtype=torch.get_default_dtype())
    with torch.no_grad():
        q = torch.exp(flow.log_prob(t)).double().numpy()
        p = torch.exp(target.log_prob(t.double())).numpy()
    k = np.arange(8)
    peaks = np.stack([radius * np.cos(k * np.pi / 4), radius * np.sin(k * np.pi / 4)], 1)
    gaps = np.stack([radius * np.cos((k + 0.5) * np.pi / 4), radius * np.sin((k + 0.5) * np.pi / 4)], 1)
    out: dict[str, np.ndarray] = {"theta": theta, "flow": q, "true": p}
    for name, where in (("peak", peaks), ("gap", gaps)):
        tt = torch.as_tensor(where, dtype=torch.get_default_dtype())
        with torch.no_grad():
            out[f"flow_{name}"] = torch.exp(flow.log_prob(tt)).double().numpy()
            out[f"true_{name}"] = torch.exp(target.log_prob(tt.double())).numpy()
    return out


def sample_summary(x: np.ndarray | Tensor, split: float = 0.0) -> dict[str, float]:
    """Means, standard deviations, correlation, and the fraction with first coordinate > ``split``.

    Shapes: x (N, 2).
    """
    a = x.detach().double().numpy() if isinstance(x, Tensor) else np.asarray(x, dtype=np.float64)
    return {
        "mean_0": float(a[:, 0].mean()),
        "mean_1": float(a[:, 1].mean()),
        "std_0": float(a[:, 0].std()),
        "std_1": float(a[:, 1].std()),
        "corr": float(np.corrcoef(a[:, 0], a[:, 1])[0, 1]),
        "frac_above": float((a[:, 0] > split).mean()),
    }


def ring_summary(x: Tensor, radius: float = 2.0, n_modes: int = 8, width: float = 0.6) -> dict[str, float]:
    """Mean and std of the distance from the origin, and the share of points within ``width`` of a mode.

    The modes sit at angles 2 pi k / n_modes on the circle of ``radius``; "within" is measured along
    the circle and across it (a box around each centre). Shapes: x (N, 2).
    """
    x = x.detach().double()
    r = x.norm(dim=1)
    step = 2 * math.pi / n_modes
    angle = torch.atan2(x[:, 1], x[:, 0]) % step
    near = (torch.minimum(angle, step - angle) * r < width) & ((r - radius).abs() < width)
    return {"radius_mean": float(r.mean()), "radius_std": float(r.std()), "near_mode": float(near.double().mean())}


def passes_to_sample(model: Flow, batch: int = 2) -> int:
    """How many times the model's first network layer runs while it draws one batch: its sequential passes.

    A coupling flow runs each layer's network once per batch; an autoregressive model must run its network
    once per coordinate, each time on the coordinates drawn so far. Counted with a forward hook, not assumed.
    """
    first = next((m for m in model.modules() if isinstance(m, torch.nn.Linear)), None)
    if first is None:
        raise ValueError("the model has no network layer (torch.nn.Linear) whose calls could be counted")
    calls = [0]
    handle = first.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    try:
        with torch.no_grad():
            model.sample(batch)
    finally:
        handle.remove()
    return calls[0]


def time_samplers(
    dim: int = 768, batch: int = 16, n_layers: int = 4, hidden: int = 128, repeats: int = 3
) -> dict[str, float]:
    """Best-of-``repeats`` wall time to draw ``batch`` samples in ``dim`` dimensions: a coupling flow vs MADE.

    Shapes: samples (batch, dim). Returns seconds for each, the ratio, and the number of sequential
    network passes each needed, counted by ``passes_to_sample``.
    """
    flow = make_flow(dim, n_layers, hidden=(hidden,))
    made = make_flow(dim, 1, "made", hidden=(hidden,))
    gen = torch.Generator().manual_seed(0)

    def best(fn: Callable[[], object]) -> float:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    def sampler(model: Flow) -> Callable[[], object]:
        def sample() -> None:
            with torch.no_grad():
                model.bijector.forward(torch.randn(batch, dim, generator=gen, dtype=torch.get_default_dtype()))

        return sample

    t_flow, t_ar = best(sampler(flow)), best(sampler(made))
    return {
        "flow_seconds": t_flow,
        "ar_seconds": t_ar,
        "ratio": t_ar / t_flow,
        "flow_passes": passes_to_sample(flow),
        "ar_passes": passes_to_sample(made),
        "ar_seconds_per_pass": t_ar / dim,
    }
