"""What every widget of the course shares: controls, a live figure, a message line, reset, timing.

A lesson widget subclasses ``LessonWidget``, registers its controls with ``add_control`` and
implements ``update()`` (recompute, move the artists, no new figure). The base class:

* calls ``update()`` whenever a control changes, and times it (``update_times_ms``);
* turns any ValueError raised while updating into a sentence in the message line: a
  non-invertible setting is a teaching moment, never a traceback;
* exposes ``controls`` (name -> widget) and ``numbers()`` so tests and benchmarks can sweep
  every control and read what the widget shows, without a browser;
* sizes controls and figures by the presenter style (``lessonlib.style``).

Figures use ipympl when it is available (live, draggable in JupyterLab; also works in pytest),
so the notebook cell should first run ``%matplotlib widget``.
"""

from __future__ import annotations

import html
import time
import traceback
from typing import Any, Callable

import ipywidgets as w
import matplotlib
import numpy as np

from lessonlib.style import current

__all__ = ["LessonWidget", "slider", "int_slider", "new_figure", "freeze_layout", "sweep_values"]


def slider(description: str, value: float, min: float, max: float, step: float, readout_format: str = ".2f") -> w.FloatSlider:
    """A float slider sized for the current style (wider, larger text in presenter mode)."""
    s = current()
    return w.FloatSlider(
        value=value, min=min, max=max, step=step, description=description, readout_format=readout_format,
        continuous_update=True, layout=w.Layout(width=s.control_width),
        style={"description_width": "initial"},
    )


def int_slider(description: str, value: int, min: int, max: int, step: int = 1) -> w.IntSlider:
    """An integer slider sized for the current style."""
    s = current()
    return w.IntSlider(
        value=value, min=min, max=max, step=step, description=description, continuous_update=True,
        layout=w.Layout(width=s.control_width), style={"description_width": "initial"},
    )


def new_figure(nrows: int = 1, ncols: int = 1, width: float | None = None, height: float | None = None, **kw):
    """(fig, axes) for a widget. Under ipympl the canvas is a live widget with no toolbar or header."""
    import matplotlib.pyplot as plt

    s = current()
    width = width or s.fig_width
    height = height or width * 0.38 * nrows
    was_interactive = plt.isinteractive()
    plt.ioff()  # the widget displays the canvas itself; no duplicate inline picture
    try:
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), **kw)
    finally:
        if was_interactive:
            plt.ion()
    canvas = fig.canvas
    if hasattr(canvas, "toolbar_visible"):  # ipympl
        canvas.toolbar_visible = False
        canvas.header_visible = False
        canvas.footer_visible = False
        canvas.resizable = False
        canvas.capture_scroll = False
    return fig, axes


def freeze_layout(fig) -> None:
    """Lay the figure out once, then keep the axes where they are, so a redraw skips the layout pass.

    Widgets' axes never change size, and constrained layout re-measures every label on each draw,
    which would cost more than the rest of an update. Uses ``fig.draw_without_rendering()``, not
    ``canvas.draw()``: an ipympl canvas drawn before its browser view exists stores an image the
    browser cannot show, and the widget then appears with no figure at all.
    """
    fig.draw_without_rendering()
    fig.set_layout_engine("none")


def is_live_backend() -> bool:
    """True when figures are ipympl widgets (``%matplotlib widget``, reported as "widget" or "ipympl")."""
    backend = matplotlib.get_backend().lower()
    return "ipympl" in backend or backend in ("widget", "module://ipympl.backend_nbagg")


def sweep_values(control: w.ValueWidget, n: int = 25) -> list[Any]:
    """Values spanning a control's whole range, both ends included (for tests and benchmarks)."""
    if isinstance(control, (w.FloatSlider, w.IntSlider)):
        vals = np.linspace(control.min, control.max, n)
        if isinstance(control, w.IntSlider):
            return sorted({int(round(v)) for v in vals})
        return [float(v) for v in vals]
    if hasattr(control, "options"):
        return [o[1] if isinstance(o, tuple) else o for o in control.options]
    if isinstance(control, (w.Checkbox, w.ToggleButton)):
        return [False, True]
    raise TypeError(f"don't know how to sweep {type(control).__name__}")


class LessonWidget:
    """Base class of the course's widgets. Subclasses build controls and a figure, then call ``_finish``."""

    title: str = ""

    def __init__(self) -> None:
        self.controls: dict[str, w.ValueWidget] = {}
        self._defaults: dict[str, Any] = {}
        self.message = w.HTML(layout=w.Layout(min_height="1.6em"))
        self.readout = w.HTML()
        self.reset_button = w.Button(description="Reset", icon="undo", layout=w.Layout(width="auto"))
        self.reset_button.on_click(lambda _: self.reset())
        self.update_times_ms: list[float] = []
        self.problem: str | None = None  # the last teaching message, None when the setting is fine
        self._muted = False
        self.fig = None
        self.root: w.Widget | None = None

    # -- building ---------------------------------------------------------------------------
    def add_control(self, name: str, control: w.ValueWidget) -> w.ValueWidget:
        """Register a control: changes call update(); reset() restores its current value."""
        self.controls[name] = control
        self._defaults[name] = control.value
        control.observe(self._on_change, names="value")
        return control

    def _finish(self, layout: w.Widget) -> None:
        """Set the root widget and draw once.

        CSS classes let a browser test find the parts: ``lesson-widget`` on the root (plus
        ``lesson-widget-<ClassName>``), ``lesson-message`` and ``lesson-readout`` on the text lines.
        """
        self.root = layout
        layout.add_class("lesson-widget")
        layout.add_class(f"lesson-widget-{type(self).__name__}")
        self.message.add_class("lesson-message")
        self.readout.add_class("lesson-readout")
        self.refresh()

    # -- behaviour --------------------------------------------------------------------------
    def update(self) -> None:
        """Recompute from the controls and move the artists. Raise ValueError to show a teaching message."""
        raise NotImplementedError

    def numbers(self) -> dict[str, float]:
        """The numbers the widget shows, by name (for tests)."""
        return {}

    def say(self, text: str, kind: str = "info") -> None:
        """Show one sentence under the figure; kind is 'info', 'warn' or 'ok'."""
        colour = {"info": "#444", "warn": "#b35900", "ok": "#1a7f37"}.get(kind, "#444")
        size = current().control_font
        self.message.value = f'<span style="color:{colour}; font-size:{size}">{text}</span>' if text else ""

    def refresh(self) -> None:
        """Run update() safely and time it."""
        t0 = time.perf_counter()
        try:
            self.problem = None
            self.update()
        except ValueError as e:  # the maths said no: explain it, keep the last good picture
            self.problem = str(e)
            self.say(html.escape(str(e)), "warn")
        except Exception as e:  # a bug must not become a traceback in front of a class
            self.problem = f"unexpected {type(e).__name__}: {e}"
            self.say(html.escape(f"Something unexpected happened ({type(e).__name__}: {e}). Press Reset."), "warn")
            traceback.print_exc(limit=0)
        if self.fig is not None:
            self.fig.canvas.draw_idle()
        self.update_times_ms.append((time.perf_counter() - t0) * 1000)

    def _on_change(self, change: dict) -> None:
        if not self._muted:
            self.refresh()

    def set(self, **values: Any) -> None:
        """Set several controls at once, then update once."""
        self._muted = True
        try:
            for k, v in values.items():
                self.controls[k].value = v
        finally:
            self._muted = False
        self.refresh()

    def reset(self) -> None:
        """Put every control back where it started."""
        self.set(**self._defaults)

    def sweep(self, n: int = 9, callback: Callable[[str, Any], None] | None = None) -> None:
        """Move every control across its range, one at a time (the others at their defaults)."""
        for name, control in self.controls.items():
            self.reset()
            for v in sweep_values(control, n):
                control.value = v
                if callback is not None:
                    callback(name, v)
        self.reset()

    # -- display ----------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs):
        if self.root is None:
            raise RuntimeError("widget not built: call _finish(layout) in __init__")
        return self.root._repr_mimebundle_(**kwargs)
