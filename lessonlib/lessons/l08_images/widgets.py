"""Notebook 08's live figure, ``LatentExplorer``: the latent space of a flow trained on 8x8 digits.

Two sliders: the temperature T of the base (samples x = f(T eps) for 8 fixed draws eps ~ N(0, I)),
and the position t on the straight line between the latents of two test digits,
x_t = f((1 - t) z_a + t z_b). Every position gives a picture: T = 0 is the image of the base's
centre, t = 0 and t = 1 give the two digits back (the flow is a bijection).
"""

from __future__ import annotations

import math

import ipywidgets as w
import numpy as np
import torch
from torch import Tensor

from lessonlib.flows import Flow
from lessonlib.lessons.l08_images.experiments import DIM, DTYPE, LEVELS, temperature_samples
from lessonlib.lessons.l08_images.plots import digit_strip
from lessonlib.ui.style import current
from lessonlib.ui.widgetkit import LessonWidget, freeze_layout, new_figure, slider

__all__ = ["LatentExplorer"]


class LatentExplorer(LessonWidget):
    """Temperature and latent interpolation for a trained image flow.

    Top: 8 samples f(T eps), the same eps at every T. Bottom: digit a, the image at t, digit b.
    The readout gives the samples' mean latent norm T |eps| and the bits/dim the flow gives the
    image at t (its continuous density there, in bits per pixel).

    Shapes: a, b (64,) whole-number test images; eps (8, 64).
    """

    title = "Temperature and interpolation in the latent space"

    def __init__(self, flow: Flow, a: Tensor, b: Tensor, eps: Tensor):
        super().__init__()
        self.flow, self.eps = flow, eps.to(DTYPE)
        with torch.no_grad():
            self.z_ends = flow.bijector.inverse(torch.stack([a, b]).to(DTYPE) + 0.5)  # bin centres
        self.ends = torch.stack([a, b]).to(DTYPE)
        self.eps_norm = float(self.eps.norm(dim=1).mean())
        self.add_control("temperature", slider("temperature T", 0.7, 0.0, 1.5, 0.02))
        self.add_control("t", slider("interpolation t", 0.5, 0.0, 1.0, 0.02))
        self._numbers: dict[str, float] = {}
        s = current()  # on a 1280x720 slide the two rows of digits share a shorter strip, below two sliders
        self.fig, (self.ax_samples, self.ax_line) = new_figure(
            2, 1, height=s.fig_width * (0.24 if s.presenter else 0.36)
        )
        style = {"cmap": "gray_r", "vmin": 0, "vmax": LEVELS - 1, "interpolation": "nearest"}
        self.samples_image = self.ax_samples.imshow(digit_strip(self.ends.repeat(4, 1), 8), **style)
        self.line_image = self.ax_line.imshow(digit_strip(self.ends[[0, 0, 1]], 3, gap=2), **style)
        for ax in (self.ax_samples, self.ax_line):
            ax.set_axis_off()
        self.ax_line.text(0.16, -0.08, "digit a", transform=self.ax_line.transAxes, ha="center", va="top")
        self.ax_line.text(0.84, -0.08, "digit b", transform=self.ax_line.transAxes, ha="center", va="top")
        self.ax_samples.set_title("8 samples x = f(T ε), the same ε at every temperature")
        self.ax_line.set_title("the straight line from z_a to z_b: the image at t")
        self.animate(self.samples_image, self.line_image)
        controls = w.VBox([*self.controls.values(), w.HBox([self.reset_button])])
        self._finish(w.VBox([controls, self.fig.canvas, self.readout, self.message]))
        freeze_layout(self.fig)

    def image_at(self, t: float) -> tuple[Tensor, float]:
        """x_t = f((1 - t) z_a + t z_b) and the flow's bits/dim there. Shapes: -> (64,), scalar."""
        z = ((1 - t) * self.z_ends[0] + t * self.z_ends[1])[None]
        with torch.no_grad():
            x, log_det = self.flow.bijector.forward_and_log_det(z)
            log_p = self.flow.base.log_prob(z) - log_det  # log p_X(x) = log p_Z(z) - log|det J_f(z)|
        return x[0], float(-log_p[0]) / (DIM * math.log(2))

    def update(self) -> None:
        temp, t = float(self.controls["temperature"].value), float(self.controls["t"].value)
        samples = temperature_samples(self.flow, self.eps, temp)
        x_t, bpd = self.image_at(t)
        self.samples_image.set_data(digit_strip(samples, 8))
        strip = torch.stack([self.ends[0], x_t.clamp(0, LEVELS), self.ends[1]])
        self.line_image.set_data(digit_strip(strip, 3, gap=2))
        self._numbers = {
            "temperature": temp,
            "t": t,
            "latent_norm": temp * self.eps_norm,
            "eps_norm": self.eps_norm,
            "bpd_at_t": bpd,
            "mean_sample": float(samples.mean()),
        }
        if not np.isfinite(bpd):
            raise ValueError("the flow's density underflows at this point of the line; move t.")
        self.say("")
        size = current().control_font
        self.readout.value = (
            f'<span style="font-size:{size}">temperature T = {temp:.2f}: mean latent norm |z| = T·|ε| = '
            f"{temp:.2f} × {self.eps_norm:.2f} = {temp * self.eps_norm:.2f} (a typical draw of N(0, I) in 64 "
            f"dimensions has |z| ≈ 8); interpolation t = {t:.2f}: the middle image costs {bpd:.2f} bits/dim</span>"
        )

    def numbers(self) -> dict[str, float]:
        return dict(self._numbers)
