"""Notebook 10's live figure, ``ScaleExplorer``: what each level of a multi-scale flow encodes.

One temperature slider per level (the control of "level 1" is ``level_1``). Row l of the figure shows 8
images x = f(z) that share every level's z but level l's, which is redrawn in each image (z_l = T_l eps_j,
j = 1..8; the other levels take T eps_1):
a row of near copies means that level decides little of the picture, a row of different digits that it
decides a lot. Every position gives a picture: T_l = 0 puts level l at the centre of its base, and its row
shows one image eight times.
"""

from __future__ import annotations

import ipywidgets as w
import numpy as np
import torch
from torch import Tensor

from lessonlib.lessons.l08_images.experiments import LEVELS
from lessonlib.lessons.l08_images.plots import digit_strip
from lessonlib.lessons.l10_image_flows.experiments import level_samples
from lessonlib.multiscale import MultiScaleFlow
from lessonlib.ui.style import current
from lessonlib.ui.widgetkit import LessonWidget, freeze_layout, new_figure, slider

__all__ = ["ScaleExplorer", "control_name"]


def _role(k: int, n: int) -> str:
    return "finest" if k == 0 else "coarsest" if k == n - 1 else "middle"


def control_name(level: str) -> str:
    """The slider of level "level 1" is the control ``level_1``: ``explorer.set(level_1=0.0)``."""
    return level.replace(" ", "_")


class ScaleExplorer(LessonWidget):
    """Redraw one level's latent at a time, each level at its own temperature.

    The readout gives, per level, its temperature, the mean length of its z, |z_l| = T_l |eps_l|, and how
    far its row's 8 images lie from their mean image (mean absolute difference per pixel, in grey levels).

    Shapes: eps (8, D), the base draws; the flow maps (B, D) latents to (B, D) images of 8 x 8 pixels.
    """

    title = "What each level of a multi-scale flow encodes"

    def __init__(self, flow: MultiScaleFlow, eps: Tensor, temperature: float = 0.7):
        super().__init__()
        if not isinstance(flow, MultiScaleFlow) or len(flow.levels) < 2:
            raise ValueError("ScaleExplorer needs a multi-scale flow (make_image_flow(..., multiscale=True)).")
        self.flow, self.eps = flow, eps.to(flow.dtype)
        self.levels = sorted(flow.levels, key=lambda lv: -lv.start)  # finest first
        blocks = flow.split(self.eps)
        self.eps_norms = {lv.name: float(blocks[lv.name].norm(dim=1).mean()) for lv in self.levels}
        for lv in self.levels:
            self.add_control(control_name(lv.name), slider(f"T, {lv.name}", temperature, 0.0, 1.2, 0.02))
        self._numbers: dict[str, float] = {}
        s = current()
        n = len(self.levels)
        height = s.fig_width * (0.085 if s.presenter else 0.11) * n + 0.3
        self.fig, axes = new_figure(n, 1, height=round(height * s.dpi) / s.dpi)  # whole pixels: films match full draws
        self.axes = list(np.atleast_1d(axes))
        style = {"cmap": "gray_r", "vmin": 0, "vmax": LEVELS - 1, "interpolation": "nearest"}
        blank = np.zeros((len(self.eps), self.flow.dim))
        self.rows = [ax.imshow(digit_strip(blank, len(self.eps)), **style) for ax in self.axes]
        for k, (ax, lv) in enumerate(zip(self.axes, self.levels)):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_ylabel(
                f"{lv.name}\nredrawn\n({lv.stop - lv.start} numbers,\n{_role(k, n)})",
                rotation=0,
                ha="right",
                va="center",
                fontsize="small",
            )
        self.axes[0].set_title("each row: one level's z redrawn 8 times, the other levels' z kept")
        self.animate(*self.rows)
        controls = w.VBox([*self.controls.values(), w.HBox([self.reset_button])])
        self._finish(w.VBox([controls, self.fig.canvas, self.readout, self.message]))
        freeze_layout(self.fig)

    def temperatures(self) -> dict[str, float]:
        """{level name: its slider's temperature}."""
        return {lv.name: float(self.controls[control_name(lv.name)].value) for lv in self.levels}

    def update(self) -> None:
        temps, parts = self.temperatures(), []
        self._numbers = {}
        size = current().control_font
        for k, (lv, row) in enumerate(zip(self.levels, self.rows)):
            images = level_samples(self.flow, self.eps, temps, lv.name)
            if not torch.isfinite(images).all():
                raise ValueError(f"the flow sent some of {lv.name}'s draws to infinity; lower its temperature.")
            row.set_data(digit_strip(images, len(self.eps)))
            spread = float((images - images.mean(0)).abs().mean())
            t, e = temps[lv.name], self.eps_norms[lv.name]
            self._numbers.update(
                {f"T {lv.name}": t, f"eps norm {lv.name}": e, f"z norm {lv.name}": t * e, f"spread {lv.name}": spread}
            )
            parts.append(
                f"{lv.name} ({_role(k, len(self.levels))}): T = {t:.2f}, |z| = T·|ε| = {t:.2f} × {e:.2f} = "
                f"{t * e:.2f}, its 8 redraws differ from their mean by {spread:.2f} grey levels a pixel"
            )
        self.say("")
        self.readout.value = f'<span style="font-size:{size}">' + "<br>".join(parts) + "</span>"

    def numbers(self) -> dict[str, float]:
        return dict(self._numbers)
