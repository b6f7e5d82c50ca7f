"""Notebook 02's static figures: linear maps and their images, the sign quiz, local linear maps, cell area
ratios, a histogram against the formula, and the cost of log-determinants.

Every function returns a Figure; the notebook shows it with ``lessonlib.ui.figures.show``.
"""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Polygon

from lessonlib.lessons.l02_jacobian.exercises import SIGN_QUIZ
from lessonlib.linear2d import (
    Map2D,
    bin_probabilities,
    cell_area_ratios,
    det2,
    grid_lines,
    is_singular,
    polygon_area,
    unit_square,
    warp_lines,
)
from lessonlib.ui.figures import static_figure
from lessonlib.ui.style import current

__all__ = [
    "plot_stretch_example",
    "plot_unit_square_images",
    "plot_sign_quiz",
    "plot_local_linear_map",
    "plot_cell_ratios",
    "plot_density_vs_histogram",
    "plot_timings",
    "det_colour",
    "square_outline",
    "POS_COLOUR",
    "NEG_COLOUR",
    "ZERO_COLOUR",
]

POS_COLOUR = "#1f6fb4"  # det > 0: orientation kept
NEG_COLOUR = "#d9651a"  # det < 0: orientation flipped (a mirror image)
ZERO_COLOUR = "#b30000"  # det = 0: collapse


def det_colour(det: float) -> str:
    """The colour of an image of the unit square: orientation kept (det > 0), flipped (det < 0), collapsed (0)."""
    return POS_COLOUR if det > 0 else NEG_COLOUR if det < 0 else ZERO_COLOUR


def square_outline(t: np.ndarray) -> np.ndarray:
    """The boundary of the unit square centred at 0, traced counter-clockwise by t in [0, 1] along each side.

    Shapes: t (n,) -> (4n, 2).
    """
    return (
        np.concatenate(
            [
                np.column_stack([t, 0 * t]),
                np.column_stack([1 + 0 * t, t]),
                np.column_stack([1 - t, 1 + 0 * t]),
                np.column_stack([0 * t, 1 - t]),
            ]
        )
        - 0.5
    )


def _outline(ax: Axes, P: np.ndarray, det: float, label: str | None = None, alpha: float = 0.3) -> None:
    colour = det_colour(det)
    ax.add_patch(Polygon(P[:-1], closed=True, facecolor=colour, edgecolor=colour, alpha=alpha, lw=2))
    ax.plot(P[:, 0], P[:, 1], color=colour, lw=2.5 if det != 0 else 4, label=label)


def _columns(ax: Axes, A: np.ndarray) -> None:
    for j, name in enumerate(("a1", "a2")):
        ax.annotate(
            "", xy=(A[0, j], A[1, j]), xytext=(0, 0), arrowprops={"arrowstyle": "-|>", "lw": 2, "color": "black"}
        )
        ax.text(A[0, j] * 1.08, A[1, j] * 1.08 + 0.05, name, fontsize=current().font_size, fontweight="bold")


def plot_stretch_example() -> Figure:
    """Uniform density 1 on the unit square, and its push through A = diag(2, 1): density 1/2 on [0, 2] x [0, 1]."""
    fig, (a0, a1) = static_figure(1, 2, sharey=True)
    A = np.diag([2.0, 1.0])
    for ax, M, dens, title in (
        (a0, np.eye(2), 1.0, "base: $p_Z = 1$ on $[0,1]^2$"),
        (a1, A, 0.5, "data: $x = Az$, $p_X = 1/2$ on $[0,2]\\times[0,1]$"),
    ):
        P = unit_square() @ M.T
        ax.add_patch(
            Polygon(
                P[:-1], closed=True, facecolor=matplotlib.colormaps["Blues"](0.25 + 0.6 * dens), edgecolor="black", lw=2
            )
        )
        ax.text(
            P[2, 0] / 2,
            0.5,
            f"density {dens:g}\narea {polygon_area(P):g}",
            ha="center",
            va="center",
            fontsize=current().font_size * 1.1,
        )
        ax.set(xlim=(-0.3, 2.3), ylim=(-0.3, 1.3), aspect="equal", title=title, xlabel="first coordinate")
    a0.set_ylabel("second coordinate")
    return fig


def plot_unit_square_images(matrices: list[np.ndarray], titles: list[str]) -> Figure:
    """One panel per matrix: the unit square (dashed) and its image A [0,1]^2, coloured by the sign of det A."""
    n = len(matrices)
    fig, axes = static_figure(1, n, height=current().fig_width * 0.3)
    axes = np.atleast_1d(axes)
    for ax, A, title in zip(axes, matrices, titles):
        A = np.asarray(A, dtype=np.float64)
        sq = unit_square()
        ax.plot(sq[:, 0], sq[:, 1], "k--", lw=1)
        d = det2(A)
        d = 0.0 if is_singular(A) else d
        _outline(ax, unit_square() @ A.T, d)
        _columns(ax, A)
        ax.set(xlim=(-2.2, 2.2), ylim=(-2.2, 2.2), aspect="equal")
        ax.set_title(f"{title}\ndet A = {d:.3g}", fontsize=current().font_size)
    return fig


def plot_sign_quiz() -> Figure:
    """The three pictures of the sign exercise: the columns a1, a2 and the image of the unit square, uncoloured."""
    fig, axes = static_figure(1, 3, height=current().fig_width * 0.3)
    for ax, (name, A) in zip(axes, SIGN_QUIZ.items()):
        P = unit_square() @ A.T
        ax.add_patch(Polygon(P[:-1], closed=True, facecolor="0.85", edgecolor="0.3", lw=1.5))
        _columns(ax, A)
        ax.set(xlim=(-2.4, 2.4), ylim=(-2.4, 2.4), aspect="equal", title=f"picture {name}")
    return fig


def plot_local_linear_map(m: Map2D, points: np.ndarray, h: float = 0.5) -> Figure:
    """Left: base space with small squares at ``points``. Right: the warped grid, the squares' exact images
    (filled, curved edges) and the parallelograms J_f(z) makes of them (dashed): close for a small square."""
    fig, (a0, a1) = static_figure(1, 2, height=current().fig_width * 0.42)
    lines = grid_lines(-2.5, 2.5, 11, 61)
    for L in lines:
        a0.plot(L[:, 0], L[:, 1], color="0.8", lw=0.8)
    for L in warp_lines(m.forward, lines):
        a1.plot(L[:, 0], L[:, 1], color="0.8", lw=0.8)
    side = square_outline(np.linspace(0, 1, 41))
    colours = ["#1f6fb4", "#2a9d3f", "#8e44ad", "#c0392b"]
    for k, z0 in enumerate(np.asarray(points, dtype=np.float64)):
        col = colours[k % len(colours)]
        sq = z0 + h * side
        img = m.forward(sq)
        J = m.jacobian(z0[None])[0]
        x0 = m.forward(z0[None])[0]
        par = x0 + (h * side) @ J.T
        a0.fill(sq[:, 0], sq[:, 1], color=col, alpha=0.6)
        a1.fill(img[:, 0], img[:, 1], color=col, alpha=0.6)
        a1.plot(par[:, 0], par[:, 1], "k--", lw=1.5)
        a1.annotate(
            f"|det J| = {abs(np.linalg.det(J)):.2f}",
            xy=x0,
            xytext=(x0[0] + 0.9, x0[1] - 0.9),
            color=col,
            fontsize=current().font_size * 0.9,
            fontweight="bold",
            arrowprops={"arrowstyle": "-", "color": col},
        )
    a0.set(xlim=(-2.6, 2.6), ylim=(-2.6, 2.6), aspect="equal", title="base space $z$: small squares")
    a1.set(xlim=(-4.2, 4.9), ylim=(-2.6, 4.6), aspect="equal", title="data space $x = f(z)$: images; dashed: $J_f(z)$")
    return fig


def plot_cell_ratios(m: Map2D, n: int = 16, lo: float = -2.0, hi: float = 2.0) -> Figure:
    """Each tiny cell's area ratio area(f(cell)) / area(cell) against |det J_f| at its centre."""
    centres, ratios = cell_area_ratios(m.forward, lo, hi, n)
    dets = np.abs(m.det(centres))
    fig, (a0, a1) = static_figure(1, 2)
    im = a0.imshow(ratios.reshape(n, n), origin="lower", extent=(lo, hi, lo, hi), cmap="viridis")
    fig.colorbar(im, ax=a0, shrink=0.85, label="area ratio")
    a0.set(title=f"area(f(cell)) / area(cell), {n}x{n} cells", xlabel="$z_1$", ylabel="$z_2$")
    a0.grid(False)
    a1.plot(dets, ratios, "o", ms=3, color=POS_COLOUR, label="cells")
    span = np.array([dets.min(), dets.max()])
    a1.plot(span, span, "k-", lw=1, label="ratio = |det J|")
    a1.set(xlabel="$|\\det J_f|$ at the cell's centre", ylabel="cell's area ratio", title=f"{m.name}: one dot per cell")
    a1.legend(loc="upper left")
    return fig


def plot_density_vs_histogram(m: Map2D, x_samples: np.ndarray, lim: float = 5.0, bins: int = 30) -> Figure:
    """Left: 2D histogram of samples x = f(z). Right: p_X(x) = p_Z(f^-1 x) / |det J_f| on the same bins and colour scale."""
    hist, formula = bin_probabilities(m, x_samples, lim, bins)
    area = (2.0 * lim / bins) ** 2
    vmax = float(max(hist.max(), formula.max())) / area
    fig, axes = static_figure(1, 2, sharey=True)
    for ax, img, title in (
        (axes[0], hist / area, f"histogram of {len(x_samples)} samples $x = f(z)$"),
        (axes[1], formula / area, "formula $p_Z(f^{-1}(x))\\,/\\,|\\det J_f(z)|$"),
    ):
        im = ax.imshow(img, origin="lower", extent=(-lim, lim, -lim, lim), cmap="magma", vmin=0, vmax=vmax)
        ax.set(title=title, xlabel="$x_1$", aspect="equal")
        ax.grid(False)
    axes[0].set_ylabel("$x_2$")
    fig.colorbar(im, ax=axes, shrink=0.85, label="density")
    return fig


def plot_timings(t: dict[str, np.ndarray]) -> Figure:
    """Measured seconds for a dense and a triangular log-determinant against d, log-log, with d^3 and d guides."""
    d = np.asarray(t["dims"], dtype=np.float64)
    fig, ax = static_figure(width=current().fig_width * 0.7, height=current().fig_width * 0.38)
    ax.loglog(d, t["dense"], "o-", color=NEG_COLOUR, label="dense: slogdet (LU), $O(d^3)$")
    ax.loglog(d, t["triangular"], "s-", color=POS_COLOUR, label="triangular: sum of log|diagonal|, $O(d)$")
    ax.loglog(d, t["dense"][-1] * (d / d[-1]) ** 3, ":", color=NEG_COLOUR, lw=1, label="slope 3 guide")
    ax.loglog(d, t["triangular"][-1] * (d / d[-1]), ":", color=POS_COLOUR, lw=1, label="slope 1 guide")
    ax.set(xlabel="dimension d", ylabel="seconds (best of repeats)", title="cost of a log-determinant, measured here")
    ax.legend(loc="upper left")
    return fig
