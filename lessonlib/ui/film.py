"""Films: a slider's drag played in the page from frames the kernel drew beforehand.

A drag that goes through the kernel costs, for every frame: the slider's message to the kernel, the
update, a picture rendered, encoded, sent, decoded and painted. On a 2-core machine in JupyterLab that
round trip shows 2-11 frames a second, and the page takes the moves of a 1-second drag in 1.2-5 s.
Yet the positions a slider can take are known in advance (its range and step), and so is what the
figure shows at each, as long as no other control moves. So while a widget is in view and idle, the
kernel draws a *film* for each of its sliders: for every position, what the moving artists draw (a
display list, ``lessonlib.ui.livelayer``), the widget's readout and message line, and the figure's
background where an axis limit differs. The page keeps the films; while a hand drags a slider that
has one, it paints the frame of the slider's position on a canvas over the figure (no message to the
kernel until the release), at the page's frame rate. On release the slider's value goes to the kernel
as usual, and the kernel's own picture, which it draws then, replaces the canvas.

A film holds only while the other controls keep their values: a change of any other control (or a
drag on the figure) drops the films it invalidates, and the page asks for new ones once the widget is
idle again. Until a slider's film is complete in the page, the slider sends its changes while it is
dragged and the kernel draws them, as without films; once it is, the page turns the slider's
``continuous_update`` off in the page alone (the kernel's value stays, so nothing about it crosses the
wire), and back on when the film is dropped.

A drag in two dimensions (02's vector tips) has too many positions for a film. For those
(``LessonWidget.live_drags``) the page asks the kernel for each frame while the hand drags
(``Films.live``: one request on its way at a time, always for the latest position) and paints them
like film frames; the figure's background goes once and is reused while its pixels stay the same.
On release the last position's frame is the one the page shows until the kernel's own picture comes.
A widget that can tell the page how to draw such a drag (``LessonWidget.page_drawing``: 02's linear map) has the
page draw every frame; then the kernel is asked only for the texts of the latest position (``picture=False``).

Frames are computed with the widget's controls *pinned*: ``update()`` reads a stand-in for each
control (``_Pinned``) that has the frame's value, and writes to stand-ins for the readout and the
message line, so nothing reaches the page while a film is made; afterwards the axis limits and the
artists are put back as they were (tests/ui/test_film.py checks both for every widget and slider).
"""

from __future__ import annotations

import html
import time
import zlib
from typing import Any

import ipywidgets as w
import numpy as np

from lessonlib.ui import livelayer

MAX_BACKGROUNDS = 32  # a film whose axis limits change more often than this is left to the kernel
MAX_FRAMES = 121  # a slider with more positions gets a film of this many, evenly spaced
CHUNK_S = 0.06  # kernel time one message of a film may take: a change from the page waits at most this long


class _Pinned:
    """A control's stand-in while a film is made: ``value`` is the frame's; other attributes are the control's,
    and what ``update()`` writes (a value, a limit) stays on the stand-in."""

    def __init__(self, control: Any, value: Any) -> None:
        self.__dict__["_control"] = control
        self.__dict__["value"] = value

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_control"], name)

    def __setattr__(self, name: str, value: Any) -> None:
        self.__dict__[name] = value


class _Sink:
    """The readout's or message line's stand-in: keeps what ``update()`` writes."""

    def __init__(self, value: str) -> None:
        self.value = value


def positions(control: Any, cap: int = MAX_FRAMES) -> list[Any]:
    """Every value a slider can take (at most ``cap`` of them, evenly spaced, both ends included)."""
    n = int(round((control.max - control.min) / control.step)) + 1
    k = np.unique(np.round(np.linspace(0, n - 1, min(max(n, 1), cap))).astype(int))
    if isinstance(control, w.IntSlider):
        return [int(control.min + i * control.step) for i in k]
    return [float(np.clip(round(control.min + i * control.step, 10), control.min, control.max)) for i in k]


def filmable(widget: Any) -> list[str]:
    """What gets films, in the order they are made: the widget's sliders, but for those it names in ``no_film``,
    then its drags on the figure (``LessonWidget.figure_drags``). The page asks for the one under the pointer
    first (a slider, or a knot the pointer rests on); sliders come first otherwise, as a key press on a slider
    waits for the kernel while it makes films (01: 417 knot frames used to come before its sliders' first)."""
    sliders = [
        name
        for name, c in widget.controls.items()
        if isinstance(c, (w.FloatSlider, w.IntSlider)) and name not in widget.no_film
    ]
    return sliders + [d["name"] for d in widget.figure_drags()]


def values_of(widget: Any, name: str) -> list[Any]:
    """The positions of a film: a slider's, or those a drag on the figure names."""
    if name in widget.controls:
        return positions(widget.controls[name])
    return [d for d in widget.figure_drags() if d["name"] == name][0]["values"]


class Films:
    """The films of one widget: what is being made, at which generation (see the module docstring)."""

    def __init__(self, widget: Any) -> None:
        self.widget = widget
        self.gen = 0  # counts the changes that invalidated films; the page drops frames of an older one
        self.todo: dict[str, list[Any]] = {}  # slider -> values still to draw, for the film being made
        self.made: set[str] = set()  # sliders whose film is complete at this generation
        self.skipped: set[str] = set()  # sliders whose film needed too many backgrounds at this generation
        self.backgrounds: dict[tuple, int] = {}  # stage -> id of the background sent for it (ids are never reused)
        self._next_background = 0
        self.used: dict[str, set[int]] = {}  # slider -> backgrounds its film uses
        self.sent_at = -float("inf")  # when the last message of films went to the page, unanswered since
        self.live_backgrounds: dict[tuple, int] = {}  # (stage, checksum of its pixels) -> id, for live drags

    # -- what the page asks ------------------------------------------------------------------------
    def want(self) -> tuple[dict, list[bytes]] | None:
        """The next message of films for the page, or None when every film of this generation is made."""
        widget = self.widget
        if not self.todo:
            for name in filmable(widget):
                if name not in self.made and name not in self.skipped:
                    self.todo[name] = values_of(widget, name)
        if not self.todo:
            return None
        name = next(iter(self.todo))
        return self._chunk(name)

    def first(self, name: Any) -> None:
        """Make ``name``'s film next (the page's pointer is on that slider)."""
        if name in self.todo:
            self.todo = {name: self.todo[name], **self.todo}
        elif name in filmable(self.widget) and name not in self.made and name not in self.skipped:
            self.todo = {name: values_of(self.widget, name), **self.todo}

    def invalidate(self, keep: str | None = None) -> list[str]:
        """Other controls changed: drop every film but ``keep``'s. Returns the sliders whose films were dropped."""
        dropped = sorted((self.made | set(self.todo)) - {keep})
        if not dropped:
            return []  # nothing the page holds or awaits is stale
        self.gen += 1
        self.sent_at = -float("inf")  # a message of films on its way is stale: the page drops it and asks again
        self.todo = {}
        self.used = {keep: self.used.get(keep, set())} if keep in self.made else {}
        self.made = {keep} if keep in self.made else set()
        self.skipped = set()
        self.backgrounds = {}  # a background holds the static artists too, which other controls may change
        return dropped

    # -- making frames ----------------------------------------------------------------------------
    def _chunk(self, name: str) -> tuple[dict, list[bytes]]:
        widget = self.widget
        values = self.todo[name]
        drag = [
            d for d in widget.figure_drags() if d["name"] == name
        ]  # where the page picks it up, before any frame moves it
        frames: list[dict] = []
        buffers: list[bytes] = []
        backgrounds: list[dict] = []
        t0 = time.perf_counter()
        with pinned(widget) as pins:
            self.start_state = widget.film_save()
            stage0 = widget._stage_key
            if stage0 is not None and stage0 not in self.backgrounds:
                backgrounds.append(self._background_message(stage0, widget.background_rgba(), buffers))
            start_limits = [(ax.get_xlim(), ax.get_ylim()) for ax in widget.fig.axes]
            while values and (not frames or time.perf_counter() - t0 < CHUNK_S):
                v = values.pop(0)
                # every frame starts from the widget's state (axis limits included, which can follow their path):
                # a film's frame is what the kernel draws when the released value comes in one step
                for ax, (xl, yl) in zip(widget.fig.axes, start_limits):
                    ax.set_xlim(xl)
                    ax.set_ylim(yl)
                widget.film_restore(self.start_state)
                frames.append(self._frame(widget, pins, name, v, backgrounds, buffers))
                used = {f["bg"] for f in frames if "bg" in f} | self.used.get(name, set())
                self.used[name] = used
                if len(used) > MAX_BACKGROUNDS:
                    break
        abandon = len(self.used.get(name, ())) > MAX_BACKGROUNDS
        last = not values or abandon
        if last:
            del self.todo[name]
            (self.skipped if abandon else self.made).add(name)
        content = {
            "kind": "film",
            "name": name,
            "gen": self.gen,
            "frames": [] if abandon else frames,
            "backgrounds": [] if abandon else backgrounds,
            "last": last,
            "abandon": abandon,
        }
        if drag:
            content["drag"] = {k: v for k, v in drag[0].items() if k != "values"}
        return content, buffers

    def live(self, name: str, value: Any, seq: int, have: set[int], picture: bool = True) -> tuple[dict, list[bytes]]:
        """One frame of a live drag (``LessonWidget.live_drags``): ``name`` at ``value``, drawn now because the page asked
        for it while a hand drags. Its background is sent only when the page does not hold it (``have``: the ids it
        holds); backgrounds are known by their pixels, so one survives the changes that drop films. Without
        ``picture``, only the frame's readout and message line (the page draws the picture itself: ``page_drawing``)."""
        widget = self.widget
        buffers: list[bytes] = []
        backgrounds: list[dict] = []

        def background(stage: tuple) -> int:
            rgba = widget.background_rgba() if stage == widget._stage_key else widget.render_background()
            key = (stage, zlib.crc32(np.ascontiguousarray(rgba).data))
            if self.live_backgrounds.get(key) not in have:
                bid = self._next_background
                self._next_background += 1
                self.live_backgrounds = {k: v for k, v in self.live_backgrounds.items() if v in have}
                self.live_backgrounds[key] = bid
                buffers.append(_png(rgba))
                backgrounds.append({"id": bid, "b": len(buffers) - 1, "W": int(rgba.shape[1]), "H": int(rgba.shape[0])})
            return self.live_backgrounds[key]

        with pinned(widget) as pins:
            frame = self._frame(widget, pins, name, value, backgrounds, buffers, background, picture)
        return {"kind": "live", "name": name, "seq": seq, "frame": frame, "backgrounds": backgrounds}, buffers

    def _background_message(self, stage: tuple, rgba: np.ndarray, buffers: list[bytes]) -> dict:
        bid = self._next_background
        self._next_background += 1
        self.backgrounds[stage] = bid
        buffers.append(_png(rgba))
        return {"id": bid, "b": len(buffers) - 1, "W": int(rgba.shape[1]), "H": int(rgba.shape[0])}

    def _film_background(self, stage: tuple, backgrounds: list[dict], buffers: list[bytes]) -> int:
        """The id of a film frame's background: sent once per stage and generation."""
        if stage not in self.backgrounds:
            backgrounds.append(self._background_message(stage, self.widget.render_background(), buffers))
        return self.backgrounds[stage]

    def _frame(
        self,
        widget: Any,
        pins: dict,
        name: str,
        value: Any,
        backgrounds: list[dict],
        buffers: list[bytes],
        background: Any = None,
        picture: bool = True,
    ) -> dict:
        """One frame: ``name`` at ``value``, every other control at its pinned value. ``background(stage)`` gives the id
        of the frame's background, adding it to ``backgrounds`` when the page lacks it (default: a film's). Without
        ``picture``: the frame's texts alone."""
        if background is None:

            def background(stage: tuple) -> int:
                return self._film_background(stage, backgrounds, buffers)

        frame: dict[str, Any] = {"v": value}
        try:
            if name in pins:
                widget.controls = {**pins, name: _Pinned(pins[name]._control, value)}
            else:  # fresh stand-ins: film_apply may set the values of controls (02's tips set two sliders)
                widget.controls = {k: _Pinned(p._control, p.value) for k, p in pins.items()}
                widget.film_apply(name, value)
            widget.update()
        except ValueError as e:  # the page keeps the last good picture and shows the sentence, as the kernel does
            widget.say(html.escape(str(e)), "warn")
            frame["hold"] = True
        except Exception as e:  # noqa: BLE001 - a bug shows as the kernel shows it, and the kernel's own draw follows
            widget.say(html.escape(f"Something unexpected happened ({type(e).__name__}: {e}). Press Reset."), "warn")
            frame["hold"] = True
        frame["message"] = widget.message.value
        if frame.get("hold"):
            return frame  # the readout stays as the page shows it, like the picture
        frame["readout"] = widget.readout.value
        if not picture:
            return frame
        frame["bg"] = background(widget.stage())
        content, bufs = livelayer.record(widget.fig, widget.animated_artists()).message(0)
        frame["ops"], frame["W"], frame["H"] = content["ops"], content["W"], content["H"]
        frame["codes"], frame["verts"] = len(buffers), len(buffers) + 1
        frame["images"] = len(buffers) + 2
        buffers.extend(bufs)
        return frame


def drawn_at(widget: Any, values: dict[str, Any], artists: list[Any]) -> list[livelayer.DisplayListRenderer]:
    """What each of ``artists`` draws (a display list each) with the controls at ``values`` (the others as they are);
    the widget is left as it was. How a widget tells the page the styles of the artists it draws itself."""
    with pinned(widget) as pins:
        widget.controls = {k: _Pinned(p._control, values.get(k, p.value)) for k, p in pins.items()}
        widget.update()
        return [livelayer.record(widget.fig, [a]) for a in artists]


def background_without(widget: Any, artists: list[Any]) -> np.ndarray:
    """The figure as it is, but for ``artists``: the background of a drag the page draws itself (RGBA rows from the top)."""
    from matplotlib.backends.backend_agg import RendererAgg

    left_out = {id(a) for a in artists}
    with pinned(widget):
        width, height = widget.fig.bbox.size
        renderer = RendererAgg(width, height, widget.fig.dpi)
        widget.fig.draw(renderer)  # leaves out animated artists; its draw_event is ignored while filming
        for a in widget.animated_artists():
            if a.get_visible() and id(a) not in left_out:
                a.draw(renderer)
        return np.asarray(renderer.buffer_rgba()).copy()


def refusal(widget: Any, name: str, value: Any) -> str | None:
    """Why the widget refuses its figure drag ``name`` at ``value`` (the ValueError ``update()`` raises), or None;
    the widget is left as it was."""
    with pinned(widget) as pins:
        widget.controls = {k: _Pinned(p._control, p.value) for k, p in pins.items()}
        try:
            widget.film_apply(name, value)
            widget.update()
        except ValueError as e:
            return str(e)
    return None


def _png(rgba: np.ndarray) -> bytes:
    from lessonlib.ui.widgetkit import encode_png

    return encode_png(np.ascontiguousarray(rgba, dtype=np.uint8))


class pinned:
    """``with pinned(widget) as pins``: controls, readout and message line are stand-ins; on leaving,
    the widget's controls, texts, axis limits, background and artists are as they were."""

    def __init__(self, widget: Any) -> None:
        self.widget = widget

    def __enter__(self) -> dict[str, _Pinned]:
        wd = self.widget
        self.saved = (wd.controls, wd.readout, wd.message, wd.problem, wd._background, wd._stage_key, wd.fig.stale)
        self.limits = [
            (ax.get_xlim(), ax.get_ylim(), ax.get_autoscalex_on(), ax.get_autoscaley_on()) for ax in wd.fig.axes
        ]
        # moving the axes would mark the figure stale, and in interactive mode (``%matplotlib widget``) a stale figure
        # asks the page for a full draw and gets a new picture: nothing of a film may reach the page that way
        self.callback, wd.fig.stale_callback = wd.fig.stale_callback, None
        pins = {k: _Pinned(c, c.value) for k, c in wd.controls.items()}
        self.state = wd.film_save()
        wd.readout, wd.message = _Sink(wd.readout.value), _Sink(wd.message.value)
        wd._filming = True
        return pins

    def __exit__(self, *exc: Any) -> None:
        wd = self.widget
        wd.controls, wd.readout, wd.message = self.saved[0], _Sink(self.saved[1].value), _Sink(self.saved[2].value)
        for ax, (xl, yl, ax_on, ay_on) in zip(wd.fig.axes, self.limits):
            ax.set_xlim(xl)
            ax.set_ylim(yl)
            ax.set_autoscalex_on(ax_on)
            ax.set_autoscaley_on(ay_on)
        wd.film_restore(self.state)
        try:
            wd.update()  # the artists where the real controls put them (the texts go to stand-ins: unchanged)
        except Exception:  # noqa: BLE001 - the real setting may be a teaching moment: its picture stays as it was
            pass
        for ax, (xl, yl, ax_on, ay_on) in zip(wd.fig.axes, self.limits):  # update() may have moved them again
            ax.set_xlim(xl)
            ax.set_ylim(yl)
            ax.set_autoscalex_on(ax_on)
            ax.set_autoscaley_on(ay_on)
        wd.readout, wd.message = self.saved[1], self.saved[2]
        wd.problem, wd._background, wd._stage_key = self.saved[3], self.saved[4], self.saved[5]
        wd._filming = False
        wd.fig.stale = self.saved[6]
        wd.fig.stale_callback = self.callback
