"""Notebook 08's static figures: digits, the collapse onto the grid, masks on the 8x8 grid, training and
validation bits per dimension, and the latent space (temperature, interpolation).

Every function returns a Figure; the notebook shows it with ``lessonlib.ui.figures.show``.
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

from lessonlib.flows import Flow
from lessonlib.lessons.l08_images.experiments import LEVELS, CollapseRun, History, interpolate, temperature_samples
from lessonlib.ui.figures import static_figure
from lessonlib.ui.style import current

__all__ = [
    "digit_strip",
    "plot_digits",
    "plot_collapse",
    "plot_slices",
    "plot_masks",
    "plot_training",
    "plot_temperatures",
    "plot_interpolation",
]

SIDE = 8


def digit_strip(images: Tensor | np.ndarray, per_row: int, gap: int = 1) -> np.ndarray:
    """Images (N, 64) laid out as one picture, ``per_row`` digits a row, ``gap`` blank pixels between them.

    Shapes: -> (rows * (8 + gap) - gap, per_row * (8 + gap) - gap), blanks are NaN (drawn as background).
    """
    a = images.detach().double().numpy() if isinstance(images, Tensor) else np.asarray(images, dtype=np.float64)
    n = a.shape[0]
    rows = -(-n // per_row)
    cell = SIDE + gap
    out = np.full((rows * cell - gap, per_row * cell - gap), np.nan)
    for i in range(n):
        r, c = divmod(i, per_row)
        out[r * cell : r * cell + SIDE, c * cell : c * cell + SIDE] = a[i].reshape(SIDE, SIDE)
    return out


def show_digits(ax: Axes, images: Tensor | np.ndarray, per_row: int, title: str = "") -> None:
    """Draw digits on ``ax`` in grey (0 white, 16 black), without ticks."""
    ax.imshow(digit_strip(images, per_row), cmap="gray_r", vmin=0, vmax=LEVELS - 1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)


def plot_digits(pixels: np.ndarray, labels: np.ndarray, n: int = 30) -> Figure:
    """The first ``n`` digits with their labels, and the histogram of all their grey levels."""
    fig, (a1, a2) = static_figure(1, 2, height=current().fig_width * 0.33, width_ratios=[2.2, 1])
    show_digits(
        a1, pixels[:n], per_row=10, title=f"{n} training digits; labels: {''.join(str(int(v)) for v in labels[:n])}"
    )
    values, counts = np.unique(pixels, return_counts=True)
    a2.bar(values, counts / counts.sum(), color="0.35")
    a2.set_yscale("log")
    a2.set_xticks([0, 4, 8, 12, 16])
    a2.set(xlabel="grey level k", ylabel="share of pixels", title="only 17 values, mostly 0")
    return fig


def _draw_slices(ax: Axes, grid: np.ndarray, slices: dict[str, np.ndarray], pixel_value: float) -> None:
    """Log-density curves along one pixel, with the integers (bin edges) as thin lines; the y axis stops
    800 nats below the highest point, so a smooth curve and a spike can share it."""
    top = max(float(v.max()) for v in slices.values())
    for (name, values), colour in zip(slices.items(), ("C3", "C0", "C2")):
        ax.plot(grid, values, lw=1.4, color=colour, label=name)
    for k in range(int(np.ceil(grid.min())), int(grid.max()) + 1):
        ax.axvline(k, color="0.85", lw=0.6, zorder=0)
    ax.axvline(pixel_value, color="0.4", ls=":", lw=1)
    ax.set_ylim(top - 800, top + 60)
    ax.set(xlabel="value of the pixel (the other 63 held at the image's)", ylabel="log p (nats)")
    ax.legend(loc="lower center")


def plot_collapse(run: CollapseRun, grid: np.ndarray, slices: dict[str, np.ndarray], pixel_value: float) -> Figure:
    """Left: bits/dim of the flow trained on integers, at the integers and on dequantised pixels, per step.
    Right: log-density along one pixel of a training image (``slices``: name -> log p on ``grid``)."""
    fig, (a1, a2) = static_figure(1, 2, height=current().fig_width * 0.36)
    a1.plot(run.steps, run.integer_bpd, "o-", color="C3", label="at the integer pixels it trains on")
    a1.plot(run.steps, run.dequantised_bpd, "s-", color="C0", label="on dequantised validation images")
    a1.set_yscale("symlog", linthresh=1.0)
    a1.axhline(0, color="0.3", lw=0.8)
    a1.set(xlabel="training step", ylabel="bits / dim (symlog scale)", title="trained on raw integers")
    a1.legend(loc="upper left")
    _draw_slices(a2, grid, slices, pixel_value)
    a2.set_title("along a pixel that is 0 in every training image")
    return fig


def plot_slices(grid: np.ndarray, slices: dict[str, np.ndarray], pixel_value: float, title: str = "") -> Figure:
    """Log-density along one pixel of an image for several models (``slices``: name -> log p on ``grid``)."""
    fig, ax = static_figure(height=current().fig_width * 0.36)
    _draw_slices(ax, grid, slices, pixel_value)
    ax.set_title(title)
    return fig


def plot_masks(masks: list[Tensor], names: list[str]) -> Figure:
    """Each layer's mask on the 8x8 grid: dark = kept (seen by the network), light = transformed."""
    fig, axes = static_figure(1, len(masks), height=current().fig_width * 0.27)
    for ax, m, name in zip(np.atleast_1d(axes), masks, names):
        ax.imshow(m.detach().double().numpy().reshape(SIDE, SIDE), cmap="Blues", vmin=-0.3, vmax=1.2)
        ax.set_xticks(np.arange(-0.5, SIDE, 1), minor=True)
        ax.set_yticks(np.arange(-0.5, SIDE, 1), minor=True)
        ax.grid(which="minor", color="white", lw=0.8)
        ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
        ax.set_title(name)
    fig.suptitle("dark: kept (fed to the layer's network), light: transformed")
    return fig


def plot_training(hist: History, baselines: dict[str, float]) -> Figure:
    """Training and validation bits/dim every few steps, the step kept (best on validation), and baselines."""
    fig, ax = static_figure(height=current().fig_width * 0.4)
    ax.plot(hist.steps, hist.train_bpd, "o-", color="C1", label="flow, training images")
    ax.plot(hist.steps, hist.val_bpd, "o-", color="C0", label="flow, validation images")
    ax.axvline(hist.best_step, color="C0", ls=":", label=f"kept: step {hist.best_step} (best on validation)")
    for (name, value), colour in zip(baselines.items(), ("0.45", "0.7")):
        ax.axhline(value, color=colour, ls="--", label=f"{name}, validation")
    ax.set(xlabel="training step", ylabel="bits / dim", title="the gap between the two curves is overfitting")
    ax.legend(loc="upper right")
    return fig


def plot_temperatures(flow: Flow, eps: Tensor, temperatures: list[float]) -> Figure:
    """Rows of samples x = f(T eps) for each temperature T, the same eps in every row."""
    fig, axes = static_figure(len(temperatures), 1, height=current().fig_width * 0.09 * len(temperatures) + 0.3)
    for ax, t in zip(np.atleast_1d(axes), temperatures):
        show_digits(ax, temperature_samples(flow, eps, t), per_row=len(eps))
        ax.set_axis_on()
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(f"T = {t:g}", rotation=0, ha="right", va="center")
    return fig


def plot_interpolation(flow: Flow, pairs: list[tuple[Tensor, Tensor]], n: int = 9) -> Figure:
    """Each row: a test digit, the images on the straight line between the two latents, the other digit."""
    ts = np.linspace(0, 1, n)
    fig, axes = static_figure(len(pairs), 1, height=current().fig_width * 0.1 * len(pairs) + 0.3)
    for ax, (a, b) in zip(np.atleast_1d(axes), pairs):
        with torch.no_grad():
            images, _ = interpolate(flow, a, b, ts)
        show_digits(ax, images.clamp(0, LEVELS), per_row=n)
    np.atleast_1d(axes)[0].set_title("t = 0  →  t = 1: z = (1 − t) z_a + t z_b, pushed through the flow")
    return fig
