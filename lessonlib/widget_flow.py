"""Stacking layers into a flow: the ledger, training snapshots, depth, sampling cost, limits, widgets.

Everything notebook 05 shows lives here, so the notebook itself shows one call per idea:

* ``make_flow`` builds a RealNVP-style stack (affine couplings, alternating masks), reproducibly;
* ``Ledger`` lists each layer's log-det for a few points and checks that they add up to log p_X(x);
* ``Snapshots`` records density and samples while ``lessonlib.training.train`` runs;
* ``grid_density``, ``bridge_profile``, ``sample_summary`` measure what the flow learned;
* ``MaskedAutoregressive`` is a small MADE-style model whose sampler needs one pass per dimension,
  timed against a flow's single pass by ``time_samplers``;
* ``LayerWalker`` and ``TrainingControl`` are the two widgets (ipympl, ``%matplotlib widget``).

Direction as everywhere in lessonlib: z base, x data, x = f(z) forward (sampling), z = f^-1(x)
inverse (density); ``log_det`` is log|det J| of the direction called, shape (B,).
"""

from __future__ import annotations

import asyncio
import io
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import ipywidgets as w
import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from lessonlib.bijectors import Chain
from lessonlib.coupling import coupling_stack
from lessonlib.flows import Flow, standard_normal
from lessonlib.style import current
from lessonlib.toy2d import Target
from lessonlib.training import TrainResult
from lessonlib.widgetkit import LessonWidget, freeze_layout, int_slider, new_figure

__all__ = [
    "make_flow",
    "target_sampler",
    "standardise",
    "Ledger",
    "ledger",
    "grid_density",
    "Snapshots",
    "bridge_profile",
    "sample_summary",
    "ring_summary",
    "MaskedAutoregressive",
    "time_samplers",
    "show",
    "plot_snapshots",
    "plot_depth",
    "plot_guess_pair",
    "plot_fit_2d",
    "plot_bridge",
    "LayerWalker",
    "TrainingControl",
    "LEARNING_RATES",
]


# ----------------------------------------------------------------------------------------------
# Building and feeding a flow
# ----------------------------------------------------------------------------------------------


def make_flow(n_layers: int, hidden: tuple[int, ...] = (32, 32), seed: int = 0, dim: int = 2) -> Flow:
    """A standard-normal base pushed through ``n_layers`` affine couplings with alternating masks.

    Initialised from ``seed`` without touching the global random state. A fresh stack is the
    identity (each conditioner's last layer starts at zero), so every log-det starts at 0.

    Shapes: the flow maps (B, dim) -> (B, dim).
    """
    if not 1 <= int(n_layers) <= 64:
        raise ValueError(f"n_layers must be between 1 and 64, got {n_layers}.")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        bijector = coupling_stack(dim, int(n_layers), hidden=hidden)
    return Flow(standard_normal(dim), bijector)


def target_sampler(target: Target) -> Callable[[int, torch.Generator], Tensor]:
    """Fresh samples of ``target`` in torch's default dtype, as ``train`` expects. Shapes: -> (n, 2)."""

    def sample(n: int, gen: torch.Generator) -> Tensor:
        return target.sample(n, gen).to(torch.get_default_dtype())

    return sample


def standardise(data: np.ndarray) -> tuple[Tensor, np.ndarray, np.ndarray]:
    """u = (x - mean) / std per column, as a tensor, with the mean and std to undo it.

    A density in the original units is p_X(x) = p_U(u) / prod_d std_d, so
    log p_X(x) = log p_U(u) - sum_d log std_d.

    Shapes: data (N, D) -> u (N, D), mean (D,), std (D,).
    """
    a = np.asarray(data, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] < 2:
        raise ValueError(f"data must have shape (N, D) with N >= 2, got {a.shape}.")
    if not np.isfinite(a).all():
        raise ValueError("data contains NaN or infinity: a density is only defined at finite points.")
    mean, std = a.mean(0), a.std(0)
    if (std == 0).any():
        raise ValueError("a column of the data is constant: dividing by a zero standard deviation is undefined.")
    return torch.as_tensor((a - mean) / std, dtype=torch.get_default_dtype()), mean, std


# ----------------------------------------------------------------------------------------------
# The ledger: log-dets add
# ----------------------------------------------------------------------------------------------


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
        x=x.double().numpy(), names=names, log_dets=log_dets, base=base_np,
        total=log_dets.sum(0) + base_np, log_prob=lp.double().numpy(),
    )


# ----------------------------------------------------------------------------------------------
# Measuring a 2D density
# ----------------------------------------------------------------------------------------------


def grid_density(
    log_prob: Callable[[Tensor], Tensor], extent: tuple[float, float, float, float], n: int = 100
) -> tuple[np.ndarray, float]:
    """The density exp(log_prob) at the centres of an n-by-n grid over ``extent``, and one cell's area.

    The sum of density * area approximates the integral over the box (midpoint rule).

    Shapes: -> density (n, n) with rows along the second coordinate, area scalar.
    """
    x0, x1, y0, y1 = extent
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"extent must be (xmin, xmax, ymin, ymax) with min < max, got {extent}.")
    dx, dy = (x1 - x0) / n, (y1 - y0) / n
    xs = x0 + dx * (np.arange(n) + 0.5)
    ys = y0 + dy * (np.arange(n) + 0.5)
    gx, gy = np.meshgrid(xs, ys)
    pts = torch.as_tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=torch.get_default_dtype())
    with torch.no_grad():
        dens = torch.exp(log_prob(pts)).double().numpy().reshape(n, n)
    return dens, dx * dy


@dataclass
class Snapshots:
    """A training callback: every time it is called, keep the flow's density on a grid and some samples.

    Use as ``train(flow, data, callback=snaps, callback_every=...)``.

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
        if getattr(self, "_live", None) is not None:
            self._update_live()

    def live_figure(self) -> w.Widget:
        """A live ipympl figure (loss, density, samples) that every later ``record`` redraws.

        Display it before training: with ``%matplotlib widget`` it moves while ``train`` runs.
        """
        width = current().fig_width
        fig, (a_loss, a_dens, a_samp) = new_figure(1, 3, width=width, height=width * 0.3)
        fig.set_layout_engine("constrained")
        (line,) = a_loss.plot([], [], "o-", color="C0", ms=3)
        a_loss.set_xlabel("step")
        a_loss.set_ylabel("NLL (nats)")
        a_loss.set_title("loss")
        image = a_dens.imshow(np.zeros((self.n_grid, self.n_grid)), origin="lower", extent=self.extent, cmap="viridis", vmin=0, vmax=1)
        a_dens.set_title("density")
        (pts,) = a_samp.plot([], [], ls="", marker="o", ms=2, mew=0, color="C1")
        a_samp.set_xlim(self.extent[0], self.extent[1])
        a_samp.set_ylim(self.extent[2], self.extent[3])
        a_samp.set_aspect("equal")
        a_samp.set_title("samples")
        for ax in (a_dens, a_samp):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
        a_loss.set_xlim(0, 10)
        a_loss.set_ylim(0, 5)
        freeze_layout(fig)  # lay out once; each snapshot then only redraws
        self._live = (fig, a_loss, line, image, pts)
        if self.steps:
            self._update_live(draw=False)  # not displayed yet: move the artists, draw when shown
        return fig.canvas

    def _update_live(self, draw: bool = True) -> None:
        fig, a_loss, line, image, pts = self._live
        finite = [(s, v) for s, v in zip(self.steps, self.losses) if np.isfinite(v)]
        if finite:
            line.set_data(*zip(*finite))
            vals = [v for _, v in finite]
            a_loss.set_xlim(0, max(10, self.steps[-1]))
            a_loss.set_ylim(min(vals) - 0.2, max(vals) + 0.2)
        image.set_data(self.densities[-1])
        image.set_clim(0, float(self.densities[-1].max()) or 1.0)
        pts.set_data(self.samples[-1][:, 0], self.samples[-1][:, 1])
        if draw:  # a full draw pushes the picture to the browser even while the training cell runs
            fig.canvas.draw()


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
        "mean_0": float(a[:, 0].mean()), "mean_1": float(a[:, 1].mean()),
        "std_0": float(a[:, 0].std()), "std_1": float(a[:, 1].std()),
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


# ----------------------------------------------------------------------------------------------
# Sampling cost: one pass for a flow, one pass per dimension for an autoregressive model
# ----------------------------------------------------------------------------------------------


class _MaskedLinear(nn.Linear):
    def __init__(self, in_features: int, out_features: int, mask: Tensor):
        super().__init__(in_features, out_features)
        self.register_buffer("mask", mask)

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.linear(x, self.weight * self.mask, self.bias)


class MaskedAutoregressive(nn.Module):
    """MADE-style Gaussian autoregressive model: x_d = mu_d(x_<d) + exp(a_d(x_<d)) * eps_d.

    One network pass gives every mu_d and a_d at once, so the density needs one pass; but sampling
    must wait for x_<d before it can compute x_d: D passes, one after another.
    Reference: Germain et al., "MADE: Masked Autoencoder for Distribution Estimation" (2015).

    Shapes: x (B, D) -> mu, a (B, D).
    """

    def __init__(self, dim: int, hidden: int = 128, seed: int = 0):
        super().__init__()
        if dim < 2:
            raise ValueError("an autoregressive model needs at least 2 dimensions to have an order.")
        self.dim = dim
        deg_in = torch.arange(1, dim + 1)
        deg_h = torch.arange(hidden) % max(1, dim - 1) + 1
        m1 = (deg_h[:, None] >= deg_in[None, :]).to(torch.get_default_dtype())
        m2 = (deg_in[:, None] > deg_h[None, :]).to(torch.get_default_dtype())
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.hidden = _MaskedLinear(dim, hidden, m1)
            self.out = _MaskedLinear(hidden, 2 * dim, torch.cat([m2, m2]))
            with torch.no_grad():
                self.out.weight.mul_(0.1)
        self.passes = 0

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:  # noqa: D401 - nn.Module name
        """mu and log-scale a for every coordinate, each depending only on earlier coordinates."""
        self.passes += 1
        mu, a = self.out(torch.relu(self.hidden(x))).chunk(2, dim=-1)
        return mu, torch.tanh(a)

    @torch.no_grad()
    def sample(self, n: int, gen: torch.Generator | None = None) -> Tensor:
        """n samples, built one coordinate at a time: D sequential passes. Shapes: -> (n, D)."""
        eps = torch.randn(n, self.dim, generator=gen, dtype=torch.get_default_dtype())
        x = torch.zeros_like(eps)
        for d in range(self.dim):
            mu, a = self(x)
            x[:, d] = mu[:, d] + torch.exp(a[:, d]) * eps[:, d]
        return x


def time_samplers(dim: int = 768, batch: int = 16, n_layers: int = 4, hidden: int = 128, repeats: int = 3) -> dict[str, float]:
    """Best-of-``repeats`` wall time to draw ``batch`` samples in ``dim`` dimensions, flow vs autoregressive.

    Returns seconds for each, the ratio, and the number of sequential network passes each needed.
    """
    flow = make_flow(n_layers, hidden=(hidden,), dim=dim)
    ar = MaskedAutoregressive(dim, hidden)
    gen = torch.Generator().manual_seed(0)

    def best(fn: Callable[[], object]) -> float:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    def flow_sample() -> None:
        with torch.no_grad():
            flow.bijector.forward(torch.randn(batch, dim, generator=gen, dtype=torch.get_default_dtype()))

    t_flow = best(flow_sample)
    ar.passes = 0
    t_ar = best(lambda: ar.sample(batch, gen))
    return {
        "flow_seconds": t_flow, "ar_seconds": t_ar, "ratio": t_ar / t_flow,
        "flow_passes": 1, "flow_layer_calls": n_layers, "ar_passes": ar.passes // repeats,
        "ar_seconds_per_pass": t_ar / dim,
    }


# ----------------------------------------------------------------------------------------------
# Static figures: drawn off-screen and shown as PNG, so they print the same under any backend
# ----------------------------------------------------------------------------------------------


def _figure(width: float | None = None, height: float | None = None) -> Figure:
    s = current()
    width = width or s.fig_width
    return Figure(figsize=(width, height or width * 0.4), dpi=s.dpi, layout="constrained")


def show(fig: Figure) -> None:
    """Display a figure as a PNG image (the same bytes on every run), and return nothing."""
    from IPython.display import Image, display

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=current().dpi)
    display(Image(data=buf.getvalue(), format="png"))


def _density_axes(ax, dens: np.ndarray, extent, vmax: float | None = None, title: str = "", equal: bool = False) -> None:
    aspect = "equal" if equal else "auto"
    ax.imshow(dens, origin="lower", extent=extent, cmap="viridis", vmin=0, vmax=vmax, aspect=aspect, interpolation="bilinear")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    if title:
        ax.set_title(title)


def plot_snapshots(snaps: Snapshots, result: TrainResult, entropy: float | None = None, data: np.ndarray | None = None) -> Figure:
    """The loss curve, then the density and the samples at up to 4 snapshot steps."""
    idx = np.unique(np.linspace(0, len(snaps.steps) - 1, min(4, len(snaps.steps))).round().astype(int))
    k = len(idx)
    fig = _figure(height=current().fig_width * 0.82)
    mosaic = [["loss"] * k, [f"d{i}" for i in range(k)], [f"s{i}" for i in range(k)]]
    axes = fig.subplot_mosaic(mosaic, height_ratios=[0.8, 1, 1])
    ax = axes["loss"]
    ax.plot(np.arange(1, len(result.losses) + 1), result.losses, lw=1, color="0.6", label="NLL per minibatch")
    ax.plot(snaps.steps, snaps.losses, "o-", color="C0", label="NLL, mean of the last 25 steps")
    if entropy is not None:
        ax.axhline(entropy, color="C3", ls="--", label=f"entropy of the target ({entropy:.2f} nats): the floor")
    top = min(max(result.losses), result.losses[0] + 1.0) if result.losses else None
    if top is not None:  # a rare spike would squash the curve: the axis stops 1 nat above the start
        ax.set_ylim(min(min(result.losses), entropy if entropy is not None else np.inf) - 0.3, top)
    ax.set_xlabel("training step")
    ax.set_ylabel("NLL (nats)")
    ax.legend(loc="upper right")
    vmax = max(float(d.max()) for d in snaps.densities)
    x0, x1, y0, y1 = snaps.extent
    for j, i in enumerate(idx):
        _density_axes(axes[f"d{j}"], snaps.densities[i], snaps.extent, vmax, f"step {snaps.steps[i]}: density", equal=True)
        sa = axes[f"s{j}"]
        if data is not None:
            sa.scatter(data[:, 0], data[:, 1], s=2, color="0.75")
        pts = snaps.samples[i]
        sa.scatter(pts[:, 0], pts[:, 1], s=3, color="C1")
        sa.set_xlim(x0, x1)
        sa.set_ylim(y0, y1)
        sa.set_aspect("equal")
        sa.set_xticks([])
        sa.set_yticks([])
        sa.set_title("samples (orange)")
    return fig


def plot_depth(results: dict[int, tuple[float, float]], flows: dict[int, Flow], extent, n_grid: int = 80) -> Figure:
    """KL gap (nats, with 2 standard errors) against the number of layers, and each model's density."""
    depths = sorted(results)
    fig = _figure(height=current().fig_width * 0.3)
    mosaic = [["kl"] + [f"d{L}" for L in depths]]
    axes = fig.subplot_mosaic(mosaic, width_ratios=[1.6] + [1] * len(depths))
    ax = axes["kl"]
    kl = np.array([results[L][0] for L in depths])
    se = np.array([results[L][1] for L in depths])
    ax.errorbar(depths, kl, yerr=2 * se, marker="o", capsize=4)
    ax.set_xscale("log", base=2)
    ax.set_xticks(depths, [str(L) for L in depths])
    ax.set_ylim(0, None)
    ax.set_xlabel("coupling layers")
    ax.set_ylabel("KL gap (nats)")
    ax.set_title("same training budget")
    dens = {L: grid_density(flows[L].log_prob, extent, n_grid)[0] for L in depths}
    vmax = max(float(d.max()) for d in dens.values())
    for L in depths:
        _density_axes(axes[f"d{L}"], dens[L], extent, vmax, f"{L} layer{'s' if L > 1 else ''}", equal=True)
    return fig


def plot_guess_pair(flow_a: Flow, flow_b: Flow, extent, n_grid: int = 100) -> Figure:
    """Two learned densities side by side, labelled A and B (for the 'which is deeper?' exercise)."""
    fig = _figure(width=current().fig_width * 0.7, height=current().fig_width * 0.36)
    axes = fig.subplots(1, 2)
    da, db = (grid_density(f.log_prob, extent, n_grid)[0] for f in (flow_a, flow_b))
    vmax = max(float(da.max()), float(db.max()))
    for ax, d, name in zip(axes, (da, db), "AB"):
        _density_axes(ax, d, extent, vmax, f"model {name}", equal=True)
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
    return fig


def plot_fit_2d(flow: Flow, data: np.ndarray, extent, labels: tuple[str, str], n_samples: int = 272, seed: int = 1) -> Figure:
    """Data and the learned density (left), data and flow samples (right), in the data's own units.

    ``data`` and ``extent`` are in the units the flow was trained on.
    """
    fig = _figure(height=current().fig_width * 0.4)
    a1, a2 = fig.subplots(1, 2)
    dens, _ = grid_density(flow.log_prob, extent, 120)
    _density_axes(a1, dens, extent, title="learned density and data")
    a1.scatter(data[:, 0], data[:, 1], s=5, color="white", edgecolor="k", linewidth=0.3)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        x = flow.bijector.forward(torch.randn(n_samples, 2, generator=gen, dtype=torch.get_default_dtype())).double().numpy()
    a2.scatter(data[:, 0], data[:, 1], s=8, color="0.6", label="data")
    a2.scatter(x[:, 0], x[:, 1], s=8, color="C1", label="flow samples")
    a2.set_xlim(extent[0], extent[1])
    a2.set_ylim(extent[2], extent[3])
    a2.legend(loc="upper left")
    a2.set_title("data and as many samples")
    for ax in (a1, a2):
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
    return fig


def plot_bridge(profile: dict[str, np.ndarray], flow: Flow, extent) -> Figure:
    """Left: the learned density with the circle through the modes. Right: both densities along it (log scale)."""
    fig = _figure(height=current().fig_width * 0.4)
    a1, a2 = fig.subplots(1, 2, width_ratios=[1, 1.6])
    dens, _ = grid_density(flow.log_prob, extent, 120)
    _density_axes(a1, np.log10(np.maximum(dens, 1e-6)), extent, title="log10 learned density", equal=True)
    a1.images[0].set_clim(-4, math.log10(dens.max()))
    t = profile["theta"]
    a1.plot(2 * np.cos(t), 2 * np.sin(t), color="w", lw=1, ls="--")
    deg = np.degrees(t)
    a2.semilogy(deg, profile["true"], color="0.3", label="true density")
    a2.semilogy(deg, profile["flow"], color="C1", label="flow density")
    a2.set_ylim(1e-6, None)
    a2.set_xlabel("angle along the dashed circle (degrees)")
    a2.set_ylabel("density (log scale)")
    a2.set_xticks(np.arange(0, 361, 45))
    a2.legend(loc="lower right")
    a2.set_title("between the modes: the flow leaves a bridge")
    return fig


# ----------------------------------------------------------------------------------------------
# Widget 1: walk through the stack, layer by layer
# ----------------------------------------------------------------------------------------------


def _colour_groups(value: np.ndarray, n: int = 6) -> list[np.ndarray]:
    """Indices of the points in each of ``n`` bins of ``value`` (equal counts), low to high."""
    order = np.argsort(value, kind="stable")
    return [np.sort(chunk) for chunk in np.array_split(order, n)]


def _marker_lines(ax, points: np.ndarray, groups: list[np.ndarray], cmap: str) -> list:
    colours = matplotlib.colormaps[cmap](np.linspace(0.0, 0.85, len(groups)))
    return [ax.plot(points[idx, 0], points[idx, 1], ls="", marker="o", ms=2.2, mew=0, color=c)[0] for idx, c in zip(groups, colours)]



class LayerWalker(LessonWidget):
    """A slider k = 0..L: the data after undoing k layers (left), base samples after k layers (right).

    Left, the inverse direction: x, then f_L^-1(x), ... until z = f^-1(x), which should look like
    N(0, I). Right, the forward direction: z, then f_1(z), ... until x = f(z), which should look like
    the data. The readout keeps the ledger: the inverse log-dets of the layers undone so far.
    """

    title = "Layer by layer"

    def __init__(self, flow: Flow, data: Tensor, n_samples: int = 600, seed: int = 0, limit: float = 4.0):
        super().__init__()
        if not isinstance(flow.bijector, Chain):
            raise ValueError("LayerWalker needs a flow whose bijector is a Chain of layers.")
        self.flow = flow
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn(n_samples, flow.dim, generator=gen, dtype=torch.get_default_dtype())
        with torch.no_grad():
            inv = flow.bijector.inverse_steps(data)
            fwd = flow.bijector.forward_steps(z)
            self.base_log_prob = flow.base.log_prob(inv.points[-1]).double().numpy()
            self.log_prob = flow.log_prob(data).double().numpy()
        self.inv_points = [p.double().numpy() for p in inv.points]
        self.fwd_points = [p.double().numpy() for p in fwd.points]
        zero = np.zeros(data.shape[0])
        self.inv_cum = np.cumsum([zero] + [ld.double().numpy() for ld in inv.log_dets], axis=0)  # (L+1, B)
        self.n_layers = len(flow.bijector)
        # Points are drawn as a few single-colour marker lines (fast to redraw), grouped by where they
        # start, so the colours let the eye follow the points through the layers.
        self._inv_groups = _colour_groups(self.inv_points[0][:, 0])
        self._fwd_groups = _colour_groups(self.fwd_points[0][:, 1])

        width = current().fig_width * 0.7  # fewer pixels: each redraw re-encodes the PNG the browser shows
        self.fig, (self.ax_inv, self.ax_fwd) = new_figure(1, 2, width=width, height=width * 0.5)
        self.fig.set_layout_engine("constrained")
        self.inv_lines = _marker_lines(self.ax_inv, self.inv_points[0], self._inv_groups, "viridis")
        self.fwd_lines = _marker_lines(self.ax_fwd, self.fwd_points[0], self._fwd_groups, "plasma")
        t = np.linspace(0, 2 * np.pi, 100)
        for r in (1, 2):
            for ax in (self.ax_inv, self.ax_fwd):
                ax.plot(r * np.cos(t), r * np.sin(t), color="0.5", lw=1, ls="--")
        for ax in (self.ax_inv, self.ax_fwd):
            ax.set_xlim(-limit, limit)
            ax.set_ylim(-limit, limit)
            ax.set_xticks([])  # the dashed circles (radius 1 and 2) give the scale; no tick text to redraw
            ax.set_yticks([])
            ax.set_aspect("equal")
        self.ax_inv.set_title("data, k layers undone")
        self.ax_fwd.set_title("base samples, k layers applied")
        # the titles stay in the cached background; only the short counters are redrawn
        self.count_inv, self.count_fwd = (
            ax.text(0.03, 0.97, "", transform=ax.transAxes, ha="left", va="top", fontweight="bold", zorder=3)
            for ax in (self.ax_inv, self.ax_fwd)
        )
        freeze_layout(self.fig)
        self.animate(*self.inv_lines, *self.fwd_lines, self.count_inv, self.count_fwd)
        self.add_control("k", int_slider("layers", 0, 0, self.n_layers))
        self._finish(w.VBox([self.controls["k"], self.fig.canvas, self.readout, self.message]))

    def update(self) -> None:
        k = int(self.controls["k"].value)
        L = self.n_layers
        for line, idx in zip(self.inv_lines, self._inv_groups):
            line.set_data(self.inv_points[k][idx, 0], self.inv_points[k][idx, 1])
        for line, idx in zip(self.fwd_lines, self._fwd_groups):
            line.set_data(self.fwd_points[k][idx, 0], self.fwd_points[k][idx, 1])
        self.count_inv.set_text(f"k = {k} of {L}" + (": z" if k == L else ""))
        self.count_fwd.set_text(f"k = {k} of {L}" + (": x" if k == L else ""))
        n = self.numbers()
        size = current().control_font
        self.readout.value = (
            f'<span style="font-size:{size}">inverse log-det of the {k} layer{"s" if k != 1 else ""} undone, '
            f"mean over the points: <b>{n['inverse_log_det_mean']:+.3f}</b> nats; "
            f"spread of the left cloud (std): <b>{n['inverse_std']:.2f}</b> "
            f"(N(0, I) has 1)</span>"
        )
        self.say("")

    def shown(self, side: str) -> np.ndarray:
        """The points currently drawn on the "inverse" (left) or "forward" (right) panel, in input order."""
        lines, groups = (self.inv_lines, self._inv_groups) if side == "inverse" else (self.fwd_lines, self._fwd_groups)
        n = sum(len(g) for g in groups)
        out = np.empty((n, 2))
        for line, idx in zip(lines, groups):
            out[idx, 0], out[idx, 1] = line.get_xdata(), line.get_ydata()
        return out

    def numbers(self) -> dict[str, float]:
        k = int(self.controls["k"].value)
        return {
            "k": float(k),
            "inverse_log_det_mean": float(self.inv_cum[k].mean()),
            "inverse_std": float(self.inv_points[k].std()),
            "forward_std": float(self.fwd_points[k].std()),
        }


# ----------------------------------------------------------------------------------------------
# Widget 2: train live
# ----------------------------------------------------------------------------------------------

#: The learning rates the training widget offers (Adam). The largest ones are there to fail.
LEARNING_RATES: tuple[float, ...] = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0)


class TrainingControl(LessonWidget):
    """Start/stop training of a coupling stack on a 2D target, choosing depth and learning rate.

    Training runs in short chunks (``chunk`` steps) in an asyncio task on the kernel's event loop,
    so the plots move while it trains and other widgets still answer. ``step(n)`` trains n steps
    synchronously (for tests and for the "+100 steps" button). A learning rate that makes the loss
    blow up is reported as a sentence and the model starts again from scratch.

    Shapes: data drawn from ``target`` as (batch, 2).
    """

    title = "Train a flow"

    def __init__(
        self,
        target: Target,
        hidden: tuple[int, ...] = (32, 32),
        batch_size: int = 256,
        chunk: int = 20,
        max_steps: int = 3000,
        seed: int = 0,
        n_grid: int = 70,
    ):
        super().__init__()
        self.target, self.hidden, self.batch_size, self.chunk = target, hidden, batch_size, chunk
        self.max_steps, self.seed, self.n_grid = max_steps, seed, n_grid
        self.sampler = target_sampler(target)
        self.losses: list[float] = []
        self.flow: Flow | None = None
        self.opt: torch.optim.Optimizer | None = None
        self._built_layers: int | None = None
        self._task: asyncio.Task | None = None
        gen = torch.Generator().manual_seed(seed + 1)
        self.true_samples = target.sample(600, gen).numpy()
        self.true_density, _ = grid_density(target.log_prob, target.extent, n_grid)
        zgen = torch.Generator().manual_seed(seed + 2)
        self._z = torch.randn(600, 2, generator=zgen, dtype=torch.get_default_dtype())

        self.fig, (self.ax_loss, self.ax_dens, self.ax_samp) = new_figure(1, 3, height=current().fig_width * 0.33)
        self.fig.set_layout_engine("constrained")
        (self.loss_line,) = self.ax_loss.plot([], [], color="C0")
        ent = target.entropy_estimate(n=50_000)[0]
        self.entropy = float(ent)
        self.ax_loss.axhline(ent, color="C3", ls="--", lw=1)
        self.ax_loss.set_xlabel("step")
        self.ax_loss.set_ylabel("NLL (nats)")
        self.ax_loss.set_title("loss (dashed: entropy floor)")
        self.image = self.ax_dens.imshow(
            np.zeros_like(self.true_density), origin="lower", extent=target.extent, cmap="viridis",
            vmin=0, vmax=float(self.true_density.max()), aspect="auto",
        )
        self.ax_dens.grid(False)
        self.ax_dens.set_title("learned density")
        self.ax_samp.scatter(self.true_samples[:, 0], self.true_samples[:, 1], s=2, color="0.75")
        self.samples = self.ax_samp.scatter(self._z[:, 0], self._z[:, 1], s=3, color="C1")
        self.ax_samp.set_xlim(target.extent[0], target.extent[1])
        self.ax_samp.set_ylim(target.extent[2], target.extent[3])
        self.ax_samp.set_title("samples (orange), data (grey)")
        for ax in (self.ax_dens, self.ax_samp):
            ax.set_xticks([])
            ax.set_yticks([])
        self.ax_loss.set_xlim(0, 100)
        self.ax_loss.set_ylim(self.entropy - 0.5, self.entropy + 4)
        freeze_layout(self.fig)
        self.animate(self.loss_line, self.image, self.samples)

        self.add_control("layers", int_slider("coupling layers", 4, 1, 8))
        s = current()
        lr = w.SelectionSlider(
            options=[(f"{v:g}", v) for v in LEARNING_RATES], value=3e-3, description="learning rate",
            continuous_update=False, layout=w.Layout(width=s.control_width), style={"description_width": "initial"},
        )
        self.add_control("lr", lr)
        self.add_control("train", w.ToggleButton(value=False, description="Start / stop", icon="play"))
        self.step_button = w.Button(description="+100 steps", layout=w.Layout(width="auto"))
        self.step_button.on_click(lambda _: self.step(100))
        buttons = w.HBox([self.controls["train"], self.step_button, self.reset_button])
        self._finish(w.VBox([self.controls["layers"], self.controls["lr"], buttons, self.fig.canvas, self.readout, self.message]))

    # -- model --------------------------------------------------------------------------------
    def _build(self) -> None:
        n = int(self.controls["layers"].value)
        self.flow = make_flow(n, self.hidden, seed=self.seed)
        self.opt = torch.optim.Adam(self.flow.parameters(), lr=float(self.controls["lr"].value))
        self.gen = torch.Generator().manual_seed(self.seed)
        self.losses = []
        self._built_layers = n

    def reset(self) -> None:
        """Controls back to their defaults and a fresh, untrained model."""
        self._stop()
        self._built_layers = None
        super().reset()

    def step(self, n: int) -> None:
        """Train ``n`` steps now (in chunks), then redraw. A blow-up resets the model with a message."""
        if self.flow is None:
            self._build()
        assert self.flow is not None and self.opt is not None
        done = 0
        while done < n and len(self.losses) < self.max_steps:
            for _ in range(min(self.chunk, n - done)):
                loss = -self.flow.log_prob(self.sampler(self.batch_size, self.gen)).mean()
                start = self.losses[0] if self.losses else None
                if not torch.isfinite(loss) or (start is not None and loss.item() > start + 30):
                    self._diverged(loss.item())
                    return
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                self.opt.step()
                self.losses.append(loss.item())
                done += 1
        if len(self.losses) >= self.max_steps:
            self._set_train(False)
            self.say(f"Stopped after {self.max_steps} steps. Press Reset to start again.", "info")
        self._show_progress()

    def _diverged(self, value: float) -> None:
        lr = float(self.controls["lr"].value)
        steps = len(self.losses)
        self._set_train(False)
        self._build()
        self.problem = (
            f"With learning rate {lr:g} the loss blew up (it reached {value:.3g} nats) after {steps} "
            "steps: each Adam step moved the weights so far that the layers' scales exploded. "
            "The model was reset; choose a smaller learning rate."
        )
        self.say(self.problem, "warn")
        self._show_progress()

    def _show_progress(self) -> None:
        """Draw the current model outside a control change (after training steps)."""
        t0 = time.perf_counter()
        self._draw()
        self.redraw()
        self.update_times_ms.append((time.perf_counter() - t0) * 1000)

    def _set_train(self, on: bool) -> None:
        self._muted = True
        try:
            self.controls["train"].value = on
        finally:
            self._muted = False
        if not on:
            self._stop()

    def _stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None

    async def _run(self) -> None:
        try:
            while self.controls["train"].value and len(self.losses) < self.max_steps:
                self.step(self.chunk)
                await asyncio.sleep(0.02)
        finally:
            self._task = None

    def _start(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (plain Python, tests): train one chunk now
            self.step(self.chunk)
            return
        if self._task is None:
            self._task = loop.create_task(self._run())

    # -- drawing ------------------------------------------------------------------------------
    def update(self) -> None:
        n = int(self.controls["layers"].value)
        if self.flow is None or self._built_layers != n:
            self._stop()
            self._build()
        assert self.opt is not None and self.flow is not None
        for g in self.opt.param_groups:
            g["lr"] = float(self.controls["lr"].value)
        if len(self.losses) < self.max_steps:
            self.say("")
        if self.controls["train"].value:
            if self._task is None:
                self._start()
        else:
            self._stop()
        self._draw()

    def _draw(self) -> None:
        assert self.flow is not None
        steps = np.arange(1, len(self.losses) + 1)
        self.loss_line.set_data(steps, self.losses)
        if self.losses:
            lo, hi = min(self.losses), max(self.losses)
            # the step axis doubles when the curve reaches its end, so most chunks move only the curve
            right = 100
            while right < len(self.losses):
                right *= 2
            self.ax_loss.set_xlim(0, right)
            self.ax_loss.set_ylim(min(lo, self.entropy) - 0.2, hi + 0.2)
        dens, _ = grid_density(self.flow.log_prob, self.target.extent, self.n_grid)
        self.image.set_data(dens)
        with torch.no_grad():
            x = self.flow.bijector.forward(self._z).double().numpy()
        self.samples.set_offsets(x)
        n = self.numbers()
        size = current().control_font
        last = f"{n['loss']:.3f} nats" if self.losses else "not trained yet"
        self.readout.value = (
            f'<span style="font-size:{size}">{int(n["layers"])} coupling layers, step {int(n["steps"])}; '
            f"NLL (last 20 steps): <b>{last}</b></span>"
        )

    def numbers(self) -> dict[str, float]:
        loss = float(np.mean(self.losses[-20:])) if self.losses else float("nan")
        return {
            "layers": float(self.controls["layers"].value),
            "lr": float(self.controls["lr"].value),
            "steps": float(len(self.losses)),
            "loss": loss,
            "running": float(self._task is not None),
        }
