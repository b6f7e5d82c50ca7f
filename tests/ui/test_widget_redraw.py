"""Fast redraws give the same pixels as full draws, for every lesson widget.

A widget redraws by blitting: it restores the background of its last full draw and draws only the
artists it registered with ``animate``. If ``update()`` changed an artist it did not register (a
title, a label, a legend entry), the screen would show a stale picture. Here every control of every
widget is swept; after each change the pixels the widget produced are compared with a full draw
of the same state. The browser view is simulated as ipympl sees it: ``syncing_data_url`` is False
once the front end has said "initialized".
"""

import matplotlib

matplotlib.use("module://ipympl.backend_nbagg")

import ipywidgets as w  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from benchmarks.widget_latency import construct, discover  # noqa: E402
from lessonlib.ui.widgetkit import LessonWidget, new_figure, slider  # noqa: E402

WIDGETS = discover()


def pixels(fig) -> np.ndarray:
    return np.asarray(fig.canvas.get_renderer().buffer_rgba()).copy()


def open_view(widget) -> None:
    """What ipympl does when JupyterLab shows the canvas: stop syncing the data URL, draw in full."""
    widget.fig.canvas.syncing_data_url = False
    widget.fig.canvas.draw()


def sweep_and_compare(widget, n_values: int = 7) -> dict[str, int]:
    """Sweep every control; after each change compare the widget's frame with a full draw. Returns counts by path."""
    counts = {"blit": 0, "full": 0, "idle": 0}
    for name, control, v in widget.sweep_changes(n_values):
        control.value = v
        counts[widget.last_redraw] += 1
        shown = pixels(widget.fig)
        widget.fig.canvas.draw()
        full = pixels(widget.fig)
        differ = np.any(shown != full, axis=-1)
        assert not differ.any(), (
            f"{type(widget).__name__}: after {name} = {v!r} the redraw ({widget.last_redraw}) left "
            f"{int(differ.sum())} pixels different from a full draw, around rows/cols "
            f"{np.argwhere(differ).min(0)}..{np.argwhere(differ).max(0)}: an artist changed by update() "
            "is not registered with animate(), or a static change did not call restage()"
        )
    widget.reset()
    return counts


def static_artists_above_animated(widget) -> list[str]:
    """Static data artists that a full draw would put above an animated one they overlap.

    Animated artists are drawn after the whole background, so such an artist would end up hidden
    under them, unlike in a saved figure (which draws everything in z-order).
    """
    from matplotlib.axis import Axis
    from matplotlib.spines import Spine

    widget.fig.canvas.draw()
    renderer = widget.fig.canvas.get_renderer()
    found = []
    for ax in widget.fig.axes:
        children = [a for a in ax.get_children() if a.get_visible() and a is not ax.patch]
        animated = [(a, a.get_window_extent(renderer)) for a in children if a.get_animated()]
        for a in children:
            if a.get_animated() or isinstance(a, (Axis, Spine)) or a in (ax.title, ax._left_title, ax._right_title):
                continue
            box = a.get_window_extent(renderer)
            for b, b_box in animated:
                if a.get_zorder() > b.get_zorder() and box.overlaps(b_box):
                    found.append(
                        f"{type(a).__name__} (zorder {a.get_zorder()}) over animated {type(b).__name__} "
                        f"(zorder {b.get_zorder()}) in axes '{ax.get_title()}'"
                    )
                    break
    return found


def assert_nothing_hides_under_animated(widget) -> None:
    found = static_artists_above_animated(widget)
    assert found == [], (
        f"{type(widget).__name__}: {found}. A live widget draws its animated artists after the background, so "
        "these static artists would be hidden under them (the still, drawn in z-order, would not show it). Move "
        "the static artist off the animated one (a title instead of a legend), or animate it too."
    )


@pytest.mark.parametrize("cls", [c for _, c in WIDGETS], ids=[c.__name__ for _, c in WIDGETS])
def test_animated_artists_do_not_cover_static_ones(cls):
    widget = construct(cls)
    try:
        assert_nothing_hides_under_animated(widget)
    finally:
        matplotlib.pyplot.close(widget.fig)


@pytest.mark.parametrize("cls", [c for _, c in WIDGETS], ids=[c.__name__ for _, c in WIDGETS])
def test_redraws_match_full_draws(cls):
    widget = construct(cls)
    try:
        open_view(widget)
        counts = sweep_and_compare(widget)
        assert counts["idle"] == 0, "with the view open every redraw must reach the screen"
        assert counts["blit"] > 0, f"{cls.__name__} never blits: its redraws all draw the whole figure ({counts})"
    finally:
        matplotlib.pyplot.close(widget.fig)


class Forgetful(LessonWidget):
    """Changes its title in update() but registers only the line: the comparison must catch it."""

    def __init__(self, register_title: bool):
        super().__init__()
        self.fig, self.ax = new_figure()
        self.ax.set_xlim(0, 1)
        self.ax.set_ylim(-2, 2)
        (self.line,) = self.ax.plot([0, 1], [0, 1])
        self.animate(self.line)
        if register_title:
            self.animate(self.ax.title)
        self.add_control("slope", slider("slope", 1.0, -2.0, 2.0, 0.5))
        self._finish(w.VBox([self.controls["slope"], self.fig.canvas]))

    def update(self):
        a = self.controls["slope"].value
        self.line.set_ydata([0, a])
        self.ax.set_title(f"slope {a:+.1f}")


class WithLegend(LessonWidget):
    """An animated line under a static legend: the legend would vanish under the line while the widget is live."""

    def __init__(self):
        super().__init__()
        self.fig, self.ax = new_figure()
        (self.line,) = self.ax.plot([0, 1], [0, 1], label="line")
        self.ax.legend(loc="center")
        self.animate(self.line)
        self.add_control("slope", slider("slope", 1.0, -2.0, 2.0, 0.5))
        self._finish(w.VBox([self.controls["slope"], self.fig.canvas]))

    def update(self):
        self.line.set_ydata([0, self.controls["slope"].value])


def test_a_legend_over_an_animated_line_is_found_and_the_message_says_what_to_do():
    widget = WithLegend()
    try:
        with pytest.raises(AssertionError, match=r"Legend .* over animated Line2D.*a title instead of a legend"):
            assert_nothing_hides_under_animated(widget)
    finally:
        matplotlib.pyplot.close(widget.fig)


def test_comparison_catches_an_unregistered_artist():
    bad, good = Forgetful(register_title=False), Forgetful(register_title=True)
    try:
        open_view(bad)
        with pytest.raises(AssertionError, match="not registered with animate"):
            sweep_and_compare(bad)
        open_view(good)
        assert sweep_and_compare(good)["blit"] > 0
    finally:
        matplotlib.pyplot.close(bad.fig)
        matplotlib.pyplot.close(good.fig)


def test_no_push_before_the_view_exists():
    """Run by nbconvert or before display, a redraw only asks for a draw: an image sent then would be lost."""
    d = Forgetful(register_title=True)
    try:
        d.controls["slope"].value = 2.0
        assert d.last_redraw == "idle"
        open_view(d)
        d.controls["slope"].value = 1.5
        assert d.last_redraw == "blit"
        d.ax.set_ylim(-3, 3)  # a new axis limit changes the background
        d.controls["slope"].value = 1.0
        assert d.last_redraw == "full"
    finally:
        matplotlib.pyplot.close(d.fig)


def test_saved_figure_contains_animated_artists():
    import io

    d = Forgetful(register_title=True)
    try:
        open_view(d)
        buf = io.BytesIO()
        d.fig.savefig(buf, format="rgba")
        saved = np.frombuffer(buf.getvalue(), np.uint8).reshape(pixels(d.fig).shape)
        d.line.set_visible(False)
        d.ax.title.set_visible(False)
        buf2 = io.BytesIO()
        d.fig.savefig(buf2, format="rgba")
        without = np.frombuffer(buf2.getvalue(), np.uint8).reshape(saved.shape)
        assert (saved != without).any(), "savefig must draw the animated line and title"
    finally:
        matplotlib.pyplot.close(d.fig)


def test_fast_frame_encoder_sends_what_matplotlib_would():
    """The level-1 PNG frames decode to the same pixels, full and diff, as matplotlib's own encoder's."""
    import io

    from matplotlib.backends.backend_webagg_core import FigureCanvasWebAggCore
    from PIL import Image

    def decode(png: bytes) -> np.ndarray:
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))

    d = Forgetful(register_title=True)
    try:
        canvas = d.fig.canvas
        assert "get_diff_image" in vars(canvas), "new_figure should install the fast encoder on ipympl canvases"
        open_view(d)
        for slope in (2.0, -1.5, 0.5):
            state = (canvas._last_buff.copy(), canvas._force_full)
            d.line.set_ydata([0, slope])  # change the picture, then encode it both ways from the same state
            d.fig.canvas.draw()
            canvas._last_buff, canvas._force_full = state
            canvas._png_is_old = True
            ours, mode_ours = decode(canvas.get_diff_image()), canvas._image_mode
            canvas._last_buff, canvas._force_full = state
            canvas._png_is_old = True
            theirs, mode_theirs = decode(FigureCanvasWebAggCore.get_diff_image(canvas)), canvas._image_mode
            assert mode_ours == mode_theirs
            np.testing.assert_array_equal(ours, theirs)
            assert ours[..., 3].any(), "a changed picture must send changed pixels"
    finally:
        matplotlib.pyplot.close(d.fig)


@pytest.mark.parametrize("cls", [c for _, c in WIDGETS], ids=[c.__name__ for _, c in WIDGETS])
def test_a_blit_leaves_nothing_for_the_post_execute_hook(cls):
    """IPython runs matplotlib's draw_all after every widget message; a figure left stale there would
    be drawn again in full at the browser's request, doubling the work of every change."""
    from matplotlib._pylab_helpers import Gcf

    widget = construct(cls)
    try:
        open_view(widget)
        requested = []
        widget.fig.canvas.draw_idle = lambda: requested.append(1)  # what draw_all calls for a stale figure
        for _, control, v in widget.sweep_changes(4):
            control.value = v
            Gcf.draw_all()
        assert requested == [], f"{cls.__name__}: {len(requested)} full redraws requested after its own redraws"
    finally:
        matplotlib.pyplot.close(widget.fig)


@pytest.mark.parametrize("cls", [c for _, c in WIDGETS], ids=[c.__name__ for _, c in WIDGETS])
def test_first_change_after_the_view_opens_is_a_whole_picture(cls):
    """Between the browser's "initialized" and its first full draw, a change must not blit onto the
    blank canvas that the layout pass (draw_without_rendering) left behind."""
    widget = construct(cls)
    try:
        widget.fig.canvas.syncing_data_url = False  # the view exists; it has not asked for a draw yet
        name, control, v = next(iter(widget.sweep_changes(5)))
        control.value = v
        shown = pixels(widget.fig)
        widget.fig.canvas.draw()
        np.testing.assert_array_equal(shown, pixels(widget.fig))
    finally:
        matplotlib.pyplot.close(widget.fig)


def test_training_frames_match_full_draws():
    """The training widget redraws after every chunk of steps, outside any control change: same pixels too."""
    from lessonlib.lessons.l05_stacking.widgets import TrainingControl

    widget = construct(TrainingControl)
    try:
        open_view(widget)
        paths = []
        for _ in range(4):
            widget.step(60)
            paths.append(widget.last_redraw)
            shown = pixels(widget.fig)
            widget.fig.canvas.draw()
            np.testing.assert_array_equal(shown, pixels(widget.fig))
        assert "blit" in paths, paths
    finally:
        matplotlib.pyplot.close(widget.fig)
