"""What a widget's moving artists draw, as a display list the page can paint: the frames of a film.

``lessonlib.ui.film`` draws, for each position of a slider, what the artists a widget moves
(``LessonWidget.animate``) would draw, recorded by ``DisplayListRenderer`` (matplotlib's own drawing
code, so positions, clipping, dashes, markers and text are matplotlib's); ``livelayer.js`` (an
anywidget, carried to the page by ``LiveLayer``) paints a frame over the figure's background on a
canvas above the ipympl figure while a hand drags that slider.

The display list is in the figure's pixels, y up, as matplotlib draws:

* ``{"t": "p", "v": [first, count], ...style}``: a path, vertices ``first .. first+count`` of the
  float32 vertex buffer with their matplotlib path codes in the uint8 code buffer;
* ``{"t": "m", "v": [...], "o": [first, count], ...style}``: one marker path drawn at each offset;
* ``{"t": "i", "x", "y", "w", "h", "a", "b"}``: an RGBA image (PNG in buffer ``2 + b``, top row
  first) with its bottom-left corner at (x, y), already resampled to the figure's pixels by matplotlib,
  drawn with opacity ``a``;

style: ``s`` stroke RGBA (0-1) or None, ``f`` fill RGBA or None, ``lw`` line width in pixels, ``d``
dashes ``[offset, [on, off, ...]]`` in pixels, ``cap``, ``join``, and clipping by rectangle ``c``
(x, y, width, height) or path ``cp``.

Text is sent as a small image of what Agg draws for it, so it looks exactly as in a full draw (hinted
glyphs) and the page needs no fonts. Paths and markers are cleaned, snapped and placed as Agg does
it, so a frame over the background has the pixels of a full draw, up to antialiasing
(tests/ui/test_film.py paints every widget's film frames with a Python twin of the page's code and
compares). Not recorded: hatching, sketched (xkcd) lines and Gouraud shading; a widget that animates
them fails that test.
"""

from __future__ import annotations

import functools
import pathlib
from typing import Any

import numpy as np
from matplotlib.backend_bases import GraphicsContextBase, RendererBase
from matplotlib.transforms import Affine2D

__all__ = ["DisplayListRenderer", "record", "LiveLayer", "available"]


def _rgba(c: Any, alpha: float | None = None) -> list[float] | None:
    if c is None:
        return None
    c = [float(v) for v in c]
    a = c[3] if len(c) > 3 and alpha is None else (1.0 if alpha is None else float(alpha))
    return None if a <= 0 else [round(c[0], 4), round(c[1], 4), round(c[2], 4), round(a, 4)]


class DisplayListRenderer(RendererBase):
    """A matplotlib renderer that records what it is asked to draw (see the module docstring)."""

    def __init__(self, width: float, height: float, dpi: float) -> None:
        super().__init__()
        self.width, self.height, self.dpi = width, height, dpi
        self.ops: list[dict] = []
        self._codes: list[np.ndarray] = []
        self._verts: list[np.ndarray] = []
        self._n = 0
        self.images: list[bytes] = []
        self._agg: Any = None  # an Agg canvas for text, made on the first text

    # -- what matplotlib asks a renderer ----------------------------------------------------------
    def get_canvas_width_height(self) -> tuple[float, float]:
        return self.width, self.height

    def points_to_pixels(self, points: Any) -> Any:
        return points * self.dpi / 72.0

    def flipy(self) -> bool:
        return True  # as Agg: text positions come counted from the top (they only go to Agg's draw_text)

    def option_image_nocomposite(self) -> bool:
        return True

    def option_scale_image(self) -> bool:
        return False

    def new_gc(self) -> GraphicsContextBase:
        return GraphicsContextBase()

    # -- recording --------------------------------------------------------------------------------
    def _add(self, vertices: np.ndarray, codes: np.ndarray) -> list[int]:
        first = self._n
        self._verts.append(np.asarray(vertices, dtype=np.float32).reshape(-1, 2))
        self._codes.append(np.asarray(codes, dtype=np.uint8))
        self._n += len(codes)
        return [first, len(codes)]

    def _add_path(
        self, path: Any, transform: Any, simplify: bool = False, snap: bool | None = False, stroke_width: float = 0.0
    ) -> list[int] | None:
        # the same clean-up as Agg's draw_path: NaNs split the path, rectilinear paths snap to pixel centres,
        # in Agg's rows from the top (snapping rounds, so it must happen on the side Agg does it)
        rows = int(self.height)
        to_agg = Affine2D().scale(1, -1).translate(0, rows)
        p = path.cleaned(
            transform=transform + to_agg,
            remove_nans=True,
            simplify=simplify,
            curves=True,
            snap=snap,
            stroke_width=stroke_width,
        )
        if len(p.vertices) < 2:  # cleaned() ends every path with a STOP vertex
            return None
        vertices = np.column_stack([p.vertices[:, 0], rows - p.vertices[:, 1]])
        return self._add(vertices, p.codes)

    def _style(self, gc: GraphicsContextBase, rgb_face: Any) -> dict:
        op: dict[str, Any] = {}
        lw = self.points_to_pixels(gc.get_linewidth())
        stroke = _rgba(gc.get_rgb()) if lw > 0 else None
        if stroke is not None:
            offset, dashes = gc.get_dashes()
            op.update(s=stroke, lw=round(float(lw), 3), cap=gc.get_capstyle(), join=gc.get_joinstyle())
            if dashes is not None and len(dashes):
                op["d"] = [
                    float(self.points_to_pixels(offset or 0.0)),
                    [float(self.points_to_pixels(v)) for v in dashes],
                ]
        if rgb_face is not None:
            forced = gc.get_forced_alpha() or len(rgb_face) == 3
            fill = _rgba(rgb_face, gc.get_alpha() if forced else None)
            if fill is not None:
                op["f"] = fill
        rect = gc.get_clip_rectangle()
        if rect is not None:
            op["c"] = [round(float(v), 2) for v in rect.bounds]
        clip_path, clip_trans = gc.get_clip_path()
        if clip_path is not None:
            cp = self._add_path(clip_path, clip_trans)
            if cp is not None:
                op["cp"] = cp
        return op

    def draw_path(self, gc: GraphicsContextBase, path: Any, transform: Any, rgbFace: Any = None) -> None:
        op = self._style(gc, rgbFace)
        if "s" not in op and "f" not in op:
            return
        v = self._add_path(
            path,
            transform,
            simplify=path.should_simplify and rgbFace is None,
            snap=gc.get_snap(),
            stroke_width=op.get("lw", 0.0),
        )
        if v is not None:
            self.ops.append({"t": "p", "v": v, **op})

    def draw_markers(
        self, gc: GraphicsContextBase, marker_path: Any, marker_trans: Any, path: Any, trans: Any, rgbFace: Any = None
    ) -> None:
        op = self._style(gc, rgbFace)
        if "s" not in op and "f" not in op:
            return
        snapped = _snaps(marker_trans.transform_path(marker_path), gc.get_snap())
        marker = self._add_path(marker_path, marker_trans, snap=snapped, stroke_width=op.get("lw", 0.0))
        at = trans.transform(np.asarray(path.vertices, dtype=float).reshape(-1, 2))
        at = at[np.isfinite(at).all(axis=1)]
        # where Agg stamps markers (so the layer matches a full draw): at the pixel corner each rounds to,
        # counted in Agg's rows from the top; a marker that is not snapped to the pixel grid (a circle) is
        # moved to that pixel's centre
        rows = int(self.height)  # Agg's canvas has the whole pixels of the figure's height
        centre = 0.0 if snapped else 0.5
        at = np.column_stack([np.floor(at[:, 0] + 0.5) + centre, rows - np.floor(rows - at[:, 1] + 0.5) - centre])
        if marker is None or not len(at):
            return
        offsets = self._add(at, np.zeros(len(at), dtype=np.uint8))  # offsets are not drawn as a path
        self.ops.append({"t": "m", "v": marker, "o": offsets, **op})

    def _text_renderer(self) -> Any:
        if self._agg is None:
            from matplotlib.backends.backend_agg import RendererAgg

            self._agg = RendererAgg(self.width, self.height, self.dpi)
        return self._agg

    def get_text_width_height_descent(self, s: str, prop: Any, ismath: bool | str) -> tuple[float, float, float]:
        return self._text_renderer().get_text_width_height_descent(
            s, prop, ismath
        )  # Agg's (hinted) metrics lay text out

    def draw_text(
        self,
        gc: GraphicsContextBase,
        x: float,
        y: float,
        s: str,
        prop: Any,
        angle: float,
        ismath: bool | str = False,
        mtext: Any = None,
    ) -> None:
        """Text as Agg renders it in a full draw (hinted glyphs), cut out as a small image."""
        agg = self._text_renderer()
        agg.clear()
        gc_agg = agg.new_gc()
        gc_agg.copy_properties(gc)
        gc_agg.set_clip_rectangle(None)
        gc_agg.set_clip_path(None)
        agg.draw_text(gc_agg, x, y, s, prop, angle, ismath, mtext)
        gc_agg.restore()
        pixels = np.asarray(agg.buffer_rgba())
        ink = pixels[..., 3] != 0
        rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))  # faster than np.nonzero
        if not len(rows):
            return
        top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        image = pixels[top:bottom, left:right]  # Agg keeps straight (not premultiplied) alpha, as a PNG does
        self._image(gc, float(left), float(pixels.shape[0] - bottom), image, alpha=1.0)

    def draw_image(self, gc: GraphicsContextBase, x: float, y: float, im: np.ndarray, transform: Any = None) -> None:
        self._image(gc, x, y, im[::-1], alpha=gc.get_alpha())  # matplotlib hands renderers the bottom row first

    def _image(self, gc: GraphicsContextBase, x: float, y: float, im: np.ndarray, alpha: float | None) -> None:
        from lessonlib.ui.widgetkit import encode_png

        h, w = im.shape[:2]
        if not h or not w:
            return
        op: dict[str, Any] = {"t": "i", "x": float(x), "y": float(y), "w": int(w), "h": int(h), "b": len(self.images)}
        op["a"] = 1.0 if alpha is None else float(alpha)
        rect = gc.get_clip_rectangle()
        if rect is not None:
            op["c"] = [round(float(v), 2) for v in rect.bounds]
        self.images.append(encode_png(np.ascontiguousarray(im, dtype=np.uint8)))
        self.ops.append(op)

    def message(self, seq: int) -> tuple[dict, list[bytes]]:
        """The frame as a custom widget message: content and binary buffers (codes, vertices, images)."""
        codes = np.concatenate(self._codes) if self._codes else np.zeros(0, np.uint8)
        verts = np.concatenate(self._verts) if self._verts else np.zeros((0, 2), np.float32)
        content = {
            "kind": "frame",
            "seq": seq,
            "W": int(self.width),
            "H": int(self.height),
            "ops": self.ops,
        }  # Agg's canvas size
        return content, [codes.tobytes(), verts.astype(np.float32).tobytes(), *self.images]


def _snaps(path: Any, mode: bool | None) -> bool:
    """Whether Agg snaps ``path`` (in pixels) to the pixel grid: matplotlib's PathSnapper.should_snap."""
    if mode is not None:
        return bool(mode)
    vertices, codes = np.asarray(path.vertices, dtype=float), path.codes
    if len(vertices) > 1024 or not len(vertices):
        return False
    if codes is not None and np.isin(codes, (path.CURVE3, path.CURVE4)).any():
        return False
    step = np.abs(np.diff(vertices, axis=0))
    lines = np.ones(len(step), bool) if codes is None else codes[1:] == path.LINETO
    return not ((step[:, 0] >= 1e-4) & (step[:, 1] >= 1e-4) & lines).any()


def record(fig: Any, artists: list[Any]) -> DisplayListRenderer:
    """What ``artists`` (visible ones, in the order given) draw on ``fig``, as a display list."""
    width, height = fig.bbox.size
    renderer = DisplayListRenderer(width, height, fig.dpi)
    for a in artists:
        if a.get_visible():
            a.draw(renderer)
    return renderer


def available() -> bool:
    """True when anywidget (which carries the layer's script to the page) is installed."""
    try:
        import anywidget  # noqa: F401
    except ImportError:
        return False
    return True


@functools.cache
def _layer_class() -> type:
    import anywidget
    import traitlets

    class LiveLayerWidget(anywidget.AnyWidget):
        _esm = pathlib.Path(__file__).with_name("livelayer.js")
        sliders = traitlets.Dict().tag(sync=True)  # slider name -> its widget's model id (the page turns its sync off)
        hover = traitlets.Bool(False).tag(
            sync=True
        )  # the page says where the pointer hovers the figure (its drags' films first)

    return LiveLayerWidget


def LiveLayer(on_message: Any, sliders: dict[str, Any] | None = None, hover: bool = False) -> Any:
    """The widget that carries films to the page: a zero-size view that puts its canvas over the figure
    of the lesson widget it sits in. ``on_message(content)`` hears the page's requests for films; ``sliders``
    (name -> slider widget) are those whose drags the page plays from films; with ``hover``, the page says where
    the pointer rests on the figure, so the film of the drag there is made first."""
    import ipywidgets as w

    layer = _layer_class()(
        layout=w.Layout(width="0px", height="0px", overflow="hidden", margin="0px"),
        sliders={name: s.model_id for name, s in (sliders or {}).items()},
        hover=hover,
    )
    layer.on_msg(lambda _widget, content, _buffers: on_message(content))
    return layer
