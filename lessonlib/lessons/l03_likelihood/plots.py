"""Notebook 03's static figures: the data's histogram under fitted densities, training snapshots, the
model trained without its log-det, and samples against the density they should follow.

Every ``plot_*`` function returns a Figure; the notebook shows it with ``lessonlib.ui.figures.show``.
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

from lessonlib.flows import Flow
from lessonlib.lessons.l03_likelihood.experiments import X_RANGE, DensitySnapshots, as_flat_array, density_on_grid
from lessonlib.ui.figures import static_figure
from lessonlib.ui.style import current

__all__ = [
    "DATA_COLOUR",
    "FLOW_COLOUR",
    "BAD_COLOUR",
    "draw_histogram",
    "plot_fits",
    "plot_snapshots",
    "plot_without_log_det",
    "plot_samples",
]

DATA_COLOUR, FLOW_COLOUR, BAD_COLOUR = "#9fb7d4", "#c0392b", "#7d3c98"


def draw_histogram(ax: Axes, x: np.ndarray, fast: bool = False) -> None:
    """The histogram of the eruption durations (density-normalised) on ``ax``; ``fast`` draws it as one filled
    outline, cheaper to redraw in a widget. Shapes: x (N,)."""
    style = {"histtype": "stepfilled"} if fast else {"edgecolor": "white", "lw": 0.5}
    ax.hist(x, bins=np.arange(1.5, 5.3, 0.1), density=True, color=DATA_COLOUR, label="data (272 eruptions)", **style)
    ax.set_xlim(*X_RANGE)
    ax.set_xlabel("eruption duration x (minutes)")


def plot_fits(flows: dict[str, Flow], x: Tensor) -> Figure:
    """One panel per flow, titled by its name: the data's histogram, p_X(x), and the NLL in the legend.

    Shapes: x (N, 1).
    """
    fig, axes = static_figure(1, len(flows), height=current().fig_width * 0.32, squeeze=False)
    grid = np.linspace(*X_RANGE, 400)
    for ax, (name, flow) in zip(axes[0], flows.items()):
        draw_histogram(ax, as_flat_array(x))
        with torch.no_grad():
            value = -flow.log_prob(x).mean().item()
        ax.plot(grid, density_on_grid(flow, grid), color=FLOW_COLOUR, label=f"p_X(x), NLL {value:.3f}")
        ax.set_ylabel("density")
        ax.legend(loc="upper left", frameon=False)
        ax.set_title(name)
    return fig


def plot_snapshots(live: DensitySnapshots, losses: list[float]) -> Figure:
    """Small multiples: the density at each snapshot step over the histogram, with the NLL then."""
    steps = sorted(live.snapshots)
    fig, axes = static_figure(1, len(steps), height=current().fig_width * 0.24, sharey=True)
    for ax, step in zip(np.atleast_1d(axes), steps):
        draw_histogram(ax, as_flat_array(live.x))
        ax.plot(live.grid, live.snapshots[step], color=FLOW_COLOUR)
        label = f"step {step}" + (f"\nNLL {losses[step - 1]:.3f}" if step > 0 else "\n(start)")
        ax.set_title(label, fontsize=current().font_size * 0.9)
        ax.set_xlabel("x (min)")
        ax.set_ylim(0, 1.0)
    np.atleast_1d(axes)[0].set_ylabel("density")
    return fig


def plot_without_log_det(good: Flow, bad: Flow, x: Tensor, bad_window: tuple[float, float] = (-6.0, 13.0)) -> Figure:
    """Left: both fits on the data window. Right: the broken 'density' p_Z(f^-1(x)) on a wide window."""
    fig, (ax1, ax2) = static_figure(1, 2, height=current().fig_width * 0.33)
    grid = np.linspace(*X_RANGE, 400)
    draw_histogram(ax1, as_flat_array(x))
    ax1.plot(grid, density_on_grid(good, grid), color=FLOW_COLOUR, label="trained with the log-det")
    ax1.plot(
        grid,
        density_on_grid(bad, grid, log_det=False),
        color=BAD_COLOUR,
        ls="--",
        label="trained without: p_Z(f^-1(x))",
    )
    ax1.set(ylim=(0, 1.0), ylabel="density", title="on the data")
    ax1.legend(loc="upper left", frameon=False)
    wide = np.linspace(*bad_window, 1000)
    ax2.plot(wide, density_on_grid(bad, wide, log_det=False), color=BAD_COLOUR, ls="--")
    ax2.fill_between(wide, density_on_grid(bad, wide, log_det=False), color=BAD_COLOUR, alpha=0.15)
    data = as_flat_array(x)
    ax2.axvspan(data.min(), data.max(), color=DATA_COLOUR, alpha=0.4, label="where the data are")
    ax2.set(xlabel="x (minutes)", title="the 'density' without the log-det, zoomed out", ylim=(0, 0.45))
    ax2.legend(loc="upper left", frameon=False)
    return fig


def plot_samples(flow: Flow, samples: Tensor, x: Tensor) -> Figure:
    """Histogram of samples drawn in one pass, against the density they should follow and the data."""
    fig, ax = static_figure(height=current().fig_width * 0.34)
    grid = np.linspace(*X_RANGE, 400)
    ax.hist(
        as_flat_array(samples),
        bins=np.linspace(*X_RANGE, 61),
        density=True,
        color="#f5b041",
        alpha=0.7,
        label=f"{len(samples):,} samples x = f(z)",
    )
    ax.plot(grid, density_on_grid(flow, grid), color=FLOW_COLOUR, label="fitted density p_X(x)")
    ax.plot(np.sort(as_flat_array(x)), np.full(len(x), -0.03), "|", color="#34495e", ms=8, label="data")
    ax.set(xlim=X_RANGE, ylim=(-0.07, 1.0), xlabel="eruption duration x (minutes)", ylabel="density")
    ax.legend(loc="upper left", frameon=False)
    return fig
