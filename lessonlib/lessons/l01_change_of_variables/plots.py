"""Notebook 01's static figures: densities over a grid, with a histogram of samples beside them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from lessonlib.ui.figures import static_figure
from lessonlib.ui.style import current

__all__ = ["plot_densities"]


def plot_densities(
    x: np.ndarray,
    curves: dict[str, np.ndarray],
    samples: np.ndarray | None = None,
    bins: int | Sequence[float] = 60,
    title: str = "",
    xlabel: str = "x",
    ylabel: str = "density",
    styles: Sequence[str] = ("-", "--", ":", "-."),
    hist_range: tuple[float, float] | None = None,
    width: float | None = None,
    ylim: tuple[float, float] | None = None,
) -> Figure:
    """p(x) for each curve over the grid x, and the histogram of ``samples`` (density-normalised) behind them.

    Shapes: x (N,); each curve (N,); samples (M,).
    """
    s = current()
    width = width or s.fig_width * 0.8
    fig, ax = static_figure(width=width, height=width * 0.42)
    if samples is not None:
        ax.hist(
            samples,
            bins=bins,
            range=hist_range,
            density=True,
            color="#bbbbbb",
            edgecolor="white",
            lw=0.5,
            label=f"histogram of {len(samples):,} samples",
        )
    colors = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"]
    for k, (label, y) in enumerate(curves.items()):
        ax.plot(x, y, styles[k % len(styles)], color=colors[k % len(colors)], lw=s.line_width, label=label)
    ax.axhline(0.0, color="#888888", lw=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.legend(loc="best", frameon=False)
    return fig
