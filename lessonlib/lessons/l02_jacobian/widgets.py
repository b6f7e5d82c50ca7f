"""Notebook 02's widget: drag the basis vectors of a 2D map and watch area and density respond.

``LinearMap2D()`` is a live ipympl widget with two modes:

* linear: drag the tips of A's columns a1, a2 (or move the sliders a11 a12 a21 a22). The unit square,
  a grid and a pushed Gaussian density (fixed colour scale) follow; det A, the area of the image of
  the unit square and the density at the origin are printed; orientation is shown by colour.
  det A = 0 never raises: the square is drawn squashed onto a line, with the reason.
* nonlinear: pick a map f, drag a point z0 in the base space. A small square around z0, its exact
  image under f (curved) and the parallelogram J_f(z0) makes of it (the local linear map) are drawn.
"""

from __future__ import annotations

import ipywidgets as w
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backend_bases import MouseEvent
from matplotlib.patches import Polygon

from lessonlib.inputs import real_number
from lessonlib.lessons.l02_jacobian.plots import POS_COLOUR, ZERO_COLOUR, det_colour, square_outline
from lessonlib.linear2d import (
    MAPS,
    SINGULAR_RTOL,
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
from lessonlib.ui import film, livelayer
from lessonlib.ui.style import current
from lessonlib.ui.widgetkit import LessonWidget, freeze_layout, new_figure, polyline, slider

__all__ = ["LinearMap2D", "DENSITY_VMAX"]

DENSITY_CMAP = "Greys"
DENSITY_VMAX = 0.35  # fixed colour scale: the standard normal's peak 1/(2 pi) = 0.159 sits at about half
LIM = 3.0  # both panels show [-LIM, LIM]^2


class LinearMap2D(LessonWidget):
    """Drag the columns of A (or a point z0 for a nonlinear map) and watch area and density respond."""

    title = "Drag the basis vectors"
    SNAP = 0.05  # drags snap to the sliders' step, so det A = 0 can be reached exactly
    PICK_PX = 18  # how close (pixels) a click must be to a handle

    def __init__(
        self, a11: float = 1.0, a12: float = 0.5, a21: float = 0.0, a22: float = 1.0, n_grid: int = 90
    ) -> None:
        super().__init__()
        for name, v in (("a11", a11), ("a12", a12), ("a21", a21), ("a22", a22)):
            if not -2.0 <= real_number(v, name) <= 2.0:  # a slider would silently move it to its end
                raise ValueError(
                    f"{name} = {v:g} is outside the sliders' range -2 to 2: start from entries in [-2, 2]."
                )
        self.n_grid = n_grid
        self._xs, _, self._pts = grid_points(-LIM, LIM, n_grid)
        self._cell = ((2 * LIM) / n_grid) ** 2
        self._drag: str | None = None
        self.collapsed = False
        self._numbers: dict[str, float] = {}

        mode = w.ToggleButtons(
            options=[("linear map A", "linear"), ("nonlinear map f", "nonlinear")],
            value="linear",
            style={"button_width": "auto"},
        )
        self.add_control("mode", mode)
        for name, v in (("a11", a11), ("a12", a12), ("a21", a21), ("a22", a22)):
            self.add_control(name, slider(name, v, -2.0, 2.0, 0.05))
        self.add_control(
            "map",
            w.Dropdown(options=list(MAPS), value="triangular", description="map f", layout=w.Layout(width="260px")),
        )
        self.add_control("z1", slider("point z1", 1.0, -2.0, 2.0, 0.05))
        self.add_control("z2", slider("point z2", 0.5, -2.0, 2.0, 0.05))
        self._build_figure()

        c = self.controls
        self._linear_box = w.VBox([w.HBox([c["a11"], c["a12"]]), w.HBox([c["a21"], c["a22"]])])
        self._nonlinear_box = w.VBox([c["map"], w.HBox([c["z1"], c["z2"]])])
        layout = w.VBox(
            [
                w.HBox([mode, self.reset_button]),
                self._linear_box,
                self._nonlinear_box,
                self.fig.canvas,
                self.readout,
                self.message,
            ]
        )
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
        self.animate(
            self.im_x,
            self.grid_x,
            self.sq_z,
            self.grid_z,
            *self.arrows_z,
            self.sq_x,
            self.curve_x,
            self.line_x,
            *self.arrows_x,
            self.tips,
            self.point_z,
            self.point_x,
            *self.label_x,
        )
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
            self.readout.value = self._readout(
                "det A = 0 &nbsp; area of the image = 0 &nbsp; no density: A has no inverse"
            )
            self.say(collapse_sentence(A), "warn")
            # the intended teaching message, shown instead of a picture of a density
            self.problem = collapse_sentence(A)
            self._numbers = {
                "det": 0.0,
                "area": area,
                "density_at_origin": float("nan"),
                "heat_max": 0.0,
                "collapsed": 1.0,
            }
            return
        self.line_x.set_visible(False)
        self.sq_x.set_visible(True)
        self.sq_x.set_xy(img[:-1])
        colour = det_colour(det)
        self.sq_x.set_facecolor(colour)
        self.sq_x.set_edgecolor(colour)
        z = np.linalg.solve(A, self._pts.T).T
        dens = (gaussian_density(z) / abs(det)).reshape(self.n_grid, self.n_grid)
        self.im_x.set_data(dens)
        p0 = 1.0 / (2.0 * np.pi * abs(det))
        self.readout.value = self._readout(
            f"det A = {det:.3f} &nbsp; area of the image of the unit square = |det A| = {area:.3f} &nbsp; "
            f"density at 0: p<sub>Z</sub>(0) / |det A| = 0.159 / {abs(det):.3f} = {p0:.3f}"
        )
        self._say_det(det)
        self._numbers = {
            "det": det,
            "area": area,
            "density_at_origin": p0,
            "heat_max": float(dens.max()),
            "mass": float(dens.sum() * self._cell),
            "collapsed": 0.0,
        }

    def _say_det(self, det: float) -> None:
        """What |det A| does to areas and to the density, in one sentence."""
        if abs(det) < 0.15:
            self.say(
                f"Nearly collapsed: |det A| = {abs(det):.3f}, so the plane is squeezed into a thin band and the density is "
                f"{1 / abs(det):.0f} times higher than the base's. At det A = 0 it would be a line with no density.",
                "warn",
            )
        elif det < 0:
            self.say(
                "det A &lt; 0: the map flips orientation (going from a1 to a2 is now clockwise, a mirror image). "
                "Area and density use |det A|, so the density is still positive.",
                "info",
            )
        elif np.isclose(abs(det), 1.0, atol=5e-3):
            self.say(
                f"|det A| = {abs(det):.2f}: shapes change but areas do not, so the density keeps its peak height.",
                "info",
            )
        elif abs(det) > 1:
            self.say(
                f"|det A| = {abs(det):.2f} &gt; 1: areas grow, so the same probability is spread thinner (paler).",
                "info",
            )
        else:
            self.say(
                f"|det A| = {abs(det):.2f} &lt; 1: areas shrink, so the probability is packed tighter (darker).", "info"
            )

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
        side = square_outline(np.linspace(0.0, 1.0, 21)[:-1])
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
        colour = det_colour(det)
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
            f"area(f(square)) / area(square) = {ratio:.3f} &nbsp; p<sub>X</sub>(f(z0)) = {dens:.4f}"
        )
        self.say(
            f"{m.description}. Filled: the parallelogram J<sub>f</sub>(z0) makes of the square; black: the square's exact "
            "image. Drag the yellow point; the smaller the square, the closer the two.",
            "info",
        )
        self._numbers = {
            "det_J": det,
            "area_ratio": ratio,
            "density_at_point": dens,
            "x0_1": float(x0[0]),
            "x0_2": float(x0[1]),
            "collapsed": 0.0,
        }

    def _readout(self, text: str) -> str:
        scale = f"grey shading = density on a fixed scale: white 0, black {DENSITY_VMAX} or more"
        size = current().control_font
        return (
            f'<span style="font-size:{size}; font-family:monospace">{text}</span><br>'
            f'<span style="font-size:{size}; color:#666">{scale}</span>'
        )

    def numbers(self) -> dict[str, float]:
        return dict(self._numbers)

    # -- dragging ---------------------------------------------------------------------------
    def _near(self, ax: Axes, event: MouseEvent, pts: np.ndarray) -> int | None:
        disp = ax.transData.transform(pts)
        dist = np.hypot(disp[:, 0] - event.x, disp[:, 1] - event.y)
        j = int(np.argmin(dist))
        return j if dist[j] <= self.PICK_PX else None

    def _on_press(self, event: MouseEvent) -> None:
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

    def _on_motion(self, event: MouseEvent) -> None:
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

    def _on_release(self, event: MouseEvent) -> None:
        self._drag = None

    # -- the tips' drags played in the page (lessonlib.ui.widgetkit.LessonWidget.live_drags) ----------
    COLUMNS = {"a1": ("a11", "a21"), "a2": ("a12", "a22")}

    def live_drags(self) -> list[dict]:
        """Each tip of a1 and a2, in the linear mode: where it is in the figure's pixels and how a pixel of the right
        panel gives a point of the plane (snapped to the sliders' step), as ``_on_press`` and ``_on_motion`` do."""
        if self.controls["mode"].value != "linear":
            return []
        tips = self.ax_x.transData.transform(self.matrix().T)
        inverse = self.ax_x.transData.inverted()
        (x0, y0), (x1, y1) = inverse.transform([(0.0, 0.0), (1.0, 1.0)])
        return [
            {
                "name": name,
                "x": float(tips[j, 0]),
                "y": float(tips[j, 1]),
                "r": float(self.PICK_PX),
                "a": [float(x0), float(y0)],
                "b": [float(x1 - x0), float(y1 - y0)],
                "step": self.SNAP,
                "lo": -2.0,
                "hi": 2.0,
            }
            for j, name in enumerate(self.COLUMNS)
        ]

    def film_apply(self, name: str, value) -> None:
        u, v = (self._snap(x) for x in value)
        first, second = self.COLUMNS[name]
        self.controls[first].value = u  # while a frame is drawn the controls are stand-ins (lessonlib.ui.film)
        self.controls[second].value = v

    def drag_release(self, name: str, value) -> None:
        u, v = (self._snap(x) for x in value)
        first, second = self.COLUMNS[name]
        self.set(**{first: u, second: v})

    def page_drawing(self) -> tuple[dict, list, list[bytes]] | None:
        """The right panel's moving parts, drawn by the page while a tip is dragged (``livelayer.js``: ``linear2d``), with
        no frame asked of the kernel: everything there is the image of a fixed shape under A (grid, unit square, columns),
        and the density is the standard normal's, pushed: p_Z(A^-1 x) / |det A| on the image's cells. The styles are
        those the artists draw (recorded at a kept, a flipped and a collapsed A), the labels the images Agg draws."""
        if self.controls["mode"].value != "linear":
            return None
        parts = {
            "density": [self.im_x],
            "square": [self.sq_x],
            "grid": [self.grid_x],
            "collapse": [self.line_x],
            "arrows": self.arrows_x,
            "tips": [self.tips],
            "labels": self.label_x,
        }
        order: list[str] = []  # the parts in the order the kernel draws them
        for a in self.animated_artists():
            name = next((n for n, group in parts.items() if any(a is b for b in group)), None)
            if name is not None and name not in order:
                order.append(name)
        kept, flipped, collapsed = ({"a11": a11, "a12": 0.5, "a21": 0.0, "a22": 1.0} for a11 in (1.0, -1.0, 0.0))
        collapsed["a22"] = 0.0
        im, sq, grid, arrow, tips, *labels = film.drawn_at(
            self, kept, [self.im_x, self.sq_x, self.grid_x, self.arrows_x[0], self.tips, *self.label_x]
        )
        (sq_flipped,) = film.drawn_at(self, flipped, [self.sq_x])
        (line,) = film.drawn_at(self, collapsed, [self.line_x])
        t = self.ax_x.transData
        (ox, oy), (px, py) = t.transform([(0.0, 0.0), (1.0, 1.0)])
        A = np.array([[1.0, 0.5], [0.0, 1.0]])
        images, label_at = self._label_layout(labels, t, A)

        def style(rec: livelayer.DisplayListRenderer) -> dict:
            return {k: v for k, v in rec.ops[0].items() if k not in ("t", "v", "o")}

        model = {
            "kind": "linear2d",
            "W": int(self.fig.bbox.width),
            "H": int(self.fig.bbox.height),
            "T": [float(ox), float(oy), float(px - ox), float(py - oy)],
            "columns": {name: j for j, name in enumerate(self.COLUMNS)},
            "order": order,
            "rtol": SINGULAR_RTOL,
            "grid": [[float(v) for v in (*line[0], *line[-1])] for line in self._lines],  # straight lines stay straight
            "styles": {
                "square": style(sq),
                "flipped": style(sq_flipped),
                "grid": style(grid),
                "collapse": style(line),
                "arrow": style(arrow),
                "tips": style(tips),
            },
            "marker": self._marker_model(tips, t, A),
            "labels": label_at,
            "label_offset": 0.12,
            "density": self._density_model(im, t),
        }
        artists = [a for group in parts.values() for a in group]
        return model, artists, images

    def _label_layout(self, labels: list, t, A: np.ndarray) -> tuple[list[bytes], list[dict]]:
        """Where each column's label image sits relative to its tip, and the images, as Agg drew them."""
        images, label_at = [], []
        for j, rec in enumerate(labels):
            (op,) = rec.ops
            anchor = t.transform([A[:, j] + 0.12])[0]
            label_at.append(
                {
                    "dx": op["x"] - float(anchor[0]),
                    "dy": op["y"] - float(anchor[1]),
                    "w": op["w"],
                    "h": op["h"],
                    "c": op.get("c"),
                    "image": len(images),
                }
            )
            images.append(rec.images[0])
        return images, label_at

    @staticmethod
    def _marker_model(tips, t, A: np.ndarray) -> dict:
        """The tip marker's path, as Agg stamps it."""
        (marker,) = tips.ops
        a, n = marker["v"]
        stamp = tips.message(0)[1]
        codes = np.frombuffer(stamp[0], dtype=np.uint8)
        verts = np.frombuffer(stamp[1], dtype=np.float32).reshape(-1, 2)
        first = t.transform(A.T)[0]
        return {
            "codes": codes[a : a + n].tolist(),
            "verts": verts[a : a + n].astype(float).round(3).ravel().tolist(),
            "centre": float(verts[marker["o"][0], 0] - np.floor(first[0] + 0.5)),
        }

    def _density_model(self, im, t) -> dict:
        """The density's cells, their place on the canvas and the colour map's table."""
        cmap, norm = self.im_x.get_cmap(), self.im_x.norm
        lut = cmap(np.arange(cmap.N), bytes=True)

        x0, x1, y0, y1 = self.im_x.get_extent()
        (ex0, ey0), (ex1, ey1) = t.transform([(x0, y0), (x1, y1)])
        return {
            "xs": self._xs.tolist(),
            "rect": [float(ex0), float(ey0), float(ex1 - ex0), float(ey1 - ey0)],
            "c": im.ops[0].get("c"),
            "vmin": float(norm.vmin),
            "vmax": float(norm.vmax),
            "lut": lut.tolist(),
            "under": [int(v) for v in cmap(-1.0, bytes=True)],
            "over": [int(v) for v in cmap(2.0, bytes=True)],
        }

    def page_state(self) -> dict:
        return {"A": self.matrix().tolist()}
