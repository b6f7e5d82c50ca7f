"""Notebook 04's static figures: what ReLU collapses, a coupling layer's Jacobian, masks, the pixels a
layer leaves untouched, and training with and without the safeguards.

Every function returns a Figure; the notebook shows it with ``lessonlib.ui.figures.show``.
"""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from torch import Tensor

from lessonlib.coupling import kept_first_order
from lessonlib.flows import Flow
from lessonlib.toy2d import grid_density
from lessonlib.ui.figures import static_figure
from lessonlib.ui.style import current

__all__ = [
    "plot_relu_collapse",
    "plot_jacobian_blocks",
    "plot_masks",
    "plot_untouched",
    "plot_stability",
    "plot_densities_2d",
]


def plot_relu_collapse(inputs: Tensor, outputs: Tensor) -> Figure:
    """Inputs (left) and their images under ReLU (right), coloured by what ReLU does to them.

    Points with both coordinates negative all land on (0, 0); points with one negative
    coordinate are flattened onto an axis. Both are many-to-one: no inverse, no density.

    Shapes: inputs, outputs (N, 2).
    """
    fig, (a, b) = static_figure(1, 2, height=current().fig_width * 0.42)
    i, o = inputs.detach().double().numpy(), outputs.detach().double().numpy()
    n_zero = (o == 0).sum(axis=1)
    groups = (
        (n_zero == 0, "#4c72b0", "kept as they are"),
        (n_zero == 1, "#55a868", "flattened onto an axis"),
        (n_zero == 2, "#dd8452", "all sent to (0, 0)"),
    )
    for ax, pts, title in ((a, i, "inputs z"), (b, o, "outputs ReLU(z)")):
        for sel, colour, label in groups:
            ax.scatter(pts[sel, 0], pts[sel, 1], s=9, c=colour, label=f"{label} ({int(sel.sum())})")
        ax.set_title(title)
        ax.set_aspect("equal")
        ax.set_xlim(-3.2, 3.2)
        ax.set_ylim(-3.2, 3.2)
    b.legend(loc="lower left", fontsize="small")
    return fig


def _matrix_panel(ax: Axes, J: np.ndarray, labels: list[str], title: str) -> None:
    lim = 2.5 * max(1.0, float(np.abs(J).max()))  # pale colours keep the numbers readable
    ax.imshow(J, cmap="RdBu_r", vmin=-lim, vmax=lim)
    zero = J == 0
    ax.imshow(np.where(zero, 1.0, np.nan), cmap="Greys", vmin=0, vmax=4, alpha=0.9)  # exact zeros in grey
    D = J.shape[0]
    for i in range(D):
        for j in range(D):
            txt = "0" if zero[i, j] else f"{J[i, j]:.2f}"
            ax.text(
                j,
                i,
                txt,
                ha="center",
                va="center",
                fontsize="x-small" if D > 4 else "small",
                color="#555" if zero[i, j] else "black",
            )
    ax.set_xticks(range(D), labels=[f"$z_{{{k}}}$" for k in labels])
    ax.set_yticks(range(D), labels=[f"$x_{{{k}}}$" for k in labels])
    ax.tick_params(length=0)
    ax.grid(False)
    ax.set_title(title)


def plot_jacobian_blocks(J: Tensor, mask: Tensor) -> Figure:
    """The Jacobian of a coupling layer, as computed (left) and with kept coordinates listed first (right).

    Grey cells are exact zeros. Rows are outputs x_i, columns inputs z_j (1-based labels).

    Shapes: J (D, D); mask (D,).
    """
    Jn = J.detach().double().numpy()
    order = kept_first_order(mask).numpy()
    n_kept, D = int(mask.sum()), Jn.shape[0]
    fig, (a, b) = static_figure(1, 2, height=current().fig_width * 0.56)
    _matrix_panel(a, Jn, [str(k + 1) for k in range(D)], "J as computed")
    _matrix_panel(b, Jn[np.ix_(order, order)], [str(k + 1) for k in order], "kept coordinates first: block triangular")
    b.axhline(n_kept - 0.5, color="black", lw=1.5)
    b.axvline(n_kept - 0.5, color="black", lw=1.5)
    return fig


def plot_masks(masks: dict[str, tuple[Tensor, tuple[int, int]]]) -> Figure:
    """Each mask drawn as a grid: dark = kept (1, passed through), light = transformed (0).

    ``masks`` maps a title to (mask (D,), (rows, cols)) for the picture.
    """
    fig, axes = static_figure(1, len(masks), height=current().fig_width * 0.36, squeeze=False)
    axes = axes[0]
    cmap, norm = matplotlib.colormaps["Greys"], Normalize(vmin=-0.3, vmax=1.3)
    for ax, (title, (m, shape)) in zip(axes, masks.items()):
        ax.imshow(m.reshape(shape).double().numpy(), cmap=cmap, norm=norm)
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    swatches = [
        Patch(facecolor=cmap(norm(1.0)), edgecolor="0.5", label="1: kept (passed through unchanged)"),
        Patch(facecolor=cmap(norm(0.0)), edgecolor="0.5", label="0: transformed"),
    ]
    fig.legend(handles=swatches, loc="outside lower center", ncols=2, frameon=False)
    return fig


def plot_untouched(z_img: Tensor, x_img: Tensor, mask_img: Tensor) -> Figure:
    """Input image z, output x of one coupling layer, and |x - z|: zero on every kept pixel.

    Shapes: z_img, x_img, mask_img (H, W).
    """
    fig, axes = static_figure(1, 3, height=current().fig_width * 0.3)
    zi, xi, mi = (t.detach().double().numpy() for t in (z_img, x_img, mask_img))
    lim = float(max(np.abs(zi).max(), np.abs(xi).max()))
    diff = np.abs(xi - zi)
    for ax, img, title, kw in (
        (axes[0], zi, "input z", {"cmap": "RdBu_r", "vmin": -lim, "vmax": lim}),
        (axes[1], xi, "output x", {"cmap": "RdBu_r", "vmin": -lim, "vmax": lim}),
        (
            axes[2],
            np.sqrt(diff),
            "|x - z| (black: unchanged)",
            {"cmap": "magma", "vmin": 0, "vmax": float(np.sqrt(diff).max())},
        ),
    ):
        ax.imshow(img, **kw)
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    return fig


def plot_stability(runs: dict[str, list[list[float]]], steps: int, base_nll: float | None = None) -> Figure:
    """Training loss (NLL, nats) per step on a shared log scale: one panel per set-up, one line per start.

    ``runs``: name -> one list of losses per start (``experiments.stability_runs``). A run shorter than
    ``steps`` blew up: an x at the top of its panel marks the step where it stopped. ``base_nll``: a
    dashed line at the plain base's NLL, where a flow that starts as the identity starts.
    """
    fig, axes = static_figure(1, len(runs), height=current().fig_width * 0.36, sharey=True, squeeze=False)
    colours = ["#1a7f37", "#dd8452", "#c44e52", "#4c72b0"]
    finite = [v for curves in runs.values() for losses in curves for v in losses]
    lo, hi = (min(finite), max(finite)) if finite else (1.0, 10.0)
    top = hi * 20
    for ax, (name, curves), c in zip(axes[0], runs.items(), colours):
        for losses in curves:
            ax.plot(np.arange(1, len(losses) + 1), losses, color=c, lw=1, alpha=0.7)
        stops = [len(losses) + 1 for losses in curves if len(losses) < steps]
        ax.plot(stops, [top] * len(stops), marker="x", ms=10, mew=2, color=c, ls="none", alpha=0.7)
        if base_nll is not None:
            ax.axhline(base_nll, color="0.4", ls="--", lw=1, label="plain Gaussian base")
        ax.set_title(f"{name}\n{len(stops)} of {len(curves)} blew up", fontsize="small")
        ax.set_yscale("log")
        ax.set_xlabel("training step")
    axes[0, 0].set_ylim(max(lo * 0.7, 1e-1) if lo > 0 else None, top * 3)
    axes[0, 0].set_ylabel("NLL (nats)")
    if base_nll is not None:
        axes[0, -1].legend(fontsize="small", loc="center right")
    return fig


def plot_densities_2d(flows: dict[str, Flow], extent: tuple[float, float, float, float], n: int = 160) -> Figure:
    """Each flow's density on an n-by-n grid over ``extent``, side by side, each with its own colorbar.

    Shapes: each flow maps (B, 2) -> (B, 2).
    """
    fig, axes = static_figure(1, len(flows), height=current().fig_width * 0.4)
    for ax, (name, flow) in zip(np.atleast_1d(axes), flows.items()):
        dens = grid_density(flow.log_prob, extent, n)[0]
        image = ax.imshow(dens, origin="lower", extent=extent, cmap="viridis", vmin=0, interpolation="nearest")
        ax.set_title(name)
        ax.set_aspect("equal")
        ax.grid(False)
        fig.colorbar(image, ax=ax, label="density", shrink=0.85)
    return fig
