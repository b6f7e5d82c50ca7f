"""Notebook 06's widget: a continuous-time flow on the plane, with time and field strength under the learner's hand.

``ContinuousFlow2D()`` carries the standard normal along dx/dt = a u(x) (``experiments.plane_field``: a split,
a squeeze and a swirl, with a divergence that changes from place to place). Left: the field's shape u as
arrows on its divergence (red where areas grow, blue where they shrink; the strength a scales both) and the
path of one tracked point (click to move its start). Right: the density at time t, computed exactly on a grid, with samples carried along. The
readout gives the tracked point's log-density change two ways, the integrated trace and log|det| of the
flow map's Jacobian by finite differences, and the total mass on the grid.
"""

from __future__ import annotations

import base64
import html
import io

import ipywidgets as w
import numpy as np
from matplotlib.backend_bases import MouseEvent
from matplotlib.cm import ScalarMappable
from matplotlib.colors import LogNorm

from lessonlib.lessons.l06_where_flows_fit.experiments import PlaneFlow, plane_field
from lessonlib.ui.style import current
from lessonlib.ui.widgetkit import LessonWidget, freeze_layout, new_figure, slider

__all__ = ["ContinuousFlow2D"]

DIV_LIMIT = 1.6  # the colour scale of div u runs over [-DIV_LIMIT, DIV_LIMIT]; |div u| <= 1.5
DENSITY_RANGE = (1e-3, 2.0)  # the density's colour scale (logarithmic), fixed so that changes show as colour
POINT_LIMIT = 3.0  # the tracked point starts inside [-3, 3]^2


class ContinuousFlow2D(LessonWidget):
    """Drag time t and the field's strength; watch the density move and the tracked point's log-det two ways."""

    title = "A continuous-time flow"

    def __init__(
        self, t: float = 1.0, strength: float = 1.0, z1: float = -0.2, z2: float = 1.5, n_grid: int = 100
    ) -> None:
        super().__init__()
        self.model = PlaneFlow(strength, step=0.1, n_grid=n_grid)
        self._numbers: dict[str, float] = {}
        self.add_control("t", slider("time t", t, 0.0, 2.0, 0.1, readout_format=".1f"))
        self.add_control("strength", slider("field strength a", strength, 0.0, 1.2, 0.1, readout_format=".1f"))
        self.add_control("z1", slider("start z1", z1, -POINT_LIMIT, POINT_LIMIT, 0.1, readout_format=".1f"))
        self.add_control("z2", slider("start z2", z2, -POINT_LIMIT, POINT_LIMIT, 0.1, readout_format=".1f"))
        self._build_figure()
        c = self.controls
        layout = w.VBox(
            [
                w.HBox([c["t"], c["strength"]]),
                w.HBox([c["z1"], c["z2"], self.reset_button]),
                self.fig.canvas,
                self.readout,
                self.message,
            ]
        )
        self._finish(layout)

    # -- figure -----------------------------------------------------------------------------
    def _build_figure(self) -> None:
        s = current()
        self.fig, (self.ax_v, self.ax_p) = new_figure(1, 2, width=s.fig_width, height=s.fig_width * 0.42)
        lim = self.model.lim
        ext = (-lim, lim, -lim, lim)
        g1, g2 = np.meshgrid(self.model.axis, self.model.axis)
        # the field's shape u (v = a u): drawn once, it is the background every redraw starts from
        div = self.ax_v.imshow(
            plane_field(g1, g2, 1.0)[2],
            origin="lower",
            extent=ext,
            cmap="RdBu_r",
            vmin=-DIV_LIMIT,
            vmax=DIV_LIMIT,
            interpolation="bilinear",
        )
        q = np.linspace(-lim + 0.5, lim - 0.5, 12)
        q1, q2 = np.meshgrid(q, q)
        u1, u2, _ = plane_field(q1, q2, 1.0)
        self.ax_v.quiver(q1, q2, u1, u2, angles="xy", scale_units="xy", scale=2.0, width=0.004, color="#222")
        # the density as colours computed here (an RGBA image draws about twice as fast as one normalised on the fly)
        self._colours = ScalarMappable(norm=LogNorm(*DENSITY_RANGE), cmap="magma")
        n = len(self.model.axis)
        self.im_p = self.ax_p.imshow(
            np.zeros((n, n, 4), dtype=np.uint8), origin="lower", extent=ext, interpolation="nearest"
        )
        (self.cloud,) = self.ax_p.plot([], [], ".", ms=2.5, color="#9ecae1", alpha=0.8)
        self.paths = [ax.plot([], [], color=c, lw=2)[0] for ax, c in ((self.ax_v, "black"), (self.ax_p, "white"))]
        self.starts = [
            ax.plot([], [], "o", ms=7, mfc="white", mec="black", mew=1.5)[0] for ax in (self.ax_v, self.ax_p)
        ]
        self.ends = [
            ax.plot([], [], "o", ms=9, mfc="#ffd21f", mec="black", mew=1.5)[0] for ax in (self.ax_v, self.ax_p)
        ]
        self.clock = self.ax_p.text(
            0.03, 0.95, "", transform=self.ax_p.transAxes, color="white", va="top", fontsize=s.font_size * 1.1
        )
        titles = ("the field's shape u (v = a u) on div u", "density $p_t$ at time $t$")
        for ax, title in zip((self.ax_v, self.ax_p), titles):
            ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal")
            ax.set_xticks([-4, -2, 0, 2, 4])
            ax.set_yticks([-4, -2, 0, 2, 4])
            ax.grid(False)
            ax.set_title(title)
        self.fig.colorbar(div, ax=self.ax_v, shrink=0.85, label="div u   (red: areas grow)")
        self.fig.colorbar(self._colours, ax=self.ax_p, shrink=0.85, label="density (log scale)", extend="both")
        freeze_layout(self.fig)
        self.animate(
            self.paths[0],
            self.starts[0],
            self.ends[0],
            self.im_p,
            self.cloud,
            self.paths[1],
            self.starts[1],
            self.ends[1],
            self.clock,
        )
        self.fig.canvas.mpl_connect("button_press_event", self._on_press)

    # -- state ------------------------------------------------------------------------------
    def _step_count(self) -> int:
        return int(round(self.controls["t"].value / self.model.step))

    def update(self) -> None:
        c = self.controls
        a = float(c["strength"].value)
        if a != self.model.strength:
            self.model.set_strength(a)
        k = self._step_count()
        t = k * self.model.step
        density = np.exp(self.model.log_density(k))
        self.im_p.set_data(self._colours.to_rgba(density, bytes=True))
        self.cloud.set_data(*self.model.particles(k).T)
        track = self.model.track((c["z1"].value, c["z2"].value), k)
        path = track["path"]
        for line, start, end in zip(self.paths, self.starts, self.ends):
            line.set_data(path[:, 0], path[:, 1])
            start.set_data(path[:1, 0], path[:1, 1])
            end.set_data(path[-1:, 0], path[-1:, 1])
        self.clock.set_text(f"t = {t:.1f}")
        mass = self.model.mass(k)
        self._numbers = {
            "t": t,
            "strength": a,
            "z1": float(path[0, 0]),
            "z2": float(path[0, 1]),
            "x1": float(path[-1, 0]),
            "x2": float(path[-1, 1]),
            "integral": track["integral"],
            "log_det_fd": track["log_det_fd"],
            "log_p0": track["log_p0"],
            "log_pt": track["log_pt"],
            "mass": mass,
            "peak": float(density.max()),
        }
        self.readout.value = self._readout()
        self.say(*self._sentence())

    def _readout(self) -> str:
        n = self._numbers
        size = current().control_font
        lines = [
            f"t = {n['t']:.1f} &nbsp; strength a = {n['strength']:.1f} &nbsp; tracked point z0 = ({n['z1']:.1f}, {n['z2']:.1f}) "
            f"&rarr; x(t) = ({n['x1']:.2f}, {n['x2']:.2f})",
            f"integrated trace = {n['integral']:+.4f} &nbsp; log|det J| by finite differences = {n['log_det_fd']:+.4f}",
            f"log p_t(x(t)) = log p_0(z0) &minus; integrated trace = {n['log_p0']:.3f} &minus; ({n['integral']:+.4f}) = "
            f"{n['log_pt']:.3f} &nbsp; mass on the grid = {n['mass']:.4f}",
        ]
        return f'<span style="font-size:{size}; font-family:monospace">' + "<br>".join(lines) + "</span>"

    def _sentence(self) -> tuple[str, str]:
        n = self._numbers
        if n["t"] == 0 or n["strength"] == 0:
            return (
                "Nothing has moved yet (t = 0 or strength 0): the map is the identity, both log-dets are 0 "
                "and the density is the base N(0, I). Drag t to the right.",
                "info",
            )
        area = float(np.exp(n["integral"]))
        if area >= 1:
            how = (
                f"grew to {area:.2f} times its area (its path crossed more red than blue), so the density there "
                f"fell by the same factor: p<sub>t</sub>(x(t)) = p<sub>0</sub>(z0) / {area:.2f}."
            )
        else:
            how = (
                f"shrank to {area:.2f} of its area (its path crossed more blue than red), so the density there "
                f"rose by the same factor: p<sub>t</sub>(x(t)) = p<sub>0</sub>(z0) &times; {1 / area:.2f}."
            )
        return (
            f"A small patch around the tracked point {how} Both columns agree: the integral of the trace "
            "along the path is log|det J| of the flow map.",
            "ok",
        )

    def numbers(self) -> dict[str, float]:
        return dict(self._numbers)

    # -- clicking ---------------------------------------------------------------------------
    def _on_press(self, event: MouseEvent) -> None:
        """A click on the left panel starts the tracked point there (snapped to the sliders' step)."""
        if event.inaxes is not self.ax_v or event.xdata is None or event.ydata is None:
            return
        snap = [float(np.clip(round(v * 10) / 10, -POINT_LIMIT, POINT_LIMIT)) for v in (event.xdata, event.ydata)]
        self.set(z1=snap[0], z2=snap[1])

    # -- display ----------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs):
        """The live widget, plus a still of its picture (PNG, and HTML around it) for pages that cannot run it."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if "image/png" not in bundle:
            buf = io.BytesIO()
            self.fig.savefig(buf, format="png", dpi=current().dpi, metadata={"Software": None})
            png = base64.b64encode(buf.getvalue()).decode("ascii")
            bundle["image/png"] = png
            bundle["text/html"] = f'<img src="data:image/png;base64,{png}" alt="{html.escape(self.title)}"/>'
        return bundle
