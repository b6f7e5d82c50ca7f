"""The one static-figure factory and the one show: sizes from the style, PNG bytes that depend on the picture alone."""

import struct

import IPython.display
import matplotlib.figure
import numpy as np
import pytest

from lessonlib.ui.figures import show, static_figure
from lessonlib.ui.style import current, use_style


def png_chunks(png: bytes) -> list[bytes]:
    kinds, pos = [], 8
    while pos < len(png):
        (n,) = struct.unpack(">I", png[pos : pos + 4])
        kinds.append(png[pos + 4 : pos + 8])
        pos += 12 + n
    return kinds


@pytest.fixture
def shown(monkeypatch):
    """What show() displays, as a list of IPython Image objects."""
    out = []
    monkeypatch.setattr(IPython.display, "display", out.append)
    return out


def test_static_figure_sizes_come_from_the_style():
    use_style(False)
    s = current()
    fig, ax = static_figure()
    assert isinstance(fig, matplotlib.figure.Figure) and fig.dpi == s.dpi
    np.testing.assert_allclose(fig.get_size_inches(), [s.fig_width, s.fig_width * 0.36])
    fig, axes = static_figure(2, 3, width=5.0)
    assert axes.shape == (2, 3)
    np.testing.assert_allclose(fig.get_size_inches(), [5.0, 5.0 * 0.36 * 2])
    fig, axes = static_figure(height=2.0, mosaic=[["a", "b"]], width_ratios=[2, 1])
    assert sorted(axes) == ["a", "b"] and axes["a"].get_position().width > axes["b"].get_position().width
    np.testing.assert_allclose(fig.get_size_inches(), [s.fig_width, 2.0])


def test_show_displays_the_same_png_bytes_every_time_without_a_software_chunk(shown):
    use_style(False)
    fig, ax = static_figure()
    ax.plot([0, 1, 2], [1, 0, 1])
    show(fig)
    show(fig)
    assert len(shown) == 2 and all(isinstance(img, IPython.display.Image) for img in shown)
    first, second = (img.data for img in shown)
    assert first == second and first.startswith(b"\x89PNG")
    assert b"tEXt" not in png_chunks(first) and b"Matplotlib version" not in first
    w, h = struct.unpack(">II", first[16:24])
    assert (w, h) == (round(current().fig_width * current().dpi), round(current().fig_width * 0.36 * current().dpi))


def test_show_draws_a_changed_figure_differently(shown):
    fig, ax = static_figure()
    ax.plot([0, 1], [0, 1])
    show(fig)
    ax.plot([0, 1], [1, 0])
    show(fig)
    assert shown[0].data != shown[1].data
