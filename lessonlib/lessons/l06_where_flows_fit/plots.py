"""Notebook 06's static figure: a flow's exact log-density over Old Faithful, with unusual eruptions flagged.

The function returns a Figure; the notebook shows it with ``lessonlib.ui.figures.show``.
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from lessonlib.flows import Flow
from lessonlib.ui.figures import static_figure

__all__ = ["plot_density_and_outliers"]


def plot_density_and_outliers(flow: Flow, data: Tensor, threshold: float, mean: np.ndarray, std: np.ndarray,
                              extra: Tensor | None = None) -> Figure:
    """log p_X on a grid (filled contours) with the data in original units; points with log p < threshold circled.

    Shapes: data (N, 2) and extra (M, 2) standardised; mean, std (2,) undo the standardisation.
    """
    fig, ax = static_figure(width=7, height=4.5)
    g0 = np.linspace(-2.5, 2.5, 160)
    G0, G1 = np.meshgrid(g0, g0)
    grid = torch.as_tensor(np.stack([G0.ravel(), G1.ravel()], 1))
    with torch.no_grad():
        lp = flow.log_prob(grid).numpy().reshape(G0.shape)
    filled = ax.contourf(G0 * std[0] + mean[0], G1 * std[1] + mean[1], np.maximum(lp, -8), levels=14, cmap="Blues")
    fig.colorbar(filled, ax=ax, shrink=0.9, pad=0.02, label="log p of the standardised point (nats, clipped at -8)")
    pts = data if extra is None else torch.cat([data, extra])
    with torch.no_grad():
        score = flow.log_prob(pts).numpy()
    raw = pts.numpy() * std + mean
    n = data.shape[0]
    ax.scatter(raw[:n, 0], raw[:n, 1], s=10, c="k", label="eruptions (data)")
    if extra is not None:
        ax.scatter(raw[n:, 0], raw[n:, 1], s=60, c="tab:orange", marker="X", zorder=3, label="made-up eruptions")
    low = score < threshold
    ax.scatter(raw[low, 0], raw[low, 1], s=160, facecolors="none", edgecolors="tab:red", linewidths=2,
               label=f"flagged: log p < {threshold:.2f}")
    ax.set_xlabel("eruption duration (min)")
    ax.set_ylabel("waiting time to next (min)")
    ax.legend(loc="upper left")
    ax.set_title("exact log-density from a flow, used to flag unusual eruptions")
    return fig
