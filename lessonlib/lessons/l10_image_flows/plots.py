"""Notebook 10's static figures: the squeeze on a digit, the ablation with its seeds, and samples per level.

Every function returns a Figure; the notebook shows it with ``lessonlib.ui.figures.show``.
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from lessonlib.image_layers import Squeeze
from lessonlib.lessons.l08_images.experiments import LEVELS
from lessonlib.lessons.l08_images.plots import show_digits
from lessonlib.lessons.l10_image_flows.experiments import VARIANTS, Ablation, level_samples
from lessonlib.multiscale import MultiScaleFlow
from lessonlib.ui.figures import static_figure
from lessonlib.ui.style import current

__all__ = ["plot_squeeze", "plot_ablation", "plot_levels"]

_CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")


def plot_squeeze(image: Tensor) -> Figure:
    """A digit (64 pixels) with its 2 x 2 blocks outlined, and the 4 channels the squeeze makes of it."""
    fig, axes = static_figure(1, 5, height=current().fig_width * 0.26, width_ratios=[2, 1, 1, 1, 1])
    style = {"cmap": "gray_r", "vmin": 0, "vmax": LEVELS - 1, "interpolation": "nearest"}
    axes[0].imshow(image.reshape(8, 8).numpy(), **style)
    for k in range(1, 4):
        for line in (axes[0].axhline, axes[0].axvline):
            line(2 * k - 0.5, color="C0", lw=1.2)
    axes[0].set_title("the digit, 8 x 8, in 2 x 2 blocks")
    with torch.no_grad():
        channels = Squeeze((1, 8, 8)).inverse(image.reshape(1, 64).double()).reshape(4, 4, 4)
    for k, ax in enumerate(axes[1:]):
        ax.imshow(channels[k].numpy(), **style)
        ax.set_title(f"channel {k}:\n{_CORNERS[k]}")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def plot_ablation(ablation: Ablation, categorical: float) -> Figure:
    """Test bits/dim of every seed of every variant (dots: the bound; rings: the discrete estimate), with
    each variant's mean, and the per-pixel histograms of notebook 08 for scale."""
    fig, ax = static_figure(height=current().fig_width * 0.42)
    for row, variant in enumerate(VARIANTS):
        runs = ablation.runs[variant]
        y = np.full(len(runs), len(VARIANTS) - 1 - row, dtype=float)
        jitter = np.linspace(-0.12, 0.12, len(runs))
        ax.plot(
            [r.test_bpd for r in runs],
            y + jitter,
            "o",
            color="C0",
            ms=6,
            label="bound (what training optimises)" if row == 0 else None,
        )
        ax.plot(
            [r.discrete_bpd for r in runs],
            y + jitter,
            "o",
            mfc="none",
            color="C1",
            ms=6,
            label="discrete estimate, 32 noise draws" if row == 0 else None,
        )
        mean = ablation.summary(variant)[0]
        ax.plot([mean, mean], [y[0] - 0.25, y[0] + 0.25], color="C0", lw=2)
    ax.axvline(categorical, color="0.5", ls="--", label="per-pixel histograms (08)")
    ax.set_yticks(range(len(VARIANTS)), labels=list(VARIANTS)[::-1])
    ax.set(xlabel="test bits / dim (lower is better)", title="each dot one training seed; bars: the mean")
    ax.legend(loc="lower right", fontsize="small")
    return fig


def plot_levels(flow: MultiScaleFlow, eps: Tensor, temperature: float = 0.7) -> Figure:
    """One row per level: 8 images that share the other levels' z and redraw that level's (at ``temperature``)."""
    levels = sorted(flow.levels, key=lambda lv: -lv.start)
    temps = {lv.name: temperature for lv in levels}
    fig, axes = static_figure(len(levels), 1, height=current().fig_width * 0.1 * len(levels) + 0.3)
    for ax, lv in zip(np.atleast_1d(axes), levels):
        show_digits(ax, level_samples(flow, eps, temps, lv.name), per_row=len(eps))
        ax.set_axis_on()
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(f"{lv.name}\nredrawn", rotation=0, ha="right", va="center")
    return fig
