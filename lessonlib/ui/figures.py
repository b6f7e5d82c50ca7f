"""Static figures: one factory for every plot of the course, and one way to show them.

A ``plot_*`` function of a lesson draws on ``static_figure(...)`` and returns the Figure; the
notebook shows it with ``show(fig)``. The figures are drawn off-screen (pyplot does not track
them), so they print the same whatever backend the notebook uses, ``%matplotlib widget``
included, and ``show`` writes the same PNG bytes on every run: the notebook tests compare them.
"""

from __future__ import annotations

import io
from typing import Any

from matplotlib.figure import Figure

from lessonlib.ui.style import current

__all__ = ["static_figure", "show"]


def static_figure(
    nrows: int = 1,
    ncols: int = 1,
    *,
    width: float | None = None,
    height: float | None = None,
    mosaic: list[list[str]] | None = None,
    **kw: Any,
) -> tuple[Figure, Any]:
    """(fig, axes): an off-screen figure of width x height inches, in the course style, with its axes.

    Shapes: axes as ``Figure.subplots(nrows, ncols, **kw)`` returns them, or the dict of
    ``Figure.subplot_mosaic(mosaic, **kw)`` when ``mosaic`` is given.

    ``width`` defaults to the style's figure width, ``height`` to 0.36 * width per row. Layout is
    constrained, the resolution the style's.
    """
    s = current()
    width = width or s.fig_width
    fig = Figure(figsize=(width, height or width * 0.36 * nrows), dpi=s.dpi, layout="constrained")
    if mosaic is not None:
        return fig, fig.subplot_mosaic(mosaic, **kw)
    return fig, fig.subplots(nrows, ncols, **kw)


def show(fig: Figure) -> None:
    """Display ``fig`` in the notebook as a PNG image at the style's resolution; return nothing.

    Shapes: fig of w x h inches -> a (h * dpi, w * dpi) pixel PNG.

    The PNG carries no "Software" text chunk, so its bytes depend on the picture alone (not on
    the matplotlib version that wrote it). Works for a static figure and for a widget's live
    figure (a still of its current state).
    """
    from IPython.display import Image, display

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=current().dpi, metadata={"Software": None})
    display(Image(data=buf.getvalue(), format="png"))
