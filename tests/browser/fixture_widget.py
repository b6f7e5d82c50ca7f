"""A small lesson widget for testing the browser machinery itself (not part of the course).

x = a z maps U(0, 1) to U(0, a): the density drawn is 1/a on [0, a], and its mass stays 1 for every a.
"""

from __future__ import annotations

import ipywidgets as w
import numpy as np

from lessonlib.ui.widgetkit import LessonWidget, new_figure, slider


class ScaleDemo(LessonWidget):
    """p_X(x) = 1/a on [0, a] for x = a z, z ~ U(0, 1). Shapes: a scalar control, a 400-point curve."""

    def __init__(self) -> None:
        super().__init__()
        self.fig, self.ax = new_figure(width=6.0, height=2.4)
        self.grid = np.linspace(0.0, 4.0, 400)
        (self.line,) = self.ax.plot(self.grid, np.zeros_like(self.grid))
        self.ax.set_xlim(0, 4)
        self.ax.set_ylim(0, 2.2)
        self.add_control("a", slider("scale a", 1.0, 0.5, 3.0, 0.1))
        self._finish(w.VBox([self.controls["a"], self.fig.canvas, self.readout, self.message]))

    def update(self) -> None:
        a = self.controls["a"].value
        dens = np.where(self.grid <= a, 1.0 / a, 0.0)
        self.line.set_ydata(dens)
        self.readout.value = f"height = {1 / a:.3f}, width = {a:.3f}, mass = {a * (1 / a):.3f}"

    def numbers(self) -> dict[str, float]:
        a = self.controls["a"].value
        return {"height": 1 / a, "width": a, "mass": 1.0}
