"""Notebook 05's static figures: training snapshots, depth against fit, two densities to tell apart, a
fit to real data, and the bridge a flow leaves between separate modes.

Every function returns a Figure; the notebook shows it with ``lessonlib.ui.figures.show``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.ticker import AutoLocator

from lessonlib.flows import Flow
from lessonlib.lessons.l05_stacking.experiments import Snapshots, grid_density
from lessonlib.training import TrainResult, ValidationCurve
from lessonlib.ui.figures import static_figure
from lessonlib.ui.style import current

__all__ = ["plot_snapshots", "plot_depth", "plot_guess_pair", "plot_fit_2d", "plot_bridge", "plot_train_validation"]

Extent = tuple[float, float, float, float]


def _density_axes(
    ax: Axes, dens: np.ndarray, extent: Extent, vmax: float | None = None, title: str = "", equal: bool = False
) -> AxesImage:
    aspect = "equal" if equal else "auto"
    image = ax.imshow(
        dens, origin="lower", extent=extent, cmap="viridis", vmin=0, vmax=vmax, aspect=aspect, interpolation="bilinear"
    )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    if title:
        ax.set_title(title)
    return image


def _density_colorbar(fig: Figure, image: AxesImage, axes: list[Axes], label: str = "density p_X(x)") -> None:
    """One colorbar for density panels that share a colour scale, so their values can be read and compared."""
    fig.colorbar(image, ax=axes, shrink=0.9, pad=0.02, label=label)


def plot_snapshots(
    snaps: Snapshots, result: TrainResult, entropy: float | None = None, data: np.ndarray | None = None
) -> Figure:
    """The loss curve, then the density and the samples at up to 4 snapshot steps."""
    idx = np.unique(np.linspace(0, len(snaps.steps) - 1, min(4, len(snaps.steps))).round().astype(int))
    k = len(idx)
    mosaic = [["loss"] * k, [f"d{i}" for i in range(k)], [f"s{i}" for i in range(k)]]
    fig, axes = static_figure(height=current().fig_width * 0.82, mosaic=mosaic, height_ratios=[0.8, 1, 1])
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
        image = _density_axes(
            axes[f"d{j}"], snaps.densities[i], snaps.extent, vmax, f"step {snaps.steps[i]}: density", equal=True
        )
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
    _density_colorbar(fig, image, [axes[f"d{j}"] for j in range(k)])
    return fig


def plot_depth(
    results: dict[int, tuple[float, float]], flows: dict[int, Flow], extent: Extent, n_grid: int = 80
) -> Figure:
    """KL gap (nats, with 2 standard errors) against the number of layers, and each model's density."""
    depths = sorted(results)
    mosaic = [["kl"] + [f"d{L}" for L in depths]]
    fig, axes = static_figure(height=current().fig_width * 0.3, mosaic=mosaic, width_ratios=[1.6] + [1] * len(depths))
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
        image = _density_axes(axes[f"d{L}"], dens[L], extent, vmax, f"{L} layer{'s' if L > 1 else ''}", equal=True)
    _density_colorbar(fig, image, [axes[f"d{L}"] for L in depths], label="density")
    return fig


def plot_guess_pair(flow_a: Flow, flow_b: Flow, extent: Extent, n_grid: int = 100) -> Figure:
    """Two learned densities side by side, labelled A and B (for the 'which is deeper?' exercise)."""
    fig, axes = static_figure(1, 2, width=current().fig_width * 0.7, height=current().fig_width * 0.36)
    da, db = (grid_density(f.log_prob, extent, n_grid)[0] for f in (flow_a, flow_b))
    vmax = max(float(da.max()), float(db.max()))
    for ax, d, name in zip(axes, (da, db), "AB"):
        image = _density_axes(ax, d, extent, vmax, f"model {name}", equal=True)
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
    _density_colorbar(fig, image, list(axes))
    return fig


def plot_fit_2d(
    flow: Flow, data: np.ndarray, extent: Extent, labels: tuple[str, str], n_samples: int = 272, seed: int = 1
) -> Figure:
    """Data and the learned density (left), data and flow samples (right), in the data's own units.

    ``data`` and ``extent`` are in the units the flow was trained on.
    """
    fig, (a1, a2) = static_figure(1, 2, height=current().fig_width * 0.4)
    dens, _ = grid_density(flow.log_prob, extent, 120)
    _density_colorbar(
        fig, _density_axes(a1, dens, extent, title="learned density and data"), [a1], label="density (per min²)"
    )
    a1.scatter(data[:, 0], data[:, 1], s=5, color="white", edgecolor="k", linewidth=0.3)
    for axis in (a1.xaxis, a1.yaxis):  # this panel is in minutes, like its neighbour: give it their ticks back
        axis.set_major_locator(AutoLocator())
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        x = (
            flow.bijector.forward(torch.randn(n_samples, 2, generator=gen, dtype=torch.get_default_dtype()))
            .double()
            .numpy()
        )
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


def plot_bridge(profile: dict[str, np.ndarray], flow: Flow, extent: Extent) -> Figure:
    """Left: the learned density with the circle through the modes. Right: both densities along it (log scale)."""
    fig, (a1, a2) = static_figure(1, 2, height=current().fig_width * 0.4, width_ratios=[1, 1.6])
    dens, _ = grid_density(flow.log_prob, extent, 120)
    image = _density_axes(a1, np.log10(np.maximum(dens, 1e-6)), extent, title="log10 learned density", equal=True)
    image.set_clim(-4, math.log10(dens.max()))
    _density_colorbar(fig, image, [a1], label="log10 p_X(x)")
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


def plot_train_validation(curves: dict[str, ValidationCurve]) -> Figure:
    """Training and validation NLL against steps, one colour per run, the best validation step marked."""
    fig, ax = static_figure(height=current().fig_width * 0.36)
    for k, (name, c) in enumerate(curves.items()):
        colour = f"C{k}"
        ax.plot(c.steps[1:], c.train_nll[1:], "--", color=colour, lw=1.2, label=f"{name}: training")
        ax.plot(c.steps, c.val_nll, "-", color=colour, lw=2, label=f"{name}: validation")
        ax.plot([c.best_step], [c.best_val_nll], "o", color=colour, ms=7)
    top = max(max(c.val_nll[1:]) for c in curves.values())
    ax.set_ylim(min(min(c.train_nll[1:]) for c in curves.values()) - 0.1, min(top, 6.0) + 0.1)
    ax.set_xlabel("training step")
    ax.set_ylabel("NLL (nats per eruption)")
    ax.set_title("dots: the lowest validation NLL of each run")
    ax.legend(fontsize="small", ncol=2)
    return fig
