"""Figures and the drag-the-basis-vectors widget of notebook 02 (2D maps and their determinants).

``LinearMap2D()`` is a live ipympl widget with two modes:

* linear: drag the tips of A's columns a1, a2 (or move the sliders a11 a12 a21 a22). The unit square,
  a grid and a pushed Gaussian density (fixed colour scale) follow; det A, the area of the image of
  the unit square and the density at the origin are printed; orientation is shown by colour.
  det A = 0 never raises: the square is drawn squashed onto a line, with the reason.
* nonlinear: pick a map f, drag a point z0 in the base space. A small square around z0, its exact
  image under f (curved) and the parallelogram J_f(z0) makes of it (the local linear map) are drawn.

The other functions draw the notebook's static figures and return them; ``show_png(fig)`` displays a
figure as a PNG (identical bytes on every run) and closes it.
"""

from __future__ import annotations

import io
from typing import Any

import ipywidgets as w
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Polygon

from lessonlib.linear2d import (
    MAPS,
    Map2D,
    bin_probabilities,
    cell_area_ratios,
    collapse_sentence,
    det2,
    gaussian_density,
    get_map,
    grid_lines,
    grid_points,
    is_singular,
    polygon_area,
    pushed_density_map,
    unit_square,
    warp_lines,
)
from lessonlib.style import current
from lessonlib.widgetkit import LessonWidget, freeze_layout, new_figure, polyline, slider

__all__ = [
    "LinearMap2D",
    "show_png",
    "plot_stretch_example",
    "plot_unit_square_images",
    "plot_sign_quiz",
    "plot_local_linear_map",
    "plot_cell_ratios",
    "plot_density_vs_histogram",
    "plot_timings",
    "SIGN_QUIZ",
]

POS_COLOUR = "#1f6fb4"  # det > 0: orientation kept
NEG_COLOUR = "#d9651a"  # det < 0: orientation flipped (a mirror image)
ZERO_COLOUR = "#b30000"  # det = 0: collapse
DENSITY_CMAP = "Greys"
DENSITY_VMAX = 0.35  # fixed colour scale: the standard normal's peak 1/(2 pi) = 0.159 sits at about half
LIM = 3.0  # both panels show [-LIM, LIM]^2


def show_png(fig: Figure) -> None:
    """Display ``fig`` as a PNG image (the same bytes on every run) and close it."""
    from IPython.display import Image, display

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=current().dpi)
    plt.close(fig)
    display(Image(data=buf.getvalue(), format="png"))


def _static_figure(ncols: int = 1, width: float | None = None, height: float | None = None, **kw) -> tuple[Figure, Any]:
    s = current()
    width = width or s.fig_width
    height = height or width * 0.36
    fig = Figure(figsize=(width, height), dpi=s.dpi, layout="constrained")
    axes = fig.subplots(1, ncols, **kw)
    return fig, axes


def _outline(ax, P: np.ndarray, det: float, label: str | None = None, alpha: float = 0.3) -> None:
    colour = POS_COLOUR if det > 0 else NEG_COLOUR if det < 0 else ZERO_COLOUR
    ax.add_patch(Polygon(P[:-1], closed=True, facecolor=colour, edgecolor=colour, alpha=alpha, lw=2))
    ax.plot(P[:, 0], P[:, 1], color=colour, lw=2.5 if det != 0 else 4, label=label)


def _columns(ax, A: np.ndarray) -> None:
    for j, name in enumerate(("a1", "a2")):
        ax.annotate("", xy=(A[0, j], A[1, j]), xytext=(0, 0), arrowprops={"arrowstyle": "-|>", "lw": 2, "color": "black"})
        ax.text(A[0, j] * 1.08, A[1, j] * 1.08 + 0.05, name, fontsize=current().font_size, fontweight="bold")


def plot_stretch_example() -> Figure:
    """Uniform density 1 on the unit square, and its push through A = diag(2, 1): density 1/2 on [0, 2] x [0, 1]."""
    fig, (a0, a1) = _static_figure(2, sharey=True)
    A = np.diag([2.0, 1.0])
    for ax, M, dens, title in ((a0, np.eye(2), 1.0, "base: $p_Z = 1$ on $[0,1]^2$"),
                               (a1, A, 0.5, "data: $x = Az$, $p_X = 1/2$ on $[0,2]\\times[0,1]$")):
        P = unit_square() @ M.T
        ax.add_patch(Polygon(P[:-1], closed=True, facecolor=plt.get_cmap("Blues")(0.25 + 0.6 * dens), edgecolor="black", lw=2))
        ax.text(P[2, 0] / 2, 0.5, f"density {dens:g}\narea {polygon_area(P):g}", ha="center", va="center", fontsize=current().font_size * 1.1)
        ax.set(xlim=(-0.3, 2.3), ylim=(-0.3, 1.3), aspect="equal", title=title, xlabel="first coordinate")
    a0.set_ylabel("second coordinate")
    return fig


def plot_unit_square_images(matrices: list[np.ndarray], titles: list[str]) -> Figure:
    """One panel per matrix: the unit square (dashed) and its image A [0,1]^2, coloured by the sign of det A."""
    n = len(matrices)
    fig, axes = _static_figure(n, height=current().fig_width * 0.3)
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


#: The matrices behind the "sign of det from a picture" exercise, labelled P, Q, R.
SIGN_QUIZ: dict[str, np.ndarray] = {
    "P": np.array([[1.2, 0.9], [-0.3, 1.1]]),
    "Q": np.array([[0.4, 1.3], [1.2, 0.2]]),
    "R": np.array([[-1.1, -0.6], [0.5, -1.2]]),
}


def plot_sign_quiz() -> Figure:
    """The three pictures of the sign exercise: the columns a1, a2 and the image of the unit square, uncoloured."""
    fig, axes = _static_figure(3, height=current().fig_width * 0.3)
    for ax, (name, A) in zip(axes, SIGN_QUIZ.items()):
        P = unit_square() @ A.T
        ax.add_patch(Polygon(P[:-1], closed=True, facecolor="0.85", edgecolor="0.3", lw=1.5))
        _columns(ax, A)
        ax.set(xlim=(-2.4, 2.4), ylim=(-2.4, 2.4), aspect="equal", title=f"picture {name}")
    return fig


def plot_local_linear_map(m: Map2D, points: np.ndarray, h: float = 0.5) -> Figure:
    """Left: base space with small squares at ``points``. Right: the warped grid, the squares' exact images
    (filled, curved edges) and the parallelograms J_f(z) makes of them (dashed): close for a small square."""
    fig, (a0, a1) = _static_figure(2, height=current().fig_width * 0.42)
    lines = grid_lines(-2.5, 2.5, 11, 61)
    for L in lines:
        a0.plot(L[:, 0], L[:, 1], color="0.8", lw=0.8)
    for L in warp_lines(m.forward, lines):
        a1.plot(L[:, 0], L[:, 1], color="0.8", lw=0.8)
    t = np.linspace(0, 1, 41)
    side = np.concatenate([np.column_stack([t, 0 * t]), np.column_stack([1 + 0 * t, t]),
                           np.column_stack([1 - t, 1 + 0 * t]), np.column_stack([0 * t, 1 - t])]) - 0.5
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
        a1.annotate(f"|det J| = {abs(np.linalg.det(J)):.2f}", xy=x0, xytext=(x0[0] + 0.9, x0[1] - 0.9), color=col,
                    fontsize=current().font_size * 0.9, fontweight="bold", arrowprops={"arrowstyle": "-", "color": col})
    a0.set(xlim=(-2.6, 2.6), ylim=(-2.6, 2.6), aspect="equal", title="base space $z$: small squares")
    a1.set(xlim=(-4.2, 4.9), ylim=(-2.6, 4.6), aspect="equal", title=f"data space $x = f(z)$: images; dashed: $J_f(z)$")
    return fig


def plot_cell_ratios(m: Map2D, n: int = 16, lo: float = -2.0, hi: float = 2.0) -> Figure:
    """Each tiny cell's area ratio area(f(cell)) / area(cell) against |det J_f| at its centre."""
    centres, ratios = cell_area_ratios(m.forward, lo, hi, n)
    dets = np.abs(m.det(centres))
    fig, (a0, a1) = _static_figure(2)
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
    fig, axes = _static_figure(2, sharey=True)
    for ax, img, title in ((axes[0], hist / area, f"histogram of {len(x_samples)} samples $x = f(z)$"),
                           (axes[1], formula / area, "formula $p_Z(f^{-1}(x))\\,/\\,|\\det J_f(z)|$")):
        im = ax.imshow(img, origin="lower", extent=(-lim, lim, -lim, lim), cmap="magma", vmin=0, vmax=vmax)
        ax.set(title=title, xlabel="$x_1$", aspect="equal")
        ax.grid(False)
    axes[0].set_ylabel("$x_2$")
    fig.colorbar(im, ax=axes, shrink=0.85, label="density")
    return fig


def plot_timings(t: dict[str, np.ndarray]) -> Figure:
    """Measured seconds for a dense and a triangular log-determinant against d, log-log, with d^3 and d guides."""
    d = np.asarray(t["dims"], dtype=np.float64)
    fig, ax = _static_figure(1, width=current().fig_width * 0.7, height=current().fig_width * 0.38)
    ax.loglog(d, t["dense"], "o-", color=NEG_COLOUR, label="dense: slogdet (LU), $O(d^3)$")
    ax.loglog(d, t["triangular"], "s-", color=POS_COLOUR, label="triangular: sum of log|diagonal|, $O(d)$")
    ax.loglog(d, t["dense"][-1] * (d / d[-1]) ** 3, ":", color=NEG_COLOUR, lw=1, label="slope 3 guide")
    ax.loglog(d, t["triangular"][-1] * (d / d[-1]), ":", color=POS_COLOUR, lw=1, label="slope 1 guide")
    ax.set(xlabel="dimension d", ylabel="seconds (best of repeats)", title="cost of a log-determinant, measured here")
    ax.legend(loc="upper left")
    return fig


# --------------------------------------------------------------------------------------
# The widget
# --------------------------------------------------------------------------------------
class LinearMap2D(LessonWidget):
    """Drag the columns of A (or a point z0 for a nonlinear map) and watch area and density respond."""

    title = "Drag the basis vectors"
    SNAP = 0.05  # drags snap to the sliders' step, so det A = 0 can be reached exactly
    PICK_PX = 18  # how close (pixels) a click must be to a handle

    def __init__(self, a11: float = 1.0, a12: float = 0.5, a21: float = 0.0, a22: float = 1.0, n_grid: int = 90) -> None:
        super().__init__()
        self.n_grid = n_grid
        self._xs, _, self._pts = grid_points(-LIM, LIM, n_grid)
        self._cell = ((2 * LIM) / n_grid) ** 2
        self._drag: str | None = None
        self.collapsed = False
        self._numbers: dict[str, float] = {}

        mode = w.ToggleButtons(options=[("linear map A", "linear"), ("nonlinear map f", "nonlinear")], value="linear",
                               style={"button_width": "150px"})
        self.add_control("mode", mode)
        for name, v in (("a11", a11), ("a12", a12), ("a21", a21), ("a22", a22)):
            self.add_control(name, slider(name, v, -2.0, 2.0, 0.05))
        self.add_control("map", w.Dropdown(options=list(MAPS), value="triangular", description="map f",
                                           layout=w.Layout(width="260px")))
        self.add_control("z1", slider("point z1", 1.0, -2.0, 2.0, 0.05))
        self.add_control("z2", slider("point z2", 0.5, -2.0, 2.0, 0.05))
        self._build_figure()

        c = self.controls
        self._linear_box = w.VBox([w.HBox([c["a11"], c["a12"]]), w.HBox([c["a21"], c["a22"]])])
        self._nonlinear_box = w.VBox([c["map"], w.HBox([c["z1"], c["z2"]])])
        layout = w.VBox([w.HBox([mode, self.reset_button]), self._linear_box, self._nonlinear_box,
                         self.fig.canvas, self.readout, self.message])
        self._finish(layout)

    # -- figure -----------------------------------------------------------------------------
    def _build_figure(self) -> None:
        s = current()
        self.fig, (self.ax_z, self.ax_x) = new_figure(1, 2, width=s.fig_width, height=s.fig_width * 0.45)
        ext = (-LIM, LIM, -LIM, LIM)
        base = gaussian_density(self._pts).reshape(self.n_grid, self.n_grid)
        kw = dict(origin="lower", extent=ext, cmap=DENSITY_CMAP, vmin=0.0, vmax=DENSITY_VMAX, interpolation="nearest")
        self.im_z = self.ax_z.imshow(base, **kw)
        self.im_x = self.ax_x.imshow(base, **kw)
        # No colour bar: its tick labels would cost a fifth of every redraw. The readout states the scale.
        self._lines = grid_lines(-2.0, 2.0, 9, 33)
        # each grid is one artist (lines joined with NaN gaps): one artist draws faster than 18
        (self.grid_z,) = self.ax_z.plot(*polyline(self._lines), color="#7a9cc6", lw=0.7)
        (self.grid_x,) = self.ax_x.plot(*polyline(self._lines), color="#7a9cc6", lw=0.7)
        sq = unit_square()
        self.sq_z = Polygon(sq[:-1], closed=True, facecolor=POS_COLOUR, edgecolor=POS_COLOUR, alpha=0.35, lw=2)
        self.sq_x = Polygon(sq[:-1], closed=True, facecolor=POS_COLOUR, edgecolor=POS_COLOUR, alpha=0.6, lw=2.5)
        self.ax_z.add_patch(self.sq_z)
        self.ax_x.add_patch(self.sq_x)
        (self.curve_x,) = self.ax_x.plot([], [], color="black", lw=2)  # exact image of the small square
        (self.line_x,) = self.ax_x.plot([], [], color=ZERO_COLOUR, lw=4)  # the collapsed square
        self.arrows_z = [self.ax_z.plot([0, e[0]], [0, e[1]], color="black", lw=2)[0] for e in np.eye(2)]
        self.arrows_x = [self.ax_x.plot([0, 1], [0, 0], color="black", lw=2.5)[0] for _ in range(2)]
        self.tips = self.ax_x.plot([1, 0], [0, 1], "o", ms=11, color="black", mfc="#ffd21f", mew=2, zorder=5)[0]
        self.point_z = self.ax_z.plot([1.0], [0.5], "o", ms=8, color="black", mfc="#ffd21f", mew=2, zorder=5)[0]
        self.point_x = self.ax_x.plot([1.0], [0.5], "o", ms=5, color="black", zorder=5)[0]
        self.label_x = [self.ax_x.text(0, 0, name, fontweight="bold", zorder=6) for name in ("a1", "a2")]
        for ax, title in ((self.ax_z, "base space $z$"), (self.ax_x, "data space $x$")):
            ax.set(xlim=(-LIM, LIM), ylim=(-LIM, LIM), aspect="equal")
            for spine in ax.spines.values():
                spine.set_visible(True)
            ax.set_xticks([])  # no tick labels: text is most of the cost of a redraw; the grid shows the scale
            ax.set_yticks([])
            ax.grid(False)
            ax.set_title(title)
        freeze_layout(self.fig)
        # what a drag or a slider changes is redrawn over a cached background (see LessonWidget.animate);
        # the mode switch, which shows and hides whole groups and retitles, redraws everything
        self.animate(self.im_x, self.grid_x, self.sq_z, self.grid_z, *self.arrows_z, self.sq_x, self.curve_x,
                     self.line_x, *self.arrows_x, self.tips, self.point_z, self.point_x, *self.label_x)
        self._shown_mode: str | None = None
        self.fig.canvas.mpl_connect("button_press_event", self._on_press)
        self.fig.canvas.mpl_connect("motion_notify_event", self._on_motion)
        self.fig.canvas.mpl_connect("button_release_event", self._on_release)

    # -- state ------------------------------------------------------------------------------
    def matrix(self) -> np.ndarray:
        """A from the sliders: columns a1 = (a11, a21), a2 = (a12, a22). Shapes: (2, 2)."""
        c = self.controls
        return np.array([[c["a11"].value, c["a12"].value], [c["a21"].value, c["a22"].value]], dtype=np.float64)

    def update(self) -> None:
        linear = self.controls["mode"].value == "linear"
        if self.controls["mode"].value != self._shown_mode:
            self._shown_mode = self.controls["mode"].value
            self.restage()
        self._linear_box.layout.display = None if linear else "none"
        self._nonlinear_box.layout.display = "none" if linear else None
        for a in (*self.arrows_z, *self.arrows_x, self.tips, *self.label_x):
            a.set_visible(linear)
        for a in (self.point_z, self.point_x, self.curve_x):
            a.set_visible(not linear)
        self.ax_x.title.set_text("data space $x = Az$" if linear else "data space $x = f(z)$")
        if linear:
            self._update_linear()
        else:
            self._update_nonlinear()

    def _colour(self, det: float) -> str:
        return POS_COLOUR if det > 0 else NEG_COLOUR if det < 0 else ZERO_COLOUR

    def _update_linear(self) -> None:
        A = self.matrix()
        det = det2(A)
        self.collapsed = is_singular(A)
        sq = unit_square()
        img = sq @ A.T
        self.sq_z.set_xy(sq[:-1])
        self.sq_z.set_facecolor(POS_COLOUR)
        self.sq_z.set_edgecolor(POS_COLOUR)
        self.grid_z.set_data(*polyline(self._lines))
        self.grid_x.set_data(*polyline(warp_lines(A, self._lines)))
        for j in range(2):
            self.arrows_x[j].set_data([0, A[0, j]], [0, A[1, j]])
            self.label_x[j].set_position((A[0, j] + 0.12, A[1, j] + 0.12))
        self.tips.set_data(A[0], A[1])
        area = polygon_area(img)
        if self.collapsed:
            self.sq_x.set_visible(False)
            self.line_x.set_data(img[:, 0], img[:, 1])
            self.line_x.set_visible(True)
            self.im_x.set_data(np.zeros((self.n_grid, self.n_grid)))
            self.readout.value = self._readout("det A = 0 &nbsp; area of the image = 0 &nbsp; no density: A has no inverse")
            self.say(collapse_sentence(A), "warn")
            self.problem = collapse_sentence(A)  # the intended teaching message, shown instead of a picture of a density
            self._numbers = {"det": 0.0, "area": area, "density_at_origin": float("nan"), "heat_max": 0.0, "collapsed": 1.0}
            return
        self.line_x.set_visible(False)
        self.sq_x.set_visible(True)
        self.sq_x.set_xy(img[:-1])
        colour = self._colour(det)
        self.sq_x.set_facecolor(colour)
        self.sq_x.set_edgecolor(colour)
        z = np.linalg.solve(A, self._pts.T).T
        dens = (gaussian_density(z) / abs(det)).reshape(self.n_grid, self.n_grid)
        self.im_x.set_data(dens)
        p0 = 1.0 / (2.0 * np.pi * abs(det))
        self.readout.value = self._readout(
            f"det A = {det:.3f} &nbsp; area of the image of the unit square = |det A| = {area:.3f} &nbsp; "
            f"density at 0: p<sub>Z</sub>(0) / |det A| = 0.159 / {abs(det):.3f} = {p0:.3f}")
        if abs(det) < 0.15:
            self.say(f"Nearly collapsed: |det A| = {abs(det):.3f}, so the plane is squeezed into a thin band and the density is "
                     f"{1 / abs(det):.0f} times higher than the base's. At det A = 0 it would be a line with no density.", "warn")
        elif det < 0:
            self.say("det A &lt; 0: the map flips orientation (going from a1 to a2 is now clockwise, a mirror image). "
                     "Area and density use |det A|, so the density is still positive.", "info")
        elif np.isclose(abs(det), 1.0, atol=5e-3):
            self.say(f"|det A| = {abs(det):.2f}: shapes change but areas do not, so the density keeps its peak height.", "info")
        elif abs(det) > 1:
            self.say(f"|det A| = {abs(det):.2f} &gt; 1: areas grow, so the same probability is spread thinner (paler).", "info")
        else:
            self.say(f"|det A| = {abs(det):.2f} &lt; 1: areas shrink, so the probability is packed tighter (darker).", "info")
        self._numbers = {"det": det, "area": area, "density_at_origin": p0, "heat_max": float(dens.max()),
                         "mass": float(dens.sum() * self._cell), "collapsed": 0.0}

    def _update_nonlinear(self) -> None:
        m = get_map(self.controls["map"].value)
        z0 = np.array([[self.controls["z1"].value, self.controls["z2"].value]])
        self.collapsed = False
        self.line_x.set_visible(False)
        self.sq_x.set_visible(True)
        self.grid_z.set_data(*polyline(self._lines))
        self.grid_x.set_data(*polyline(warp_lines(m.forward, self._lines)))
        self.im_x.set_data(pushed_density_map(m, self._pts).reshape(self.n_grid, self.n_grid))
        h = 0.6
        t = np.linspace(0.0, 1.0, 21)[:-1]
        side = np.concatenate([np.column_stack([t, 0 * t]), np.column_stack([1 + 0 * t, t]),
                               np.column_stack([1 - t, 1 + 0 * t]), np.column_stack([0 * t, 1 - t])]) - 0.5
        sq = z0 + h * side
        img = m.forward(sq)
        J = m.jacobian(z0)[0]
        x0 = m.forward(z0)[0]
        par = x0 + (h * side) @ J.T
        det = float(J[0, 0] * J[1, 1] - J[0, 1] * J[1, 0])
        self.sq_z.set_xy(sq)
        self.sq_z.set_facecolor(POS_COLOUR)
        self.sq_z.set_edgecolor(POS_COLOUR)
        self.sq_x.set_xy(par)
        colour = self._colour(det)
        self.sq_x.set_facecolor(colour)
        self.sq_x.set_edgecolor(colour)
        closed = np.vstack([img, img[:1]])
        self.curve_x.set_data(closed[:, 0], closed[:, 1])
        self.point_z.set_data([z0[0, 0]], [z0[0, 1]])
        self.point_x.set_data([x0[0]], [x0[1]])
        ratio = polygon_area(img) / (h * h)  # the exact image's area factor; tends to |det J| as h -> 0
        dens = float(gaussian_density(z0)[0] / abs(det))
        self.readout.value = self._readout(
            f"J<sub>f</sub>(z0) = [[{J[0, 0]:.2f}, {J[0, 1]:.2f}], [{J[1, 0]:.2f}, {J[1, 1]:.2f}]] &nbsp; det J = {det:.3f} &nbsp; "
            f"area(f(square)) / area(square) = {ratio:.3f} &nbsp; p<sub>X</sub>(f(z0)) = {dens:.4f}")
        self.say(f"{m.description}. Filled: the parallelogram J<sub>f</sub>(z0) makes of the square; black: the square's exact "
                 "image. Drag the yellow point; the smaller the square, the closer the two.", "info")
        self._numbers = {"det_J": det, "area_ratio": ratio, "density_at_point": dens,
                         "x0_1": float(x0[0]), "x0_2": float(x0[1]), "collapsed": 0.0}

    def _readout(self, text: str) -> str:
        scale = f"grey shading = density on a fixed scale: white 0, black {DENSITY_VMAX} or more"
        size = current().control_font
        return (f'<span style="font-size:{size}; font-family:monospace">{text}</span><br>'
                f'<span style="font-size:{size}; color:#666">{scale}</span>')

    def numbers(self) -> dict[str, float]:
        return dict(self._numbers)

    # -- dragging ---------------------------------------------------------------------------
    def _near(self, ax, event, pts: np.ndarray) -> int | None:
        disp = ax.transData.transform(pts)
        dist = np.hypot(disp[:, 0] - event.x, disp[:, 1] - event.y)
        j = int(np.argmin(dist))
        return j if dist[j] <= self.PICK_PX else None

    def _on_press(self, event) -> None:
        if event.button not in (1, None) or event.inaxes is None:
            return
        if self.controls["mode"].value == "linear" and event.inaxes is self.ax_x:
            j = self._near(self.ax_x, event, self.matrix().T)
            self._drag = None if j is None else ("a1", "a2")[j]
        elif self.controls["mode"].value == "nonlinear" and event.inaxes is self.ax_z:
            self._drag = "point"  # a click anywhere in the base panel moves the point there
            self._on_motion(event)

    def _snap(self, v: float) -> float:
        return float(np.clip(round(round(v / self.SNAP) * self.SNAP, 2), -2.0, 2.0))

    def _on_motion(self, event) -> None:
        if self._drag is None or event.xdata is None or event.ydata is None:
            return
        ax = self.ax_z if self._drag == "point" else self.ax_x
        if event.inaxes is not ax:
            return
        u, v = self._snap(event.xdata), self._snap(event.ydata)
        if self._drag == "a1":
            self.set(a11=u, a21=v)
        elif self._drag == "a2":
            self.set(a12=u, a22=v)
        else:
            self.set(z1=u, z2=v)

    def _on_release(self, event) -> None:
        self._drag = None
