"""What every widget of the course shares: controls, a live figure, a message line, reset, timing.

A lesson widget subclasses ``LessonWidget``, registers its controls with ``add_control`` and
implements ``update()`` (recompute, move the artists, no new figure). The base class:

* calls ``update()`` whenever a control changes, and times it (``update_times_ms``);
* turns any ValueError raised while updating into a sentence in the message line: a
  non-invertible setting is a teaching moment, never a traceback;
* exposes ``controls`` (name -> widget) and ``numbers()`` so tests and benchmarks can sweep
  every control and read what the widget shows, without a browser;
* sizes controls and figures by the presenter style (``lessonlib.ui.style``);
* redraws fast: artists that ``update()`` moves are registered with ``animate``; once the
  browser view of an ipympl canvas exists, a redraw restores a cached background (axes, ticks,
  labels) and draws only those artists (blitting), unless an axis limit changed, in which
  case it draws the whole figure. Text is most of the cost of a full draw, and the static
  text is exactly what the background holds;
* plays a slider's drag in the page when it can (``lessonlib.ui.film``): while the widget is in
  view and idle, the kernel draws every position of each slider in advance; during a drag the
  page paints those frames itself, and the kernel draws again only on release. A drag through the
  kernel shows 2-11 frames a second on 2 cores; a film plays at the page's frame rate. Set the
  environment variable ``LESSONLIB_FILMS=0`` to send every frame from the kernel.

Figures use ipympl when it is available (live, draggable in JupyterLab; also works in pytest),
so the notebook cell should first run ``%matplotlib widget``.
"""

from __future__ import annotations

import html
import math
import os
import re
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import ipywidgets as w
import numpy as np

from lessonlib.ui import film, livelayer
from lessonlib.ui.stills import figure_png, still_bundle
from lessonlib.ui.style import current

__all__ = [
    "LessonWidget",
    "slider",
    "int_slider",
    "new_figure",
    "freeze_layout",
    "sweep_values",
    "steady_limit",
    "polyline",
    "encode_png",
    "from_browser",
    "FRAME_INTERVAL_S",
]


def slider(
    description: str, value: float, min: float, max: float, step: float, readout_format: str = ".2f"
) -> w.FloatSlider:
    """A float slider sized for the current style (wider, larger text in presenter mode)."""
    s = current()
    return w.FloatSlider(
        value=value,
        min=min,
        max=max,
        step=step,
        description=description,
        readout_format=readout_format,
        continuous_update=True,
        layout=w.Layout(width=s.control_width),
        style={"description_width": "initial"},
    )


def int_slider(description: str, value: int, min: int, max: int, step: int = 1) -> w.IntSlider:
    """An integer slider sized for the current style."""
    s = current()
    return w.IntSlider(
        value=value,
        min=min,
        max=max,
        step=step,
        description=description,
        continuous_update=True,
        layout=w.Layout(width=s.control_width),
        style={"description_width": "initial"},
    )


def new_figure(nrows: int = 1, ncols: int = 1, width: float | None = None, height: float | None = None, **kw):
    """(fig, axes) for a widget: its canvas is a live ipympl widget with no toolbar or header.

    With ``%matplotlib widget`` the figure is pyplot's; under any other backend (``%matplotlib inline``, a
    plain script) the figure gets an ipympl canvas of its own, so the widget works the same (pyplot does
    not track it, so the inline backend shows no extra still picture of it).

    A figure larger than the style's ``widget_fig_max`` is scaled down to fit it, shape kept (presenter
    mode: a widget's whole slide is 1280x720).
    """
    import matplotlib.pyplot as plt

    s = current()
    width = width or s.fig_width
    height = height or width * 0.38 * nrows
    if s.widget_fig_max is not None:  # keep the shape, fit the slide
        scale = min(1.0, s.widget_fig_max[0] / width, s.widget_fig_max[1] / height)
        width, height = width * scale, height * scale
    was_interactive = plt.isinteractive()
    plt.ioff()  # the widget displays the canvas itself; no duplicate inline picture
    try:
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), **kw)
    finally:
        if was_interactive:
            plt.ion()
    if not hasattr(fig.canvas, "toolbar_visible"):  # pyplot's backend is not ipympl
        plt.close(fig)
        fig, axes = _ipympl_figure(nrows, ncols, (width, height), **kw)
    canvas = fig.canvas
    if hasattr(canvas, "toolbar_visible"):  # ipympl
        canvas.toolbar_visible = False
        canvas.header_visible = False
        canvas.footer_visible = False
        canvas.resizable = False
        canvas.capture_scroll = False
        use_fast_png(canvas)
    return fig, axes


def _ipympl_figure(nrows: int, ncols: int, figsize: tuple[float, float], **kw):
    """(fig, axes) on an ipympl canvas made directly, whatever pyplot's backend is."""
    try:
        from ipympl.backend_nbagg import Canvas, FigureManager
    except ImportError:
        raise ImportError(
            "lessonlib's widgets draw with ipympl, which is not installed here: run `python3 course.py "
            "setup` (or pip install ipympl==0.10.0), restart the kernel and run the notebook again."
        ) from None
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureManager(Canvas(fig), 0)  # the manager gives the canvas the toolbar object ipympl's front end expects
    return fig, fig.subplots(nrows, ncols, **kw)


def encode_png(rgba: np.ndarray, level: int = 1) -> bytes:
    """A PNG of an (H, W, 4) uint8 RGBA array: no row filters, zlib at ``level``.

    For the frames a live figure sends on every change. On a typical diff frame of the coupling
    widget (828 x 288 pixels, a fifth of them changed) this took 4.8 ms against 21 ms for PIL's
    default PNG encoder (zlib level 6, a filter chosen per row) and 12 ms for PIL at level 1,
    for a file about 15% larger than PIL's default: mostly transparent zeros compress well anyway.
    """
    import struct
    import zlib

    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        raise ValueError(f"encode_png needs an (H, W, 4) uint8 RGBA array, got {rgba.shape} {rgba.dtype}")
    h, w_ = rgba.shape[:2]
    rows = np.zeros((h, 1 + 4 * w_), dtype=np.uint8)  # each row starts with its filter type: 0, none
    rows[:, 1:] = rgba.reshape(h, -1)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", w_, h, 8, 6, 0, 0, 0)  # 8-bit RGBA, deflate, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), level))
        + chunk(b"IEND", b"")
    )


def _fast_diff_image(canvas) -> bytes | None:
    """The frame an ipympl canvas sends to the browser, as matplotlib's webagg ``get_diff_image``
    makes it (a full image, or only the changed pixels over transparent ones), encoded with
    ``encode_png`` instead of PIL's slower default.
    """
    if not canvas._png_is_old:
        return None
    pixels = np.asarray(canvas.get_renderer().buffer_rgba())
    buff = pixels.view(np.uint32).squeeze(2)
    if canvas._force_full or buff.shape != canvas._last_buff.shape or (pixels[:, :, 3] != 255).any():
        canvas.set_image_mode("full")
        output = buff
    else:
        canvas.set_image_mode("diff")
        output = np.where(buff != canvas._last_buff, buff, 0)
    canvas._last_buff = buff.copy()
    canvas._force_full = False
    canvas._png_is_old = False
    return encode_png(output.view(np.uint8).reshape((*output.shape, 4)))


def use_fast_png(canvas) -> bool:
    """Give an ipympl canvas the faster frame encoder; False (and nothing changed) if the canvas is
    not the webagg kind this encoder was written for."""
    try:
        from matplotlib.backends.backend_webagg_core import FigureCanvasWebAggCore
    except ImportError:
        return False
    needed = ("_png_is_old", "_force_full", "_last_buff", "set_image_mode")
    if not isinstance(canvas, FigureCanvasWebAggCore) or not all(hasattr(canvas, a) for a in needed):
        return False
    if type(canvas).get_diff_image is not FigureCanvasWebAggCore.get_diff_image:
        return False  # a backend with its own encoder: leave it alone
    canvas.get_diff_image = lambda: _fast_diff_image(canvas)
    return True


def freeze_layout(fig) -> None:
    """Lay the figure out once, then keep the axes where they are, so a redraw skips the layout pass.

    Widgets' axes never change size, and constrained layout re-measures every label on each draw,
    which would cost more than the rest of an update. Uses ``fig.draw_without_rendering()``, not
    ``canvas.draw()``: an ipympl canvas drawn before its browser view exists stores an image the
    browser cannot show, and the widget then appears with no figure at all.
    """
    # the layout pass paints nothing, so whoever listens for finished draws (a widget grabbing its
    # blitting background) must not hear of it
    with fig.canvas.callbacks.blocked(signal="draw_event"):
        fig.draw_without_rendering()
    fig.set_layout_engine("none")


def steady_limit(current: float | None, needed: float, headroom: float = 1.15, slack: float = 3.0) -> float:
    """An axis limit that moves only when it must: ``current`` while ``needed`` fits below it and fills
    at least 1/``slack`` of it, else ``needed * headroom``.

    A steady axis lets the eye see a density grow or shrink (an axis rescaled on every change would
    hide exactly that), and it keeps redraws cheap: unchanged limits mean the ticks need no redraw.
    """
    if not np.isfinite(needed) or needed <= 0:
        raise ValueError(f"an axis limit needs a positive finite value, got {needed}")
    if current is not None and needed <= current <= needed * slack:
        return current
    return needed * headroom


def polyline(pieces) -> tuple[np.ndarray, np.ndarray]:
    """Many polylines as one: (x, y) with a NaN between pieces, for a single Line2D.

    Each artist pays its own set-up (transforms, clipping, graphics context): 18 grid lines of 120
    points drew in 1.3 ms as 18 artists and in 0.25 ms as one, which matters for grids that move
    on every redraw.

    Shapes: pieces: sequence of (n_i, 2) -> x, y each (sum n_i + len(pieces) - 1,).
    """
    parts = []
    for k, p in enumerate(pieces):
        p = np.asarray(p, dtype=float)
        if p.ndim != 2 or p.shape[1] != 2:
            raise ValueError(f"each piece must be an (n, 2) array of points, piece {k} has shape {p.shape}")
        if parts:
            parts.append(np.full((1, 2), np.nan))
        parts.append(p)
    if not parts:
        return np.empty(0), np.empty(0)
    xy = np.concatenate(parts)
    return xy[:, 0], xy[:, 1]


FRAME_INTERVAL_S = 1 / 30  # while a hand drags, a widget draws at most this often, always its latest state
ANSWER_TIMEOUT_S = 0.5  # a frame the browser has not answered for this long no longer holds the next one back


def _running_loop() -> Any:
    import asyncio

    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def from_browser() -> bool:
    """True while the kernel handles a message from the browser (a slider moved, a mouse event on a
    figure), False while it runs a cell's code or outside a kernel."""
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        parent = kernel.get_parent("shell") if kernel is not None else None
    except Exception:  # no IPython, or a kernel without parents: not a browser message
        return False
    return bool(parent) and parent.get("header", {}).get("msg_type") == "comm_msg"


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


def _pair(value: Any) -> tuple[float, float] | None:
    """A live drag's value from the page: two finite numbers, or None."""
    try:
        u, v = (float(x) for x in value)
    except (TypeError, ValueError):
        return None
    return (u, v) if np.isfinite(u) and np.isfinite(v) else None


class LessonWidget:
    """Base class of the course's widgets. Subclasses build controls and a figure, then call ``_finish``."""

    title: str = ""
    no_film: tuple[str, ...] = ()  # sliders that change more than the moving artists (a structure, a training)

    def __init__(self) -> None:
        self.controls: dict[str, w.ValueWidget] = {}
        self._defaults: dict[str, Any] = {}
        self.message = w.HTML(layout=w.Layout(min_height="1.6em"))
        self.readout = w.HTML()
        self.reset_button = w.Button(
            description="Reset", icon="undo", layout=w.Layout(width="auto", min_width="fit-content", flex="0 0 auto")
        )
        self.reset_button.on_click(lambda _: self.reset())
        self.update_times_ms: list[float] = []
        self.problem: str | None = None  # the last teaching message, None when the setting is fine
        self._muted = False
        self.fig = None
        self.root: w.Widget | None = None
        self._animated: list[Any] = []  # artists update() changes; drawn over the cached background
        self._background = None  # the figure without its animated artists, from the last full draw
        self._stage_key: tuple | None = None  # axis limits and sizes the background was drawn with
        self._draw_cid: int | None = None
        self.last_redraw = ""  # "blit", "full" or "idle": how the last redraw reached the screen
        self._pending = False  # a change from the browser waits for the next frame
        self._frame_timer: Any = None
        self._last_frame = -float("inf")  # perf_counter() of the last frame drawn for the browser
        self._in_flight = False  # a frame was sent and the browser has not yet said it took it
        self._asked_at = 0.0  # when the page was last asked to answer
        self._answer_timer: Any = None
        self._films = film.Films(self)
        self._filming = False  # a film is being made: controls and texts are stand-ins (film.pinned)
        self._layer: Any = None  # the widget that plays films in the page (livelayer.LiveLayer)
        self._changed: set[str] = set()  # controls changed since the last refresh
        self._handles_sent: list[dict] = []  # the live drags' handles the page was last told of
        self._page: tuple | None = None  # (key, model, PNGs, id) of the page's drawing of the live drags (page_drawing)
        self._page_id = 0
        self._backgrounds_drawn = 0  # counts full draws: a new background (the page drawing's cache key)
        # The kernel may handle the page's messages on more than one thread (JupyterLab sends a widget's messages
        # on a kernel subshell): a film being made on one must not meet a refresh or a reset on another.
        self._lock = threading.RLock()

    # -- building ---------------------------------------------------------------------------
    def add_control(self, name: str, control: w.ValueWidget) -> w.ValueWidget:
        """Register a control: changes call update(); reset() restores its current value.

        ``name`` must be a Python identifier: it is how a learner sets the control (``widget.set(name=value)``), and
        the page finds a filmed slider by its CSS class ``lesson-film-<name>``, which cannot hold a space.
        """
        if not isinstance(name, str) or not name.isidentifier():
            fix = re.sub(r"\W|^(?=\d)", "_", str(name))
            raise ValueError(
                f"a control's name must be a Python identifier (letters, digits and _), got {name!r}: the page finds a "
                f"filmed slider by the class lesson-film-<name>, and widget.set(<name>=value) sets it. Use e.g. "
                f"{fix!r}, and put the words a learner reads in the description."
            )
        self.controls[name] = control
        self._defaults[name] = control.value
        control.observe(lambda change: self._on_change(change, name), names="value")
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
        if self.fig is not None and self._draw_cid is None:
            self._draw_cid = self.fig.canvas.mpl_connect("draw_event", self._on_full_draw)
            self._listen_for_answers()
            self._add_film_layer(layout)
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
        with self._lock:
            self._refresh()

    def _refresh(self) -> None:
        t0 = time.perf_counter()
        try:
            self.problem = None
            self._check_numbers()
            self.update()
        except ValueError as e:  # the maths said no: explain it, keep the last good picture
            self.problem = str(e)
            self.say(html.escape(str(e)), "warn")
        except Exception as e:  # a bug must not become a traceback in front of a class
            self.problem = f"unexpected {type(e).__name__}: {e}"
            self.say(html.escape(f"Something unexpected happened ({type(e).__name__}: {e}). Press Reset."), "warn")
            traceback.print_exc(limit=0)
        self.redraw()
        self._drop_films()
        self._send_handles()
        self.update_times_ms.append((time.perf_counter() - t0) * 1000)

    def _check_numbers(self) -> None:
        """A control set to NaN or infinity (from code; the page cannot): named, before update() blames another cause."""
        for name, control in self.controls.items():
            value = control.value
            if isinstance(value, float) and not math.isfinite(value):
                span = f" between {control.min:g} and {control.max:g}" if hasattr(control, "min") else ""
                raise ValueError(
                    f"{control.description or name} is set to {value}, not a number the widget can use: set it to a "
                    f"number{span}, or press Reset."
                )

    # -- drawing ----------------------------------------------------------------------------
    def animate(self, *artists: Any) -> Any:
        """Register artists that update() changes (lines, images, patches, texts inside axes).

        They are drawn over the cached background on every redraw; everything else is drawn only
        in a full draw. A figure saved with savefig still contains them. Returns the first artist
        (handy as ``self.line = self.animate(line)``).
        """
        for a in artists:
            if a.axes is None:
                raise ValueError("only artists inside an axes can be animated (figure-level text cannot)")
            a.set_animated(True)
            self._animated.append(a)
        return artists[0] if artists else None

    def restage(self) -> None:
        """Something static changed (a label, a legend): the next redraw draws the whole figure."""
        self._background = None

    def animated_artists(self) -> list[Any]:
        """The artists ``update()`` moves, in drawing order."""
        self._animated = [a for a in self._animated if a.axes is not None]  # drop removed artists
        axes = list(self.fig.axes)
        order = {id(ax): k for k, ax in enumerate(axes)}
        return sorted(self._animated, key=lambda a: (order.get(id(a.axes), len(axes)), a.get_zorder()))

    def _draw_animated(self) -> None:
        for a in self.animated_artists():
            if a.get_visible():
                self.fig.draw_artist(a)

    def stage(self) -> tuple:
        """What the background depends on: every axis' limits, the figure's size and resolution."""
        fig = self.fig
        return (fig.dpi, tuple(fig.bbox.size), tuple(tuple(ax.viewLim.bounds) for ax in fig.axes))

    def _on_full_draw(self, event: Any) -> None:
        canvas = self.fig.canvas
        if self._filming or canvas.is_saving() or not hasattr(canvas, "copy_from_bbox"):
            return  # a film's own background, or savefig draws animated artists itself; only the live canvas keeps a background
        self._background = canvas.copy_from_bbox(self.fig.bbox)
        self._backgrounds_drawn += 1
        self._stage_key = self.stage()
        self._draw_animated()

    # -- films (lessonlib.ui.film) ------------------------------------------------------------
    def figure_drags(self) -> list[dict[str, Any]]:
        """Drags on the figure that get films: for each, ``name``; ``values``, the positions filmed; where the page
        picks it up, ``x``, ``y`` (figure pixels, y up) and ``r`` (pixels); and how a pointer's figure pixel gives
        the value, ``value = a + b * (y if axis == 'y' else x)``. The widget also implements ``film_apply``,
        ``drag_release`` and, for state outside its controls, ``film_save`` / ``film_restore``."""
        return []

    def live_drags(self) -> list[dict[str, Any]]:
        """Drags on the figure in two dimensions (02's vector tips), which no film can hold: the page asks the kernel
        for each frame while the hand drags (``Films.live``), one at a time, and paints them as film frames.
        For each: ``name``; where the page picks it up, ``x``, ``y`` (figure pixels, y up) and ``r``; how a pointer's
        figure pixel gives the value, ``(a[0] + b[0] * x, a[1] + b[1] * y)``, snapped to ``step`` within ``lo``..``hi``.
        The widget implements ``film_apply`` and ``drag_release`` for them, as for ``figure_drags``."""
        return []

    def page_drawing(self) -> tuple[dict[str, Any], list[Any], list[bytes]] | None:
        """How the page draws the live drags' moving parts itself, with no message to the kernel for a frame (a 2-D drag
        whose frames the kernel draws comes at 15-17 frames a second on 2 cores; drawn in the page, at the page's rate):
        ``(model, artists, images)``, or None to let the kernel draw every frame. ``model["kind"]`` names the page's
        drawing code (``livelayer.js``: ``PAGE_DRAWINGS``), ``artists`` are those it draws (everything else is in the
        background it is sent), ``images`` PNGs the model refers to by index. Asked again when the figure's stage or
        background changes; ``page_state()`` gives what changes with the controls."""
        return None

    def page_state(self) -> dict[str, Any]:
        """The part of the page's model (``page_drawing``) that changes with the controls, sent with every ``handles``."""
        return {}

    def film_apply(self, name: str, value: Any) -> None:
        """Before ``update()``: put the figure drag ``name`` at ``value``, as a drag there would."""
        raise KeyError(name)

    def drag_release(self, name: str, value: Any) -> None:
        """The page released a filmed drag on the figure at ``value``: do what the drag's last move does."""
        raise KeyError(name)

    def film_save(self) -> Any:
        """The widget's state outside its controls, which ``update()`` may change (``film_restore`` puts it back)."""
        return None

    def film_restore(self, state: Any) -> None:
        """Put back a state from ``film_save``."""

    def _add_film_layer(self, layout: w.Widget) -> None:
        if os.environ.get("LESSONLIB_FILMS", "1") == "0" or not self._animated or not livelayer.available():
            return
        if not hasattr(self.fig.canvas, "blit") or not isinstance(layout, w.Box) or not film.filmable(self):
            return  # not an ipympl figure in a box, or nothing to film: every frame comes from the kernel
        for name in film.filmable(self):
            if name in self.controls:
                self.controls[name].add_class(f"lesson-film-{name}")
        self._layer = livelayer.LiveLayer(
            self._on_layer_message,
            {n: self.controls[n] for n in film.filmable(self) if n in self.controls},
            hover=bool(self.figure_drags()),
        )
        layout.children = (*layout.children, self._layer)

    def _on_layer_message(self, content: Any) -> None:
        """The page asks for films: "want" (once in view, after a change; "name": that slider first), "more" (the next
        message); or a filmed drag on the figure was let go ("release")."""
        with self._lock:
            self._layer_message(content)

    def _layer_message(self, content: Any) -> None:
        kind = content.get("kind") if isinstance(content, dict) else None
        ready = self._layer is not None and self.view_ready() and self._background is not None
        if kind == "live" and ready:
            drag = content.get("name")
            value, seq, have = _pair(content.get("value")), content.get("seq"), content.get("have")
            if (
                drag not in self._live_names()
                or value is None
                or not isinstance(seq, int)
                or not isinstance(have, list)
            ):
                return  # the page's messages are not trusted to be well formed
            picture = content.get("text") is not True  # the page draws the picture itself: the texts alone
            self._layer.send(*self._films.live(drag, value, seq, {h for h in have if isinstance(h, int)}, picture))
        elif kind in ("want", "more") and ready:
            if kind == "want" and not content.get("name") and not content.get("at"):
                self._send_handles(
                    force=True
                )  # a new view of the widget holds none (a widget without live drags sends none)
            if kind == "want" and content.get("name"):
                self._films.first(content["name"])
            if kind == "want" and content.get("at"):  # the pointer rests on the figure: the drag there is filmed first
                at = _pair(content["at"])
                near = (
                    [(np.hypot(d["x"] - at[0], d["y"] - at[1]), d["name"]) for d in self.figure_drags()] if at else []
                )
                near = [(dist, name) for dist, name in near if dist <= 40]
                if not near:
                    return
                self._films.first(min(near)[1])
            if kind == "want" and time.perf_counter() - self._films.sent_at < 5.0:
                return  # a message of films is on its way: the page's answer to it ('more') asks for the next
            message = self._films.want()
            self._films.sent_at = time.perf_counter() if message is not None else -float("inf")
            if message is not None:
                self._layer.send(*message)
        elif kind == "release" and content.get("name") in self._live_names():
            value = _pair(content.get("value"))
            if value is not None:
                self.drag_release(content["name"], value)
        elif kind == "release" and content.get("name") in self._films.made and content.get("name") not in self.controls:
            try:
                value = float(content.get("value"))
                good = None if content.get("good") is None else float(content["good"])
            except (TypeError, ValueError):
                return  # the page's messages are not trusted to be well formed
            if not np.isfinite(value) or (good is not None and not np.isfinite(good)):
                return
            if (
                good is not None and good != value
            ):  # released where the drag is refused: it stays at its last good place
                self.drag_release(content["name"], good)
                self._pending = False  # drawn now, once: the paced frame it asked for is no longer owed
                self.refresh()
                self._explain_refusal(content["name"], value)
                return
            self.drag_release(content["name"], value)

    def _explain_refusal(self, name: str, value: Any) -> None:
        """Say why a figure drag let go at ``value`` was refused, as the drag's last move would, without drawing again
        (the picture stays at the last good place the page showed)."""
        problem = film.refusal(self, name, value)
        if problem is None:  # not refused after all: let it go there
            self.drag_release(name, value)
            return
        self.problem = problem
        self.say(html.escape(problem), "warn")

    def _live_names(self) -> set[str]:
        return {d["name"] for d in self.live_drags()}

    def _send_handles(self, force: bool = False) -> None:
        """Tell the page where the live drags' handles are now (after a change moved them, or to a new view)."""
        if self._layer is None or self._filming or not self.view_ready():
            return
        drags = self.live_drags()
        if (force and drags) or drags != self._handles_sent:
            self._handles_sent = drags
            content: dict[str, Any] = {"kind": "handles", "drags": drags}
            buffers: list[bytes] = []
            page = self._page_model(force, buffers) if drags else None
            if page is not None:
                content["page"] = page
            self._layer.send(content, buffers)

    def _page_model(self, force: bool, buffers: list[bytes]) -> dict[str, Any] | None:
        """The page's model of the live drags (``page_drawing``), made again when the stage or the background changed;
        its background and images go along when they are new or the page is new (``force``)."""
        key = (self.stage(), self._backgrounds_drawn)
        fresh = self._page is None or self._page[0] != key
        if fresh:
            got = self.page_drawing()
            if got is None:
                self._page = (key, None, [], -1)
            else:
                model, artists, images = got
                self._page_id += 1
                self._page = (key, model, [encode_png(film.background_without(self, artists)), *images], self._page_id)
        _, model, pngs, pid = self._page
        if model is None:
            return None
        page = {**model, **self.page_state(), "id": pid}
        if fresh or force:  # the background is buffer 0, the model's images follow
            page["buffers"] = [len(buffers) + k for k in range(len(pngs))]
            buffers.extend(pngs)
        return page

    def _drop_films(self) -> None:
        """After a refresh: films of sliders other than the one that alone changed no longer hold."""
        changed, self._changed = self._changed, set()
        if self._filming or self._layer is None:
            return
        keep = next(iter(changed)) if len(changed) == 1 else None
        self._send_drop(self._films.invalidate(keep), keep)

    def _send_drop(self, dropped: list[str], keep: str | None) -> None:
        if dropped:
            self._layer.send(
                {"kind": "drop", "gen": self._films.gen, "keep": keep if keep in self._films.made else None}, []
            )

    def background_rgba(self) -> np.ndarray:
        """The cached background (the figure without its moving artists), as RGBA rows from the top."""
        return np.asarray(self._background)

    def render_background(self) -> np.ndarray:
        """The figure without its moving artists, drawn now by Agg off screen (a film frame's axis limits)."""
        from matplotlib.backends.backend_agg import RendererAgg

        width, height = self.fig.bbox.size
        renderer = RendererAgg(width, height, self.fig.dpi)
        self.fig.draw(renderer)  # leaves out animated artists; its draw_event is ignored while filming
        return np.asarray(renderer.buffer_rgba()).copy()

    def view_ready(self) -> bool:
        """True when the figure is an ipympl canvas whose browser view has asked for images.

        Before that (a notebook run by nbconvert, a canvas not yet displayed) redraws are only
        requested (draw_idle), never pushed: an image sent before the view exists is lost.
        """
        canvas = getattr(self.fig, "canvas", None)
        return canvas is not None and getattr(canvas, "syncing_data_url", True) is False and hasattr(canvas, "blit")

    def redraw(self) -> None:
        """Put the current artists on screen, by the cheapest path that gives the same pixels."""
        if self.fig is None:
            return
        canvas = self.fig.canvas
        if not self.view_ready():
            canvas.draw_idle()
            self.last_redraw = "idle"
        elif self._animated and self._background is not None and self.stage() == self._stage_key:
            canvas.restore_region(self._background)
            self._draw_animated()
            canvas.blit(self.fig.bbox)
            # The screen now shows the current state. Without this, IPython's post-execute hook
            # (which also runs after every widget message) would see the figure stale (an axis
            # limit set to its old value suffices) and ask the browser for a full draw: one
            # wasted full redraw after every change.
            self.fig.stale = False
            self.last_redraw = "blit"
        else:
            canvas.draw()  # also captures a new background (draw_event)
            self.last_redraw = "full"

    def _on_change(self, change: dict, name: str | None = None) -> None:
        old, new = change.get("old"), change.get("new")
        if (
            isinstance(old, float)
            and isinstance(new, float)
            and math.isclose(old, new, rel_tol=1e-12, abs_tol=1e-12)
            and from_browser()
        ):
            # a slider's view answers a value the kernel set (0.3, a tip let go there) with its own sum for that
            # position (-2 + 46 x 0.05 = 0.2999999999999998): the same setting, drawn already; drawing it again
            # sent a second picture after every release of a drag on the figure
            return
        if name is not None:
            self._changed.add(name)
            if self._layer is not None:
                with self._lock:  # at once, not on the paced refresh: a drag begun now must not play a stale film
                    if name in self._films.made and hasattr(self.fig.canvas, "_force_full"):
                        # the page may have played this slider's film: its next picture goes whole, not as the pixels
                        # that changed (in 07, a picture sent as a change once showed alone on a blank canvas)
                        self.fig.canvas._force_full = True
                    self._send_drop(self._films.invalidate(name), name)
        if not self._muted:
            self.request_refresh()

    def request_refresh(self) -> None:
        """refresh(), paced when the change came from the browser.

        A drag sends a burst of changes, faster than frames can be drawn, sent and painted. Then a
        change only marks the widget stale, and one frame, with the latest state, is drawn when both
        (a) FRAME_INTERVAL_S has passed since the previous frame and (b) the browser has taken the
        previous frame: after each frame the kernel sends ipympl's 'draw' request, which the page
        answers once it has handled that frame (``_on_browser_draw``). So at most one frame is on its
        way, none queues behind the hand, and the last position of a drag is always drawn. Code (a
        cell, a test) refreshes at once, so what it reads next (``numbers()``) is current.
        """
        loop = _running_loop()
        if loop is None or not from_browser():
            self.refresh()
            return
        with self._lock:
            self._pending = True
            self._schedule_frame(loop)

    def _schedule_frame(self, loop: Any) -> None:
        if self._in_flight and time.perf_counter() - self._asked_at > ANSWER_TIMEOUT_S:
            self._in_flight = False  # the answer (or its timer, on a loop that has ended) is lost
        if self._frame_timer is None and not self._in_flight:
            wait = self._last_frame + FRAME_INTERVAL_S - time.perf_counter()
            self._frame_timer = loop.call_later(max(0.0, wait), self._draw_pending)

    def _draw_pending(self) -> None:
        self._frame_timer = None
        if not self._pending:
            return
        self._pending = False
        self._last_frame = time.perf_counter()
        self.refresh()
        if self.last_redraw in ("blit", "full"):  # a frame went to the page (not a draw_idle before its view exists)
            self._await_answer()

    def _await_answer(self) -> None:
        """Ask the page to answer when it has handled the frame just sent (ipympl's draw request)."""
        loop = _running_loop()
        if loop is None or not hasattr(self.fig.canvas, "send_event"):
            return
        self._in_flight, self._asked_at = True, time.perf_counter()
        self.fig.canvas.send_event("draw")
        if self._answer_timer is not None:
            self._answer_timer.cancel()
        self._answer_timer = loop.call_later(
            ANSWER_TIMEOUT_S, self._on_answer
        )  # a lost answer must not freeze the widget

    def _on_answer(self) -> None:
        """The page took the last frame (or stopped answering): draw the latest state if a change waits."""
        self._in_flight = False
        if self._answer_timer is not None:
            self._answer_timer.cancel()
            self._answer_timer = None
        loop = _running_loop()
        if self._pending and loop is not None:
            self._schedule_frame(loop)

    def _listen_for_answers(self) -> None:
        """Route the page's 'draw' requests for an ipympl canvas through ``_on_browser_draw``."""
        canvas = self.fig.canvas
        if hasattr(canvas, "handle_draw") and hasattr(canvas, "send_event"):
            full_draw = canvas.handle_draw
            canvas.handle_draw = lambda event: self._on_browser_draw(event, full_draw)

    def _on_browser_draw(self, event: Any, full_draw: Callable[[Any], Any]) -> Any:
        """The page asks for a draw: the answer to our request after a frame, or its own need (a new view)."""
        if self._in_flight:
            return self._on_answer()
        return full_draw(event)

    def set(self, **values: Any) -> None:
        """Set several controls at once, then update once (paced like a control's change, see request_refresh)."""
        with self._lock:
            self._muted = True
            try:
                for k, v in values.items():
                    self.controls[k].value = v
            finally:
                self._muted = False
            self.request_refresh()

    def reset(self) -> None:
        """Put every control back where it started."""
        self.set(**self._defaults)

    def sweep_changes(self, n: int = 9):
        """(name, control, value) for every value of every control's range that differs from the
        control's current value, each control starting from the defaults; controls that cannot be
        swept are left out. The caller sets ``control.value = value`` (tests and benchmarks time
        or check that step).
        """
        for name, control in self.controls.items():
            try:
                values = sweep_values(control, n)
            except TypeError:
                continue
            self.reset()
            for v in values:
                if control.value != v:
                    yield name, control, v

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
        """The root widget's view, plus a still of the figure for renderers without a kernel
        (GitHub, nbviewer, VS Code, nbconvert, JupyterLab before the notebook runs)."""
        if self.root is None:
            raise RuntimeError("widget not built: call _finish(layout) in __init__")
        data = self.root._repr_mimebundle_(**kwargs)
        if self.fig is not None:
            alt = f"{self.title or type(self).__name__}: a still of the live widget; run the notebook to move it"
            data.update(still_bundle(figure_png(self.fig), alt))
        return data
