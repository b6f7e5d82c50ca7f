"""Notebook 04's widget, ``CouplingExplorer``: a 2D affine coupling layer with mask (1, 0),

    x1 = z1,    x2 = z2 * exp(s(z1)) + t(z1),    log|det J_f(z)| = s(z1),

whose log-scale s and shift t are curves the learner shapes with sliders. It draws the density
of x and the pushed-forward grid, and the Jacobian at a point the learner clicks, with its
log-det checked against autograd. A switch replaces exp(s) by s itself, to show what the
exponential buys: a scale that can never be zero.
"""

from __future__ import annotations

import math

import ipywidgets as w
import matplotlib
import numpy as np
import torch
from matplotlib.backend_bases import MouseEvent
from matplotlib.patches import Rectangle
from torch import Tensor

from lessonlib.coupling import AffineCoupling, jacobian_matrix
from lessonlib.lessons.l04_coupling.experiments import CurveConditioner
from lessonlib.ui.style import current
from lessonlib.ui.widgetkit import LessonWidget, freeze_layout, new_figure, polyline, slider

__all__ = ["CouplingExplorer", "EXP_MODE", "RAW_MODE"]

_LOG_2PI = math.log(2 * math.pi)
EXP_MODE = "scale = exp(s)"
RAW_MODE = "scale = s"


def _std_normal_log_prob(z: Tensor) -> Tensor:
    return -0.5 * (z**2).sum(dim=1) - _LOG_2PI


class CouplingExplorer(LessonWidget):
    """Shape s(x1) and t(x1) of a 2D affine coupling; watch a Gaussian and a grid warp; click for J.

    Left: the curves s and t. Middle: the density of x = f(z), z ~ N(0, I), on a fixed colour
    scale, with the images of the grid lines z1 = const (they stay vertical: x1 = z1) and
    z2 = const (they bend). Right: the Jacobian J_f at the clicked point; its upper-right entry
    is exactly 0 because x1 does not depend on z2.
    """

    title = "One affine coupling layer in 2D"
    LIM = 3.5  # the data-space window is [-LIM, LIM]^2
    N_PIX = 90
    VMAX = 0.3  # fixed colour scale for the density

    def __init__(self, point: tuple[float, float] = (1.0, 0.5)) -> None:
        super().__init__()
        st = current()
        self.fig, (self.ax_curves, self.ax_x, self.ax_J) = new_figure(
            1,
            3,
            width=st.fig_width * 1.15,
            height=st.fig_width * 0.4,
            gridspec_kw={"width_ratios": [1.0, 1.2, 0.75]},
        )
        self.add_control("a", slider("log-scale level a", 0.0, -1.5, 1.5, 0.05))
        self.add_control("b", slider("log-scale wiggle b", 0.6, -1.5, 1.5, 0.05))
        self.add_control("c", slider("wiggle frequency c", 1.5, 0.0, 3.0, 0.05))
        self.add_control("d", slider("shift level d", 0.0, -2.0, 2.0, 0.05))
        self.add_control("e", slider("shift bend e", 0.3, -0.8, 0.8, 0.05))
        self.add_control(
            "mode", w.ToggleButtons(options=[EXP_MODE, RAW_MODE], value=EXP_MODE, style={"button_width": "auto"})
        )
        self.point = torch.tensor(point, dtype=torch.float64)  # the picked point, in data space
        self._build_artists()
        self.fig.canvas.mpl_connect("button_press_event", self._on_click)
        c = self.controls
        left = w.VBox([c["a"], c["b"], c["c"]])
        right = w.VBox([c["d"], c["e"], w.HBox([c["mode"], self.reset_button])])
        self._finish(w.VBox([w.HBox([left, right]), self.fig.canvas, self.readout, self.message]))
        freeze_layout(self.fig)

    # -- the layer --------------------------------------------------------------------------
    def conditioner(self) -> CurveConditioner:
        v = {k: float(self.controls[k].value) for k in "abcde"}
        return CurveConditioner(**v)

    def raw(self) -> bool:
        return self.controls["mode"].value == RAW_MODE

    def layer(self) -> AffineCoupling:
        """The library's AffineCoupling with this conditioner (exp mode). Float64, mask (1, 0)."""
        return AffineCoupling(torch.tensor([1.0, 0.0], dtype=torch.float64), self.conditioner(), log_scale_bound=None)

    def forward_map(self, z: Tensor) -> Tensor:
        """x = f(z) in the current mode. Shapes: (B, 2) -> (B, 2)."""
        if not self.raw():
            return self.layer().forward(z)
        cond = self.conditioner()
        return torch.stack([z[:, 0], z[:, 1] * cond.s(z[:, 0]) + cond.t(z[:, 0])], dim=1)

    def inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """z = f^-1(x) and log|det J_{f^-1}(x)| in the current mode. Shapes: (B, 2) -> (B, 2), (B,)."""
        if not self.raw():
            return self.layer().inverse_and_log_det(x)
        cond = self.conditioner()
        scale, shift = cond.s(x[:, 0]), cond.t(x[:, 0])
        return torch.stack([x[:, 0], (x[:, 1] - shift) / scale], dim=1), -torch.log(scale.abs())

    def _check_invertible(self) -> None:
        if not self.raw():
            return
        x1 = torch.linspace(-self.LIM, self.LIM, 2001, dtype=torch.float64)
        scale = self.conditioner().s(x1)
        bad = (scale[:-1] * scale[1:] <= 0) | (scale[:-1].abs() < 1e-9)
        if bad.any():
            at = float(x1[int(bad.nonzero()[0])])
            raise ValueError(
                f"With scale = s(x1) itself, the scale reaches 0 near x1 = {at:.2f}. There every z2 is sent to "
                "the same x2 = t(x1): the layer squashes a whole line onto a point, has no inverse, and the density "
                "would be infinite there. exp(s) is never 0, which is why coupling layers exponentiate."
            )

    # -- drawing ----------------------------------------------------------------------------
    def _build_artists(self) -> None:
        L = self.LIM
        g = torch.linspace(-L, L, self.N_PIX, dtype=torch.float64)
        X1, X2 = torch.meshgrid(g, g, indexing="xy")
        self._pixels = torch.stack([X1.flatten(), X2.flatten()], dim=1)
        self._line_t = torch.linspace(-L, L, 120, dtype=torch.float64)
        self._levels = torch.linspace(-2.0, 2.0, 9, dtype=torch.float64)

        ax = self.ax_curves
        (self.line_s,) = ax.plot([], [], color="#c44e52", label="log-scale s(x1)")
        (self.line_t,) = ax.plot([], [], color="#4c72b0", label="shift t(x1)")
        self.vline = ax.axvline(0.0, color="black", lw=1, ls="--")
        ax.axhline(0.0, color="grey", lw=0.8)
        ax.set_xlim(-L, L)
        ax.set_ylim(-3.2, 3.2)
        ax.set_xlabel("x1 (= z1, passed through)")
        ax.set_title("conditioner outputs")
        self.legend = ax.legend(loc="lower left", fontsize="x-small")
        self.legend.set_zorder(1.5)  # beneath the curves, so it stays in the cached background

        ax = self.ax_x
        self.image = ax.imshow(
            np.zeros((self.N_PIX, self.N_PIX)),
            extent=(-L, L, -L, L),
            origin="lower",
            cmap="Blues",
            vmin=0.0,
            vmax=self.VMAX,
            interpolation="bilinear",
        )
        # the images of the lines z2 = const (bending) and z1 = const (staying vertical), one artist each
        (self.h_grid,) = ax.plot([], [], color="#dd8452", lw=0.9)
        verticals = polyline([[(float(v), -L), (float(v), L)] for v in self._levels])
        (self.v_grid,) = ax.plot(*verticals, color="#888", lw=0.6)
        (self.marker,) = ax.plot([], [], marker="o", ms=9, mfc="none", mec="#c44e52", mew=2.5, ls="none")
        ax.set_xlim(-L, L)
        ax.set_ylim(-L, L)
        ax.set_aspect("equal")
        ax.grid(False)
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
        ax.set_title("density of x; click a point")

        self._build_jacobian_cells()
        for a in (self.ax_curves, self.ax_x):  # few tick labels: text is most of a redraw's cost
            a.set_xticks([-3, 0, 3])
            a.set_yticks([-3, 0, 3])
        # redrawn over a cached background on every change (LessonWidget.animate), in z-order;
        # the fixed vertical lines too, since the density image is drawn over what lies beneath
        self.animate(
            self.line_s,
            self.line_t,
            self.vline,
            self.image,
            self.v_grid,
            self.h_grid,
            self.marker,
            *self.J_cells[1],
            *self.J_text[1],
        )

    def _build_jacobian_cells(self) -> None:
        """The Jacobian panel: a coloured square and a number per entry."""
        ax = self.ax_J
        # one coloured square per entry (pale colours: the numbers stay readable); row 1 (x1 = z1) never
        # changes in a coupling layer, so it stays in the cached background unless its values do change
        self._J_colours = matplotlib.colormaps["RdBu_r"]
        self.J_cells = [[ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, lw=0)) for j in range(2)] for i in range(2)]
        self.J_text = [
            [ax.text(j, i, "", ha="center", va="center", fontsize="small") for j in range(2)] for i in range(2)
        ]
        self._J_top: tuple[str, str] | None = None  # the texts of row 1 in the background
        ax.set_xlim(-0.5, 1.5)
        ax.set_ylim(1.5, -0.5)  # row 1 on top, as in a matrix
        ax.set_aspect("equal")
        ax.set_xticks([0, 1], labels=["z₁", "z₂"])  # plain glyphs: mathtext costs a redraw time
        ax.set_yticks([0, 1], labels=["x₁", "x₂"])
        ax.tick_params(length=0)
        ax.grid(False)
        ax.set_title("Jacobian J at the point")

    def update(self) -> None:
        self._check_invertible()
        cond = self.conditioner()
        u = self._line_t
        self.line_s.set_data(u.numpy(), cond.s(u).numpy())
        label = "scale s(x1)" if self.raw() else "log-scale s(x1)"
        if self.legend.get_texts()[0].get_text() != label:
            self.legend.get_texts()[0].set_text(label)
            self.restage()  # the legend is part of the background
        self.line_t.set_data(u.numpy(), cond.t(u).numpy())

        z_pix, log_det_inv = self.inverse_and_log_det(self._pixels)
        density = torch.exp(_std_normal_log_prob(z_pix) + log_det_inv)
        self.image.set_data(density.reshape(self.N_PIX, self.N_PIX).numpy())
        n_u = u.numel()
        grid_z = torch.stack([u.repeat(len(self._levels)), self._levels.repeat_interleave(n_u)], dim=1)
        grid_x = self.forward_map(grid_z).reshape(len(self._levels), n_u, 2).numpy()  # all lines in one pass
        self.h_grid.set_data(*polyline(grid_x))
        self._update_point()

    def _update_point(self) -> None:
        x = self.point[None]
        z, log_det_inv = self.inverse_and_log_det(x)
        J = jacobian_matrix(self.forward_map, z[0])
        ad = float(torch.linalg.slogdet(J)[1])
        log_det = float(-log_det_inv[0])
        self._numbers = {
            "x1": float(x[0, 0]),
            "x2": float(x[0, 1]),
            "z1": float(z[0, 0]),
            "z2": float(z[0, 1]),
            "J11": float(J[0, 0]),
            "J12": float(J[0, 1]),
            "J21": float(J[1, 0]),
            "J22": float(J[1, 1]),
            "det": float(torch.linalg.det(J)),
            "log_det": log_det,
            "log_det_autograd": ad,
        }
        self.vline.set_xdata([float(x[0, 0])] * 2)
        self.marker.set_data([float(x[0, 0])], [float(x[0, 1])])
        Jn = J.numpy()
        for i in range(2):
            for j in range(2):
                self.J_text[i][j].set_text("0\n(exactly)" if Jn[i, j] == 0 else f"{Jn[i, j]:.3f}")
                self.J_cells[i][j].set_facecolor(self._J_colours((float(np.clip(Jn[i, j], -8, 8)) + 8) / 16))
        top = (self.J_text[0][0].get_text(), self.J_text[0][1].get_text())
        if top != self._J_top:  # only at the first update: J11 = 1 and J12 = 0 for every coupling layer
            self._J_top = top
            self.restage()
        n = self._numbers
        law = "s(z1)" if not self.raw() else "log|s(z1)|"
        self.readout.value = (
            f'<div style="font-size:{current().control_font}">'
            f"point x = ({n['x1']:.2f}, {n['x2']:.2f}), z = f<sup>-1</sup>(x) = ({n['z1']:.2f}, {n['z2']:.2f}). "
            f"det J = J<sub>11</sub>·J<sub>22</sub> = 1 × {n['J22']:.3f} = {n['det']:.3f}; "
            f"log|det J| = {law} = <b>{n['log_det']:.4f}</b>, autograd: {n['log_det_autograd']:.4f}. "
            "J<sub>21</sub> can be anything: it never enters the determinant.</div>"
        )
        self.say("")

    def numbers(self) -> dict[str, float]:
        return dict(getattr(self, "_numbers", {}))

    # -- picking ----------------------------------------------------------------------------
    def pick(self, x1: float, x2: float) -> None:
        """Move the picked point to data-space (x1, x2) and refresh."""
        L = self.LIM
        self.point = torch.tensor([min(max(x1, -L), L), min(max(x2, -L), L)], dtype=torch.float64)
        self.request_refresh()

    def _on_click(self, event: MouseEvent) -> None:
        if event.inaxes is self.ax_x and event.xdata is not None and event.ydata is not None:
            self.pick(float(event.xdata), float(event.ydata))

    def density_grid(self) -> np.ndarray:
        """The density image as drawn (rows: x2 from -LIM up, columns: x1). Shapes: (N_PIX, N_PIX)."""
        return np.asarray(self.image.get_array())
