"""Notebook 06's static figures: Hutchinson's trace estimates, and a flow's exact log-density over Old Faithful.

Each function returns a Figure; the notebook shows it with ``lessonlib.ui.figures.show``.
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from lessonlib.flows import Flow
from lessonlib.ui.figures import static_figure

__all__ = ["plot_trace_estimates", "plot_density_and_outliers"]


def plot_trace_estimates(single: Tensor, exact: float, group: int = 16) -> Figure:
    """Histograms of one-probe Hutchinson estimates and of their averages over ``group`` probes, with the exact trace.

    Shapes: single (N,) with N a multiple of ``group``.
    """
    one = single.detach().numpy()
    if one.ndim != 1 or len(one) % group:
        raise ValueError(f"need a 1D tensor whose length is a multiple of {group}, got shape {tuple(single.shape)}")
    averaged = one.reshape(-1, group).mean(1)
    fig, ax = static_figure(width=7, height=3.2)
    bins = np.linspace(one.min(), one.max(), 50)
    ax.hist(one, bins=bins, density=True, color="#9ecae1", label=f"1 probe, 1 pass: sd {one.std(ddof=1):.2f}")
    ax.hist(
        averaged,
        bins=bins,
        density=True,
        color="#08519c",
        alpha=0.8,
        label=f"mean of {group} probes, {group} passes: sd {averaged.std(ddof=1):.2f}",
    )
    ax.axvline(exact, color="tab:red", lw=2, label=f"exact trace: {exact:+.3f}")
    ax.set_xlabel("estimate of tr(dg/dx) at one point")
    ax.set_ylabel("share of estimates (density)")
    ax.set_ylim(0, ax.get_ylim()[1] * 1.3)  # room for the legend beside the peak
    ax.legend(loc="upper left", fontsize="small")
    ax.set_title("Hutchinson's estimator: right on average, noisy one at a time")
    return fig


def _grid_log_density(
    flow: Flow, mean: np.ndarray, std: np.ndarray, n: int = 160
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(minutes of eruption, minutes of waiting, log p_X in standard units) on an n x n grid over [-2.5, 2.5]^2."""
    g0 = np.linspace(-2.5, 2.5, n)
    G0, G1 = np.meshgrid(g0, g0)
    grid = torch.as_tensor(np.stack([G0.ravel(), G1.ravel()], 1))
    with torch.no_grad():
        lp = flow.log_prob(grid).numpy().reshape(G0.shape)
    return G0 * std[0] + mean[0], G1 * std[1] + mean[1], lp


def plot_density_and_outliers(
    flow: Flow,
    data: Tensor,
    threshold: float,
    mean: np.ndarray,
    std: np.ndarray,
    extra: Tensor | None = None,
    held: Tensor | None = None,
) -> Figure:
    """log p_X on a grid (filled contours, with a colour bar) and the eruptions in minutes; points with log p < threshold circled.

    Shapes: data (N, 2), held (H, 2) and extra (M, 2) in standardised units; mean, std (2,) undo the standardisation.
    ``data`` are the training eruptions, ``held`` the held-out ones, ``extra`` made-up eruptions.
    """
    fig, ax = static_figure(width=7.5, height=4.5)
    E, W, lp = _grid_log_density(flow, mean, std)
    top = np.ceil(lp.max() * 2) / 2  # levels every half nat, from -8 up to the peak
    filled = ax.contourf(E, W, np.maximum(lp, -8), levels=np.arange(-8, top + 0.25, 0.5), cmap="Blues")
    fig.colorbar(filled, ax=ax, label="log p (standardised units)", ticks=np.arange(-8, top + 0.25, 1.0))
    ax.contour(E, W, lp, levels=[threshold], colors="tab:red", linewidths=1.2, linestyles="--")
    groups = [(data, dict(s=10, c="k", label="training eruptions"))]
    if held is not None:
        groups.append((held, dict(s=22, c="tab:green", marker="s", label="held-out eruptions")))
    if extra is not None:
        groups.append((extra, dict(s=60, c="tab:orange", marker="X", zorder=3, label="made-up eruptions")))
    for pts, style in groups:
        raw = pts.numpy() * std + mean
        ax.scatter(raw[:, 0], raw[:, 1], **style)
        with torch.no_grad():
            low = flow.log_prob(pts).numpy() < threshold
        ax.scatter(raw[low, 0], raw[low, 1], s=160, facecolors="none", edgecolors="tab:red", linewidths=2)
    ax.plot(
        [], [], "o", ms=12, mfc="none", mec="tab:red", mew=2, label=f"flagged: log p < {threshold:.2f} (dashed line)"
    )
    ax.set_xlabel("eruption duration (min)")
    ax.set_ylabel("waiting time to next (min)")
    ax.legend(loc="upper left", fontsize="small")
    ax.set_title("exact log-density from a flow, used to flag unusual eruptions")
    return fig
