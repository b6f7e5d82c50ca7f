"""Notebook 01's widget: drag the transform and watch the density rescale.

``ChangeOfVariables1D`` shows three linked panels: the base density p_Z along z (bottom), the
map x = f(z) (centre), and the pushed density p_X along x (left, on the same x axis as the map).
The map is a monotone spline (``lessonlib.cov1d.MonotoneSpline``); the learner drags its knots up
and down, or uses sliders that place the knots on the curve shift + slope·(z + a·tanh z). A shaded
interval [a, b] in z and its image in x carry the same probability; both are computed (one from
the base CDF, one by quadrature of the pushed density) and printed, with the local stretch |f'(z)|.
"""

from __future__ import annotations

import html

import ipywidgets as w
import numpy as np
from matplotlib.backend_bases import MouseEvent
from matplotlib.patches import Polygon
from matplotlib.ticker import MaxNLocator, MultipleLocator

from lessonlib.cov1d import (
    AffineMap,
    Density1D,
    Logistic,
    MonotoneSpline,
    Normal,
    TanhMap,
    Uniform,
    interval_mass_x,
    interval_mass_z,
    pushforward_density,
)
from lessonlib.inputs import one_of
from lessonlib.ui.style import current
from lessonlib.ui.widgetkit import LessonWidget, freeze_layout, new_figure, slider, steady_limit

__all__ = ["ChangeOfVariables1D", "BASES", "KNOTS_Z", "knots_on_curve"]

#: the base densities the widget offers, by the name shown in its dropdown
BASES: dict[str, Density1D] = {
    "Normal(0, 1)": Normal(0.0, 1.0),
    "Logistic(0, 0.6)": Logistic(0.0, 0.6),
    "Uniform(-1.5, 1.5)": Uniform(-1.5, 1.5),
}

Z_LIM = (-3.5, 3.5)
X_LIM = (-6.0, 6.0)
KNOTS_Z = np.linspace(-3.0, 3.0, 7)
COLOR_Z, COLOR_X, COLOR_MAP, COLOR_BAND = "#1f77b4", "#d62728", "#333333", "#ff9f1c"


def knots_on_curve(slope: float, shift: float, a: float, z: np.ndarray = KNOTS_Z) -> np.ndarray:
    """x_k = shift + slope (z_k + a tanh z_k); ValueError (with the maths) if that curve is not invertible.

    Shapes: z (K,) -> (K,).
    """
    AffineMap(slope, shift)  # refuses slope 0
    TanhMap(a)  # refuses a <= -1
    return shift + slope * (z + a * np.tanh(z))


def _refusal(knots: np.ndarray) -> str | None:
    """The sentence a drag to ``knots`` is refused with (the map would not be invertible), or None."""
    try:
        MonotoneSpline(KNOTS_Z, knots)
    except ValueError as e:
        return f"Refused: {e}"
    return None


class ChangeOfVariables1D(LessonWidget):
    """Drag the transform, watch the density rescale: p_X(x) = p_Z(z) / |f'(z)|, z = f^-1(x)."""

    title = "Change of variables in 1D"

    def __init__(self, base: str = "Normal(0, 1)", n_grid: int = 300) -> None:
        super().__init__()
        one_of(base, "base", BASES)
        s = current()
        self._zg = np.linspace(*Z_LIM, n_grid)
        self._xg = np.linspace(*X_LIM, n_grid)
        self.knots_x = knots_on_curve(1.0, 0.0, 0.0)
        self._slider_state: tuple[float, float, float] | None = (1.0, 0.0, 0.0)
        self._trial: np.ndarray | None = None  # knot positions proposed by a drag
        self._refused: str | None = None  # why a drag's last move was refused, its last good place drawn instead
        self._drag: int | None = None
        self.fmap = MonotoneSpline(KNOTS_Z, self.knots_x)
        self._nums: dict[str, float] = {}
        self._px_scaled = False  # p_X's axis gets its first limit from the first update

        self.add_control(
            "base",
            w.Dropdown(
                options=list(BASES),
                value=base,
                description="base p_Z",
                style={"description_width": "initial"},
                layout=w.Layout(width=s.control_width),
            ),
        )
        self.add_control("slope", slider("slope", 1.0, -3.0, 3.0, 0.1))
        self.add_control("shift", slider("shift", 0.0, -2.0, 2.0, 0.1))
        self.add_control("nonlinearity", slider("nonlinearity a (z + a·tanh z)", 0.0, -1.0, 2.0, 0.1))
        self.add_control("centre", slider("interval centre in z", 0.0, -3.0, 3.0, 0.05))
        self.add_control("width", slider("interval width in z", 1.0, 0.1, 3.0, 0.05))

        self._build_figure()
        self.fig.canvas.mpl_connect("button_press_event", self._on_press)
        self.fig.canvas.mpl_connect("motion_notify_event", self._on_motion)
        self.fig.canvas.mpl_connect("button_release_event", self._on_release)
        c = self.controls
        hint = w.HTML(
            f'<span style="font-size:{s.control_font}">Drag the orange knots up or down; '
            "the sliders place them on the curve shift + slope·(z + a·tanh z).</span>"
        )
        layout = w.VBox(
            [
                w.HBox([c["base"], self.reset_button]),
                w.HBox([w.VBox([c["slope"], c["shift"], c["nonlinearity"]]), w.VBox([c["centre"], c["width"]])]),
                hint,
                self.fig.canvas,
                self.readout,
                self.message,
            ]
        )
        self._finish(layout)
        freeze_layout(self.fig)

    # -- figure -----------------------------------------------------------------------------
    def _build_figure(self) -> None:
        s = current()
        fig, _ = new_figure(1, 1, width=s.fig_width, height=s.fig_width * 0.62)
        fig.clf()
        gs = fig.add_gridspec(2, 2, width_ratios=[1.0, 2.3], height_ratios=[2.2, 1.0])
        self.ax_map = fig.add_subplot(gs[0, 1])
        self.ax_px = fig.add_subplot(gs[0, 0], sharey=self.ax_map)
        self.ax_pz = fig.add_subplot(gs[1, 1], sharex=self.ax_map)
        self.ax_txt = fig.add_subplot(gs[1, 0])
        self.ax_txt.axis("off")
        fs = s.font_size * 1.1
        # labels stay in the cached background; only the numbers are redrawn (text costs per glyph)
        self.text_z, self.text_x, self.text_s = (
            self._label_and_value(label, y, colour, fs)
            for label, y, colour in (
                ("P(blue, in z) =", 0.75, COLOR_Z),
                ("P(red, in x) =", 0.45, COLOR_X),
                ("|f'(centre)| =", 0.15, COLOR_MAP),
            )
        )
        lw = s.line_width
        am, apx, apz = self.ax_map, self.ax_px, self.ax_pz
        am.set_xlim(*Z_LIM)
        am.set_ylim(*X_LIM)
        am.set_title("the map x = f(z)")
        am.tick_params(labelbottom=False, labelleft=False)
        self.band_z = am.add_patch(Polygon(np.zeros((4, 2)), closed=True, color=COLOR_Z, alpha=0.12, lw=0))
        self.band_x = am.add_patch(Polygon(np.zeros((4, 2)), closed=True, color=COLOR_X, alpha=0.12, lw=0))
        (self.tangent,) = am.plot([], [], ls="--", color=COLOR_BAND, lw=lw * 0.8)
        (self.curve,) = am.plot([], [], color=COLOR_MAP, lw=lw)
        (self.knot_marks,) = am.plot(
            [], [], "o", ms=9 if not s.presenter else 13, color=COLOR_BAND, mec=COLOR_MAP, zorder=5
        )

        apx.set_xlabel("p_X(x)")
        apx.set_ylabel("x (data)")
        apx.set_title("pushed density", color=COLOR_X)
        self.fill_x = apx.add_patch(Polygon(np.zeros((4, 2)), closed=True, color=COLOR_X, alpha=0.35, lw=0))
        (self.line_px,) = apx.plot([], [], color=COLOR_X, lw=lw)

        apz.set_xlabel("z (base)")
        apz.set_ylabel("p_Z(z)")
        self.fill_z = apz.add_patch(Polygon(np.zeros((4, 2)), closed=True, color=COLOR_Z, alpha=0.35, lw=0))
        (self.line_pz,) = apz.plot([], [], color=COLOR_Z, lw=lw)
        self._few_ticks()
        self.fig = fig
        self.animate(
            self.text_z,
            self.text_x,
            self.text_s,
            self.band_z,
            self.band_x,
            self.tangent,
            self.curve,
            self.knot_marks,
            self.fill_x,
            self.line_px,
            self.fill_z,
            self.line_pz,
        )

    def _few_ticks(self) -> None:
        """Few ticks: text is most of the cost of a full redraw."""
        for axis in (self.ax_map.xaxis, self.ax_pz.xaxis):
            axis.set_major_locator(MultipleLocator(2.0))
        for axis in (self.ax_map.yaxis, self.ax_px.yaxis):
            axis.set_major_locator(MultipleLocator(3.0))
        self.ax_px.xaxis.set_major_locator(MaxNLocator(2))
        self.ax_pz.yaxis.set_major_locator(MaxNLocator(2))

    def _label_and_value(self, label: str, y: float, colour: str, fontsize: float):
        """A fixed label and, in a column to its right on the same baseline, an empty text for its
        number. Returns the number's text."""
        ax = self.ax_txt
        ax.text(0.02, y, label, color=colour, fontsize=fontsize, transform=ax.transAxes, va="baseline")
        return ax.text(
            0.66, y, "", color=colour, fontsize=fontsize, fontweight="bold", transform=ax.transAxes, va="baseline"
        )

    # -- the maths, then the artists --------------------------------------------------------
    def _candidate_knots(self) -> np.ndarray:
        c = self.controls
        state = (float(c["slope"].value), float(c["shift"].value), float(c["nonlinearity"].value))
        if self._trial is not None:
            return self._trial
        if state != self._slider_state:
            self._slider_state = None  # until this setting proves valid
            knots = knots_on_curve(*state)
            self._slider_state = state
            return knots
        return self.knots_x

    def update(self) -> None:
        fmap = self._accept_knots()
        base = BASES[self.controls["base"].value]
        n = self._measure(base, fmap)
        self._draw(base, fmap, n)
        self._write(n)
        self._nums = n
        refused, self._refused = self._refused, None
        self.problem = refused  # None: the setting is fine
        self.say(html.escape(refused) if refused else "", "warn")

    def _accept_knots(self) -> MonotoneSpline:
        """The map through the candidate knots, which become the current ones; ValueError if not invertible."""
        trial_from_drag = self._trial is not None
        try:
            knots = self._candidate_knots()
            fmap = MonotoneSpline(KNOTS_Z, knots)
        except ValueError as e:
            if trial_from_drag:
                raise ValueError(f"Refused: {e}") from None
            raise
        finally:
            self._trial = None
        self.knots_x, self.fmap = knots, fmap
        return fmap

    def _measure(self, base: Density1D, fmap: MonotoneSpline) -> dict[str, float]:
        """The interval [a, b] in z, its image in x, both masses, and the densities and stretch at the centre."""
        cz, wz = float(self.controls["centre"].value), float(self.controls["width"].value)
        za, zb = cz - wz / 2, cz + wz / 2
        xa, xb = (float(v) for v in fmap.forward(np.array([za, zb])))
        deriv = float(fmap.derivative(np.array([cz]))[0])
        xc = float(fmap.forward(np.array([cz]))[0])
        return {
            "z_a": za,
            "z_b": zb,
            "x_a": xa,
            "x_b": xb,
            "mass_z": interval_mass_z(base, za, zb),
            "mass_x": interval_mass_x(base, fmap, xa, xb),
            "z_centre": cz,
            "x_centre": xc,
            "derivative": deriv,
            "stretch": abs(deriv),
            "p_z": float(base.pdf(np.array([cz]))[0]),
            "p_x": float(pushforward_density(base, fmap, np.array([xc]))[0]),
            "width_z": wz,
            "width_x": abs(xb - xa),
        }

    def _draw(self, base: Density1D, fmap: MonotoneSpline, n: dict[str, float]) -> None:
        """Move the curves, the shaded intervals and the tangent; keep the p_X axis steady."""
        za, zb, xa, xb, cz = n["z_a"], n["z_b"], n["x_a"], n["x_b"], n["z_centre"]
        zg, xg = self._zg, self._xg
        pz = base.pdf(zg)
        px = pushforward_density(base, fmap, xg)
        self.curve.set_data(zg, fmap.forward(zg))
        self.knot_marks.set_data(KNOTS_Z, self.knots_x)
        self.line_pz.set_data(zg, pz)
        self.line_px.set_data(px, xg)
        zi = np.linspace(za, zb, 60)
        self.fill_z.set_xy(np.column_stack([np.r_[zi, zb, za], np.r_[base.pdf(zi), 0.0, 0.0]]))
        xi = np.linspace(min(xa, xb), max(xa, xb), 60)
        self.fill_x.set_xy(
            np.column_stack([np.r_[pushforward_density(base, fmap, xi), 0.0, 0.0], np.r_[xi, xi[-1], xi[0]]])
        )
        curve_pts = np.column_stack([zi, fmap.forward(zi)])  # the piece of the map over [a, b]
        self.band_z.set_xy(np.vstack([[[za, X_LIM[0]], [zb, X_LIM[0]]], curve_pts[::-1]]))
        self.band_x.set_xy(np.vstack([[[Z_LIM[0], curve_pts[0, 1]]], curve_pts, [[Z_LIM[0], curve_pts[-1, 1]]]]))
        zt = np.array([cz - 1.2, cz + 1.2])
        self.tangent.set_data(zt, n["x_centre"] + n["derivative"] * (zt - cz))
        self.ax_pz.set_ylim(0, float(np.max(pz)) * 1.15)
        visible = px[np.isfinite(px)]
        top_x = max(float(np.max(visible)) if visible.size else 0.0, 0.05)
        # density grows to the left, towards the map; the axis stays put while the curve fits,
        # so a steeper map visibly flattens p_X instead of being rescaled away
        self.ax_px.set_xlim(steady_limit(self.ax_px.get_xlim()[0] if self._px_scaled else None, top_x), 0)
        self._px_scaled = True

    def _write(self, n: dict[str, float]) -> None:
        """The three numbers beside the map, and the readout sentence."""
        mass_z, mass_x, stretch = n["mass_z"], n["mass_x"], n["stretch"]
        self.text_z.set_text(f"{mass_z:.4f}")
        self.text_x.set_text(f"{mass_x:.4f}")
        self.text_s.set_text(f"{stretch:.3f}")
        effect = "dilutes" if stretch > 1.0005 else ("concentrates" if stretch < 0.9995 else "keeps")
        fs = current().control_font
        # "name = value" pairs, so the numbers can be read back from the page (browser tests)
        self.readout.value = (
            f'<span style="font-size:{fs}">Same probability in both intervals: '
            f"<b>mass in z = {mass_z:.4f}</b>, <b>mass in x = {mass_x:.4f}</b>. "
            f"Local stretch |f'(z)| = <b>{stretch:.3f}</b> at z = {n['z_centre']:.2f}: it {effect} the density: "
            f"p_Z = {n['p_z']:.3f}, p_X = <b>{n['p_x']:.3f}</b>."
            + (
                " The map is decreasing (f' &lt; 0); the absolute value keeps the density positive."
                if n["derivative"] < 0
                else ""
            )
            + "</span>"
        )

    def numbers(self) -> dict[str, float]:
        return dict(self._nums)

    # -- dragging knots ---------------------------------------------------------------------
    def knot_pixels(self) -> np.ndarray:
        """Display (pixel) coordinates of the knots, shape (K, 2): where a mouse must press to grab one."""
        return self.ax_map.transData.transform(np.column_stack([KNOTS_Z, self.knots_x]))

    def _on_press(self, event: MouseEvent) -> None:
        if event.inaxes is not self.ax_map or event.button not in (1, None):
            return
        d = np.hypot(*(self.knot_pixels() - np.array([event.x, event.y])).T)
        i = int(np.argmin(d))
        if d[i] <= 14 * (1.4 if current().presenter else 1.0):
            self._drag = i

    def _on_motion(self, event: MouseEvent) -> None:
        if self._drag is None or event.inaxes is not self.ax_map or event.ydata is None:
            return
        self.move_knot(self._drag, float(event.ydata))

    def _on_release(self, event: MouseEvent) -> None:
        self._drag = None

    def move_knot(self, i: int, x_new: float) -> None:
        """Propose knot i at height x_new; refused with a sentence if the map would stop being invertible.

        A drag's moves can come faster than frames, and a frame draws only the latest. When the latest is refused and
        the one before it, not yet drawn, is fine, that one is drawn with the refusal's sentence: a drag past a
        neighbour stops at its last good place, as the film of the drag shows it."""
        trial = self.knots_x.copy()
        trial[i] = float(np.clip(x_new, *X_LIM))
        pending, self._refused = self._trial, None
        self._trial = trial
        why = _refusal(trial)
        if pending is not None and why and not _refusal(pending):
            self._trial, self._refused = pending, why
        self.request_refresh()

    # -- films of the knot drags (lessonlib.ui.film) ----------------------------------------------
    def figure_drags(self) -> list[dict]:
        """Each knot's drag, up and down: filmed at one height per pixel (at least 30) strictly between its neighbours
        (or its neighbour and the end of the axis), so a drag shows a new picture at every pixel the hand passes, and
        just past each neighbour, where the map stops being invertible and the drag is refused. The release puts the
        knot exactly where it is let go."""
        px = self.knot_pixels()
        inverse = self.ax_map.transData.inverted()
        y0, y1 = (float(inverse.transform((0.0, y))[1]) for y in (0.0, 1.0))
        radius = 14 * (1.4 if current().presenter else 1.0)  # as _on_press
        k, out = self.knots_x, []
        for i in range(len(k)):
            lo = k[i - 1] if i > 0 else X_LIM[0] - 1e-3
            hi = k[i + 1] if i + 1 < len(k) else X_LIM[1] + 1e-3
            lo, hi = min(lo, hi), max(lo, hi)
            room = min(hi, X_LIM[1]) - max(lo, X_LIM[0])
            n = int(np.clip(round(room / abs(y1 - y0)), 30, 120))  # heights a pixel apart
            inner = np.linspace(max(lo, X_LIM[0]), min(hi, X_LIM[1]), n + 2)[1:-1]
            past = [v for v in (lo - 0.05, hi + 0.05) if X_LIM[0] <= v <= X_LIM[1]]
            values = sorted(float(v) for v in np.round(np.concatenate([inner, past]), 6))
            out.append(
                {
                    "name": f"knot {i}",
                    "values": values,
                    "x": float(px[i, 0]),
                    "y": float(px[i, 1]),
                    "r": radius,
                    "axis": "y",
                    "a": y0,
                    "b": y1 - y0,
                }
            )
        return out

    def film_apply(self, name: str, value: float) -> None:
        i = int(name.split()[-1])
        trial = self.knots_x.copy()
        trial[i] = float(np.clip(value, *X_LIM))
        self._trial = trial

    def drag_release(self, name: str, value: float) -> None:
        self.move_knot(int(name.split()[-1]), value)

    def film_save(self):
        state = (self._slider_state, self._px_scaled, self._trial, self._refused)
        return self.knots_x.copy(), self.fmap, state, dict(self._nums)

    def film_restore(self, state) -> None:
        knots, self.fmap, (self._slider_state, self._px_scaled, self._trial, self._refused), nums = state
        self.knots_x = knots.copy()
        self._nums = dict(nums)

    def reset(self) -> None:
        self._slider_state = None  # redraw the knots from the sliders' defaults
        self._px_scaled = False
        super().reset()
