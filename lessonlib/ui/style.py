"""Figure style, with a presenter mode for projectors.

``use_style()`` applies the course style; ``use_style(presenter=True)`` (or the environment
variable LESSONLIB_PRESENTER=1) enlarges figures, fonts and widget controls for a projector.
Widgets and plots ask ``current()`` for sizes, so every notebook honours the switch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

__all__ = ["Style", "use_style", "current", "is_presenter", "presenter_css", "show_presenter_css"]


@dataclass(frozen=True)
class Style:
    presenter: bool
    font_size: float
    fig_width: float  # inches
    dpi: int
    line_width: float
    control_width: str  # CSS width of a slider
    control_font: str  # CSS font size of widget labels
    widget_fig_max: tuple[float, float] | None = field(
        default=None, repr=False
    )  # (width, height), inches: a widget figure fits in it


# Presenter: a widget has a 1280x720 slide of its own (tools/present.py); its controls and readout take
# about 280 px of height and the slide's margins about 100 px of width, so its figure gets at most
# 11.6 x 4.4 inches (1160 x 440 px).
_NORMAL = Style(False, 10.0, 9.0, 80, 1.8, "420px", "13px")
_PRESENTER = Style(True, 16.0, 12.0, 100, 3.0, "600px", "20px", widget_fig_max=(11.6, 4.4))
_current = _NORMAL


def is_presenter() -> bool:
    return _current.presenter


def current() -> Style:
    """The style in force (normal unless use_style(presenter=True) was called)."""
    return _current


def use_style(presenter: bool | None = None) -> Style:
    """Apply the course's matplotlib style; ``presenter=None`` reads LESSONLIB_PRESENTER from the environment."""
    global _current
    import matplotlib as mpl

    if presenter is None:
        presenter = os.environ.get("LESSONLIB_PRESENTER", "0").strip().lower() in ("1", "true", "yes", "on")
    _current = _PRESENTER if presenter else _NORMAL
    s = _current
    mpl.rcParams.update(
        {
            "figure.figsize": (s.fig_width, s.fig_width * 0.4),
            "figure.dpi": s.dpi,
            "savefig.dpi": s.dpi,
            "font.size": s.font_size,
            "axes.titlesize": s.font_size * 1.1,
            "axes.labelsize": s.font_size,
            "legend.fontsize": s.font_size * 0.9,
            "xtick.labelsize": s.font_size * 0.9,
            "ytick.labelsize": s.font_size * 0.9,
            "lines.linewidth": s.line_width,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "figure.constrained_layout.use": True,
            "svg.hashsalt": "lessonlib",
        }
    )
    return s


def presenter_css(style: Style | None = None) -> str:
    """CSS that enlarges widget labels, sliders, buttons and the lesson widgets' text lines for a projector.

    It sets ipywidgets' own size variables on every widget, so controls keep their layout, only bigger.
    """
    s = style or _PRESENTER
    px = float(s.control_font.removesuffix("px"))
    return f"""
.jupyter-widgets, .lesson-widget {{
  --jp-widgets-font-size: {s.control_font};
  --jp-widgets-inline-height: {round(px * 2)}px;
  --jp-widgets-inline-label-width: {round(px * 8)}px;
  --jp-widgets-inline-width: {s.control_width};
  --jp-widgets-slider-handle-size: {round(px * 1.2)}px;
  --jp-widgets-slider-track-thickness: {round(px * 0.35)}px;
  --jp-widgets-menu-item-height: {round(px * 1.8)}px;
}}
.jupyter-widgets .widget-label, .jupyter-widgets .widget-readout, .jupyter-widgets button,
.jupyter-widgets select, .jupyter-widgets input, .jupyter-widgets .widget-html-content,
.lesson-readout, .lesson-message {{ font-size: {s.control_font}; line-height: 1.4; }}
.jupyter-widgets .widget-readout {{ min-width: {round(px * 4)}px; }}
""".strip()


def show_presenter_css() -> None:
    """In a notebook, add presenter_css() to the page (does nothing outside IPython).

    The style sheet travels in an ipywidgets HTML widget: JupyterLab and Voila put a widget's HTML into
    the page as it is, where a plain HTML output may be sanitised (Voila drops its <style>).
    """
    try:
        import ipywidgets as w
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    if get_ipython() is None:
        return
    sheet = w.HTML(f"<style>{presenter_css(current())}</style>", layout=w.Layout(height="0px", margin="0px"))
    sheet.add_class("lesson-presenter-css")
    display(sheet)
