"""Notebook 07's widgets: drag a spline's knots and watch the density rescale bin by bin.

``SplineExplorer``: a monotone rational-quadratic spline x = f(z) on [-3, 3] (straight-line tails beyond),
pushing a base density p_Z (bottom) to p_X (left). The learner drags the orange knots (positions) and the
small squares at the end of each knot's tangent (slopes), or uses the sliders. Each bin has its colour in
all three panels, and its probability is written in both densities: computed in z from the base's CDF and
in x by quadrature of the pushed density, the two agree (mass conservation). A knot cannot pass its
neighbours and a slope cannot reach 0: such a spline would not be invertible, and the widget says so.

``SplineCoupling2D``: one spline coupling layer in 2D, x1 = z1 and z2 = g(x2; knots(x1)), with the knots of
g waving with x1; the density of x and the images of the grid lines z1 = const and z2 = const.
"""

from __future__ import annotations

import math

import ipywidgets as w
import matplotlib
import numpy as np
import torch
from matplotlib.backend_bases import MouseEvent
from matplotlib.collections import PolyCollection
from matplotlib.ticker import MaxNLocator, MultipleLocator
from torch import Tensor

from lessonlib.cov1d import Density1D, Logistic, Normal
from lessonlib.inputs import one_of
from lessonlib.lessons.l07_splines.experiments import (
    BOUND,
    bin_masses,
    push,
    pushed_density,
    resample_knots,
    spline_knots,
    wave_coupling,
)
from lessonlib.splines import Knots, rq_spline, rq_spline_inverse
from lessonlib.ui.style import current
from lessonlib.ui.widgetkit import LessonWidget, freeze_layout, int_slider, new_figure, polyline, slider, steady_limit

__all__ = ["SplineExplorer", "SplineCoupling2D", "BASES", "DEFAULT_KNOTS", "GAP", "MIN_SLOPE", "MAX_SLOPE"]

BASES: dict[str, Density1D] = {"Normal(0, 1)": Normal(0.0, 1.0), "Logistic(0, 0.6)": Logistic(0.0, 0.6)}
#: the starting spline: 5 bins, steep in the middle, so a Gaussian becomes two bumps
DEFAULT_KNOTS = (
    np.array([-3.0, -1.8, -0.6, 0.6, 1.8, 3.0]),
    np.array([-3.0, -2.4, -1.2, 1.2, 2.4, 3.0]),
    np.array([1.0, 0.5, 2.5, 2.5, 0.5, 1.0]),
)
GAP = 0.05  # the closest two knots may come, in z and in x
MIN_SLOPE, MAX_SLOPE = 0.05, 6.0
LIM = 4.0  # the map is drawn on [-LIM, LIM]^2, so the tails show
COLOURS = matplotlib.colormaps["tab10"].colors
TAIL = "#bbbbbb"


def _bin_colours(k: int) -> list:
    return [COLOURS[i % len(COLOURS)] for i in range(k)]


class SplineExplorer(LessonWidget):
    """Drag a monotone spline's knots and slopes; p_X(x) = p_Z(z) / f'(z), and every bin keeps its probability."""

    title = "A monotone spline, knot by knot"
    # bins re-spaces the knots (state a film cannot put back); the knot's z, x and slope rescale the density
    # axes at nearly every position, so a film of them would be a picture per frame: the kernel draws those
    no_film = ("bins", "z", "x", "slope")

    def __init__(self, base: str = "Normal(0, 1)", n_grid: int = 360) -> None:
        super().__init__()
        one_of(base, "base", BASES)
        s = current()
        self._zg = np.linspace(-LIM, LIM, n_grid)
        self._xg = np.linspace(-LIM, LIM, n_grid)
        self.knots = spline_knots(*DEFAULT_KNOTS)
        self._selected = 1
        self._drag: tuple[str, int] | None = None
        self._note = ""
        self._nums: dict[str, float] = {}
        self._px_scaled = False
        # the knot's own sliders first: a sweep (tests, benchmark) reads a slider's range before it resets the
        # widget, and these ranges follow the selected knot
        self.add_control("z", slider("its z", 0.0, -BOUND, BOUND, 0.05))
        self.add_control("x", slider("its x", 0.0, -BOUND, BOUND, 0.05))
        self.add_control("slope", slider("its slope f'", 1.0, MIN_SLOPE, MAX_SLOPE, 0.05))
        self.add_control("knot", int_slider("knot", 1, 1, self.n_bins - 1))
        self.add_control("bins", int_slider("bins K", self.n_bins, 2, 8))
        self.add_control(
            "base",
            w.Dropdown(
                options=list(BASES),
                value=base,
                description="base p_Z",
                style={"description_width": "initial"},
                layout=w.Layout(width="auto", flex="1 1 auto"),
            ),
        )
        self._sync_sliders()
        self._defaults.update({name: c.value for name, c in self.controls.items()})
        self._build_figure()
        for event, handler in (
            ("button_press_event", self._on_press),
            ("motion_notify_event", self._on_motion),
            ("button_release_event", self._on_release),
        ):
            self.fig.canvas.mpl_connect(event, handler)
        self._finish(self._layout(s))
        freeze_layout(self.fig)

    def _layout(self, s) -> w.Widget:
        """The knot's controls beside the slope, bins and base, then the hint, the figure and the readouts."""
        c = self.controls
        hint = w.HTML(
            f'<span style="font-size:{s.control_font}">Drag an orange knot to move it, or the square on its '
            "tangent to change its slope; the end knots stay at (±3, ±3), where the straight tails begin.</span>"
        )
        layout = w.VBox(
            [
                w.HBox(
                    [
                        w.VBox([c["knot"], c["z"], c["x"]]),
                        w.VBox(
                            [
                                c["slope"],
                                c["bins"],
                                w.HBox([c["base"], self.reset_button], layout=w.Layout(width=s.control_width)),
                            ]
                        ),
                    ]
                ),
                hint,
                self.fig.canvas,
                self.readout,
                self.message,
            ]
        )
        return layout

    @property
    def n_bins(self) -> int:
        return self.knots.n_bins

    # -- figure -----------------------------------------------------------------------------
    def _build_figure(self) -> None:
        s = current()
        # on a 1280x720 slide the figure gets a wide strip (widget_fig_max); its panels are laid out for that shape
        fig, _ = new_figure(1, 1, width=s.fig_width, height=s.fig_width * (0.36 if s.presenter else 0.66))
        fig.clf()
        panels = fig.subplot_mosaic([["px", "map"], ["mass", "pz"]], width_ratios=[1.0, 2.2], height_ratios=[2.0, 1.0])
        self.ax_map, self.ax_px, self.ax_pz, self.ax_mass = (panels[k] for k in ("map", "px", "pz", "mass"))
        self.ax_px.sharey(self.ax_map)
        self.ax_pz.sharex(self.ax_map)
        self.fig = fig
        self._style_axes()
        lw = s.line_width
        am, apx, apz = self.ax_map, self.ax_px, self.ax_pz
        self.fill_z = apz.add_collection(PolyCollection([], alpha=0.45, lw=0))
        self.fill_x = apx.add_collection(PolyCollection([], alpha=0.45, lw=0))
        (self.line_pz,) = apz.plot([], [], color="#333", lw=lw * 0.7)
        (self.line_px,) = apx.plot([], [], color="#333", lw=lw * 0.7)
        self.curve = am.add_collection(matplotlib.collections.LineCollection([], lw=lw * 1.3))
        (self.tangents,) = am.plot([], [], color="#555", lw=lw * 0.6)
        (self.handles,) = am.plot([], [], "s", ms=7, color="white", mec="#333", mew=1.2, zorder=5)
        (self.knot_marks,) = am.plot(
            [], [], "o", ms=10 if not s.presenter else 14, color="#ff9f1c", mec="#333", zorder=6
        )
        (self.selected,) = am.plot(
            [], [], "o", ms=17 if not s.presenter else 22, mfc="none", mec="#d62728", mew=2, zorder=6
        )
        # each bin's probability as two bars, in z (solid) and in x (outlined); bars, not numbers on the figure:
        # text is a redraw's dearest part (the numbers are in the readout)
        self.bars = self.ax_mass.add_collection(PolyCollection([], lw=1.2))
        self.animate(
            self.fill_z,
            self.line_pz,
            self.fill_x,
            self.line_px,
            self.curve,
            self.tangents,
            self.handles,
            self.knot_marks,
            self.selected,
            self.bars,
        )

    def _style_axes(self) -> None:
        am, apx, apz = self.ax_map, self.ax_px, self.ax_pz
        for a in (am, apz):
            a.axvspan(-LIM, -BOUND, color=TAIL, alpha=0.25, lw=0)
            a.axvspan(BOUND, LIM, color=TAIL, alpha=0.25, lw=0)
        am.set_xlim(-LIM, LIM)
        am.set_ylim(-LIM, LIM)
        am.set_title("the spline x = f(z); grey: its straight tails")
        am.tick_params(labelbottom=False, labelleft=False)
        apx.set_ylabel("x (data)")
        apx.set_title("pushed density p_X")
        apz.set_xlabel("z (base)")
        apz.set_ylabel("p_Z(z)")
        am_ = self.ax_mass
        am_.set_xlim(-0.6, 7.6)
        am_.set_ylim(0, 1)
        am_.set_title("mass per bin: in z | in x", fontsize="medium")
        am_.set_xlabel("bin")
        am_.set_xticks(range(8))
        am_.yaxis.set_major_locator(MultipleLocator(0.5))
        am_.grid(False)
        for axis in (am.xaxis, am.yaxis, apz.xaxis):
            axis.set_major_locator(MultipleLocator(2.0))
        apx.xaxis.set_major_locator(MaxNLocator(2))
        apz.yaxis.set_major_locator(MultipleLocator(0.2))

    # -- the knots ------------------------------------------------------------------------------
    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return tuple(t.numpy().copy() for t in self.knots)  # type: ignore[return-value]

    def knot_range(self, j: int) -> dict[str, tuple[float, float]]:
        """Where inner knot j may go, in z and in x: strictly between its neighbours (GAP apart)."""
        z, x, _ = self._arrays()
        return {"z": (z[j - 1] + GAP, z[j + 1] - GAP), "x": (x[j - 1] + GAP, x[j + 1] - GAP)}

    def _sync_sliders(self) -> None:
        """Point the sliders at the selected knot: its values, and the ranges its neighbours allow (muted)."""
        c, j = self.controls, self._selected
        z, x, d = self._arrays()
        self._muted = True
        try:
            c["knot"].max = self.n_bins - 1
            c["knot"].value = j
            for name, (lo, hi), value in (("z", self.knot_range(j)["z"], z[j]), ("x", self.knot_range(j)["x"], x[j])):
                s, lo, hi, value = c[name], float(lo), float(hi), float(value)
                if (s.min, s.max) == (lo, hi):  # the usual case while a knot's own slider is dragged: no new range
                    s.value = value
                    continue
                with s.hold_sync():  # one message to the page, not one per limit (each rebuilds its slider there)
                    s.min, s.max = -LIM, LIM  # widen first, so the new range never excludes the value
                    s.value = value
                    s.min, s.max = lo, hi
            c["slope"].value = float(np.clip(d[j], MIN_SLOPE, MAX_SLOPE))
            c["bins"].value = self.n_bins
        finally:
            self._muted = False

    def _apply_controls(self) -> None:
        """Bring the knots in line with the controls: new K, another selected knot, or the knot's z, x, slope."""
        c = self.controls
        if c["bins"].value != self.n_bins:
            self.knots = resample_knots(self.knots, int(c["bins"].value))
            self._selected = min(self._selected, self.n_bins - 1)
            self._note = (
                f"Now {self.n_bins} bins: the new knots sit on the old curve, with its slopes there, so the "
                "map barely changes until you move them."
            )
        elif c["knot"].value != self._selected:
            self._selected = int(c["knot"].value)
        else:
            z, x, d = self._arrays()
            j = self._selected
            z[j], x[j], d[j] = float(c["z"].value), float(c["x"].value), float(c["slope"].value)
            self.knots = spline_knots(z, x, d)
        self._sync_sliders()

    def move_knot(self, j: int, z_new: float, x_new: float) -> None:
        """Move inner knot j towards (z_new, x_new); it stops GAP short of its neighbours, and the widget says why."""
        if not 1 <= j <= self.n_bins - 1:
            raise ValueError(f"knot {j} is an end knot or does not exist: the inner knots are 1 to {self.n_bins - 1}.")
        rng = self.knot_range(j)
        z, x, d = self._arrays()
        z[j], x[j] = np.clip(z_new, *rng["z"]), np.clip(x_new, *rng["x"])
        self._note = ""
        if z[j] != z_new or x[j] != x_new:
            self._note = (
                f"Knot {j} stops between its neighbours (z in [{rng['z'][0]:.2f}, {rng['z'][1]:.2f}], x in "
                f"[{rng['x'][0]:.2f}, {rng['x'][1]:.2f}]): past a neighbour a bin would get a width or height "
                "&le; 0, the spline would run backwards there, and two z would share one x: no inverse."
            )
        self.knots, self._selected = spline_knots(z, x, d), j
        self._sync_sliders()
        self.refresh()

    def set_slope(self, j: int, slope: float) -> None:
        """Set f' at knot j (0..K); it stays within [MIN_SLOPE, MAX_SLOPE], and the widget says why."""
        z, x, d = self._arrays()
        d[j] = float(np.clip(slope, MIN_SLOPE, MAX_SLOPE))
        self._note = ""
        if d[j] != slope:
            self._note = (
                f"The slope at knot {j} stops at {d[j]:.2f}: at 0 the spline would be flat there (p_X = p_Z / f' "
                "infinite) and below 0 it would turn back, so two z would share one x."
                if slope < MIN_SLOPE
                else f"The slope at knot {j} stops at {MAX_SLOPE:g}, the widget's largest."
            )
        self.knots = spline_knots(z, x, d)
        if 1 <= j <= self.n_bins - 1:
            self._selected = j
        self._sync_sliders()
        self.refresh()

    # -- the maths, then the artists ------------------------------------------------------------
    def update(self) -> None:
        self._apply_controls()  # a no-op after a drag, which has already moved the knots and the sliders
        base = BASES[self.controls["base"].value]
        masses = bin_masses(base, self.knots)
        self._draw_curve()
        self._draw_densities(base, masses)
        self._write(base, masses)
        self.say(self._note, "warn" if "stops" in self._note else "info")
        self._note = ""

    def _draw_curve(self) -> None:
        z, x, d = self._arrays()
        xs, _ = push(self._zg, self.knots)
        which = np.clip(np.searchsorted(z, self._zg, side="right") - 1, -1, self.n_bins)
        segs, cols = [], []
        for k in range(-1, self.n_bins + 1):  # the left tail, the bins, the right tail
            m = which == k
            if m.any():
                segs.append(np.column_stack([self._zg[m], xs[m]]))
                cols.append(TAIL if k in (-1, self.n_bins) else _bin_colours(self.n_bins)[k])
        self.curve.set_segments(segs)
        self.curve.set_color(cols)
        self.knot_marks.set_data(z[1:-1], x[1:-1])
        self.selected.set_data([z[self._selected]], [x[self._selected]])
        hz, hx = self.handle_points()
        self.tangents.set_data(*polyline([[(zk, xk), (a, b)] for zk, xk, a, b in zip(z, x, hz, hx)]))
        self.handles.set_data(hz, hx)

    def handle_points(self) -> tuple[np.ndarray, np.ndarray]:
        """Data coordinates of the slope handles: a fixed screen length along each knot's tangent."""
        z, x, d = self._arrays()
        length = 0.55  # in data units when the slope is 1
        scale = length * math.sqrt(2) / np.sqrt(1 + d**2)
        return z + scale, x + scale * d

    def _draw_densities(self, base: Density1D, masses: dict[str, np.ndarray]) -> None:
        """Both densities, filled bin by bin (tails grey); one pass of the inverse for all the points of p_X."""
        z, x, _ = self._arrays()
        cols = [TAIL, *_bin_colours(self.n_bins), TAIL]
        t = np.linspace(0.0, 1.0, 40)
        edges_z, edges_x = np.r_[-LIM, z, LIM], np.r_[-LIM, x, LIM]
        zz = edges_z[:-1, None] + (edges_z[1:] - edges_z[:-1])[:, None] * t  # (K + 2, 40): bins and tails
        xx = edges_x[:-1, None] + (edges_x[1:] - edges_x[:-1])[:, None] * t
        p_x = pushed_density(base, self.knots, np.r_[self._xg, xx.ravel()])
        px, px_bins = p_x[: self._xg.size], p_x[self._xg.size :].reshape(xx.shape)
        pz, pz_bins = base.pdf(self._zg), base.pdf(zz)
        zero = np.zeros((zz.shape[0], 2))
        self.fill_z.set_verts(np.stack([np.c_[zz, zz[:, [-1, 0]]], np.c_[pz_bins, zero]], -1))
        self.fill_x.set_verts(np.stack([np.c_[px_bins, zero], np.c_[xx, xx[:, [-1, 0]]]], -1))
        self.fill_z.set_facecolor(cols)
        self.fill_x.set_facecolor(cols)
        self.line_pz.set_data(self._zg, pz)
        self.line_px.set_data(px, self._xg)
        self.ax_pz.set_ylim(0, float(pz.max()) * 1.3)
        top = steady_limit(self.ax_px.get_xlim()[0] if self._px_scaled else None, max(float(px.max()), 0.05))
        self.ax_px.set_xlim(top, 0)
        self._px_scaled = True
        self._draw_bars(masses)

    def _draw_bars(self, masses: dict[str, np.ndarray]) -> None:
        """Bin k's probability in z (from F_Z, solid bar) and in x (quadrature of p_X, outlined bar), side by side."""
        rects, faces, edges = [], [], []
        for k, (mz, mx) in enumerate(zip(masses["z"], masses["x"])):
            colour = _bin_colours(self.n_bins)[k]
            for left, m, face in ((k - 0.38, mz, colour), (k + 0.02, mx, "white")):
                rects.append([(left, 0.0), (left + 0.36, 0.0), (left + 0.36, m), (left, m)])
                faces.append(face)
                edges.append(colour)
        self.bars.set_verts(rects)
        self.bars.set_facecolor(faces)
        self.bars.set_edgecolor(edges)

    def _write(self, base: Density1D, masses: dict[str, np.ndarray]) -> None:
        z, x, d = self._arrays()
        j = self._selected
        p_z = float(base.pdf(np.array([z[j]]))[0])
        p_x = float(pushed_density(base, self.knots, np.array([x[j]]))[0])
        n = {
            "knot": j,
            "z": z[j],
            "x": x[j],
            "slope": d[j],
            "p_z": p_z,
            "p_x": p_x,
            "mass_z_left": masses["z"][j - 1],
            "mass_x_left": masses["x"][j - 1],
            "mass_z_right": masses["z"][j],
            "mass_x_right": masses["x"][j],
            "total_x": masses["below"] + float(masses["x"].sum()) + masses["above"],
        }
        self._nums = {k: float(v) for k, v in n.items()}
        fs = current().control_font
        self.readout.value = (
            f'<span style="font-size:{fs}">Knot {j} at z = {z[j]:.2f}, x = {x[j]:.2f}, slope f\' = <b>{d[j]:.3f}</b>: '
            f"there p_Z = {p_z:.4f} and p_X = p_Z / f' = <b>{p_x:.4f}</b>. "
            f"Bin {j - 1} (left of it): mass in z = {masses['z'][j - 1]:.4f}, mass in x = {masses['x'][j - 1]:.4f}. "
            f"Bin {j} (right): mass in z = {masses['z'][j]:.4f}, mass in x = {masses['x'][j]:.4f}. "
            f"All of x: total = {n['total_x']:.4f}.<br>Mass per bin, in z (from F_Z): "
            + ", ".join(f"{m:.3f}" for m in masses["z"])
            + "; in x (quadrature of p_X): "
            + ", ".join(f"{m:.3f}" for m in masses["x"])
            + ".</span>"
        )

    def numbers(self) -> dict[str, float]:
        return dict(self._nums)

    # -- dragging ---------------------------------------------------------------------------------
    def knot_pixels(self) -> np.ndarray:
        """Display (pixel) coordinates of the inner knots, shape (K - 1, 2)."""
        z, x, _ = self._arrays()
        return self.ax_map.transData.transform(np.column_stack([z[1:-1], x[1:-1]]))

    def handle_pixels(self) -> np.ndarray:
        """Display coordinates of the slope handles of every knot, shape (K + 1, 2)."""
        return self.ax_map.transData.transform(np.column_stack(self.handle_points()))

    def _on_press(self, event: MouseEvent) -> None:
        if event.inaxes is not self.ax_map or event.button not in (1, None):
            return
        reach = 14 * (1.4 if current().presenter else 1.0)
        where = np.array([event.x, event.y])
        dk = np.hypot(*(self.knot_pixels() - where).T)
        dh = np.hypot(*(self.handle_pixels() - where).T)
        if dh.min() <= reach and dh.min() < dk.min():
            self._drag = ("slope", int(np.argmin(dh)))
        elif dk.min() <= reach:
            self._drag = ("knot", int(np.argmin(dk)) + 1)

    def _on_motion(self, event: MouseEvent) -> None:
        if self._drag is None or event.inaxes is not self.ax_map or event.xdata is None:
            return
        kind, j = self._drag
        if kind == "knot":
            self.move_knot(j, float(event.xdata), float(event.ydata))
        else:
            z, x, _ = self._arrays()
            run = float(event.xdata) - z[j]
            self.set_slope(j, (float(event.ydata) - x[j]) / run if run > 1e-6 else -1.0)

    def _on_release(self, event: MouseEvent) -> None:
        self._drag = None

    def reset(self) -> None:
        self.knots, self._selected, self._px_scaled, self._note = spline_knots(*DEFAULT_KNOTS), 1, False, ""
        self._sync_sliders()
        self._muted = True
        try:
            self.controls["base"].value = self._defaults["base"]
        finally:
            self._muted = False
        self.refresh()


class SplineCoupling2D(LessonWidget):
    """One spline coupling layer in 2D: x1 = z1 and z2 = g(x2; knots(x1)); density of x and the bent grid."""

    title = "A spline coupling layer in 2D"
    N_PIX = 80
    VMAX = 0.5

    def __init__(self) -> None:
        super().__init__()
        st = current()
        self.fig, (self.ax_g, self.ax_x) = new_figure(
            1, 2, width=st.fig_width, height=st.fig_width * 0.45, gridspec_kw={"width_ratios": [1.0, 1.2]}
        )
        self.add_control("bend", slider("how much x1 moves the knots", 1.0, 0.0, 2.0, 0.1))
        self.add_control("bins", int_slider("bins K", 5, 2, 8))
        self.add_control("slice", slider("x1 of the slice", 0.5, -2.5, 2.5, 0.1))
        self._grid = torch.linspace(-BOUND, BOUND, self.N_PIX, dtype=torch.float64)  # pixel centres, in x1 and in x2
        self._line = torch.linspace(-BOUND, BOUND, 120, dtype=torch.float64)
        self._levels = torch.linspace(-2.0, 2.0, 9, dtype=torch.float64)
        self._build_artists()
        c = self.controls
        self._finish(
            w.VBox(
                [
                    w.HBox([w.VBox([c["bend"], c["bins"]]), w.VBox([c["slice"], self.reset_button])]),
                    self.fig.canvas,
                    self.readout,
                    self.message,
                ]
            )
        )
        freeze_layout(self.fig)

    def layer(self):
        """The library's SplineCoupling with the widget's conditioner (float64)."""
        return wave_coupling(float(self.controls["bend"].value), int(self.controls["bins"].value))

    def _build_artists(self) -> None:
        ax = self.ax_g
        ax.plot([-BOUND, BOUND], [-BOUND, BOUND], color="#ccc", lw=0.8)
        (self.g_curve,) = ax.plot([], [], color="#4c72b0")
        (self.g_knots,) = ax.plot([], [], "o", color="#ff9f1c", mec="#333", ms=6)
        ax.set(
            xlim=(-BOUND, BOUND),
            ylim=(-BOUND, BOUND),
            xlabel="x2 (data)",
            ylabel="z2 = g(x2) (base)",
            title="g at the slice: its knots depend on x1",
        )
        ax = self.ax_x
        self.image = ax.imshow(
            np.zeros((self.N_PIX, self.N_PIX)),
            extent=(-BOUND, BOUND, -BOUND, BOUND),
            origin="lower",
            cmap="Blues",
            vmin=0.0,
            vmax=self.VMAX,
            interpolation="bilinear",
        )
        (self.h_grid,) = ax.plot([], [], color="#dd8452", lw=0.9)
        lv = [[(float(v), -BOUND), (float(v), BOUND)] for v in self._levels]
        (self.v_grid,) = ax.plot(*polyline(lv), color="#888", lw=0.6)
        (self.slice_line,) = ax.plot([], [], color="#c44e52", lw=1.5, ls="--")
        ax.set(
            xlim=(-BOUND, BOUND),
            ylim=(-BOUND, BOUND),
            aspect="equal",
            xlabel="x1 = z1 (kept)",
            ylabel="x2",
            title="density of x, lines z1, z2 = const",
        )
        ax.grid(False)
        for a in (self.ax_g, self.ax_x):
            a.set_xticks([-3, 0, 3])
            a.set_yticks([-3, 0, 3])
        self.animate(self.g_curve, self.g_knots, self.image, self.v_grid, self.h_grid, self.slice_line)

    def _g(self, layer, x1: Tensor, t: Tensor, inverse: bool = False) -> tuple[Tensor, Tensor]:
        """g(t; knots(x1)) (or its inverse) for each x1 and every t: the layer's own knots and spline formula,
        with the conditioner run once per distinct x1. Shapes: x1 (A,), t (T,) -> (A, T), (A, T)."""
        knots = layer.knots(x1[:, None])  # (A, 1, K + 1)
        grid = Knots(*(k.expand(-1, t.numel(), -1) for k in knots))
        fn = rq_spline_inverse if inverse else rq_spline
        return fn(t.expand(x1.numel(), -1), grid, identity_tails=True)

    def update(self) -> None:
        layer = self.layer()
        g = self._grid
        with torch.no_grad():
            z2, log_det = self._g(layer, g, g)  # rows: x1 (columns of the picture), columns: x2
            log_p = -0.5 * (g[:, None] ** 2 + z2**2) - math.log(2 * math.pi) + log_det
            self.image.set_data(torch.exp(log_p).T.numpy())
            x2, _ = self._g(layer, self._line, self._levels, inverse=True)  # lines z2 = const, as x1 = z1 runs
            self.h_grid.set_data(
                *polyline(np.stack([self._line.expand(len(self._levels), -1).numpy(), x2.T.numpy()], -1))
            )
            x1 = float(self.controls["slice"].value)
            z_slice, _ = self._g(layer, torch.tensor([x1], dtype=torch.float64), self._line)
            knots = layer.knots(torch.tensor([[x1]], dtype=torch.float64))
        self.g_curve.set_data(self._line.numpy(), z_slice[0].numpy())
        self.g_knots.set_data(knots.u[0, 0].numpy(), knots.v[0, 0].numpy())
        self.slice_line.set_data([x1, x1], [-BOUND, BOUND])
        self._write(layer, x1, knots)

    def _write(self, layer, x1: float, knots: Knots) -> None:
        x = torch.tensor([[x1, 0.5]], dtype=torch.float64)
        with torch.no_grad():
            z, log_det = layer.inverse_and_log_det(x)
        J = torch.autograd.functional.jacobian(lambda v: layer.inverse(v[None])[0], x[0])
        self._nums = {
            "x1": x1,
            "z2": float(z[0, 1]),
            "log_det": float(log_det[0]),
            "J12": float(J[0, 1]),
            "log_det_autograd": float(torch.linalg.slogdet(J)[1]),
            "knots": float(knots.n_bins + 1),
        }
        n = self._nums
        self.readout.value = (
            f'<span style="font-size:{current().control_font}">At x = ({x1:.2f}, 0.50): z2 = g(0.50) = {n["z2"]:.3f}; '
            f"J of x to z is triangular (dz1/dx2 = {n['J12']:.0f}), so log|det J| = log g'(x2) = <b>{n['log_det']:.4f}</b>, "
            f"autograd: {n['log_det_autograd']:.4f}.</span>"
        )
        self.say("")

    def numbers(self) -> dict[str, float]:
        return dict(getattr(self, "_nums", {}))

    def pixels(self) -> Tensor:
        """The points where the density image is computed, row by row (x2 from -3 up), as (N_PIX^2, 2)."""
        X1, X2 = torch.meshgrid(self._grid, self._grid, indexing="xy")
        return torch.stack([X1.flatten(), X2.flatten()], 1)

    def density_grid(self) -> np.ndarray:
        """The density image as drawn (rows: x2 from -3 up, columns: x1). Shapes: (N_PIX, N_PIX)."""
        return np.asarray(self.image.get_array())
