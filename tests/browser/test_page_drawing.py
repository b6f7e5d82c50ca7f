"""The page's own drawing of a live drag (``LessonWidget.page_drawing``; ``livelayer.js``: ``PAGE_DRAWINGS``), run in
Chromium, against the kernel's full draw of the widget released at the same place.

While a hand drags 02's vector tips the page draws the right panel itself, from a model the kernel sends (styles and
label images recorded from the artists, the colour map's table, the background without those artists). These tests
run that code in a headless Chromium page (no JupyterLab: the module alone), paint frames over the model's
background with the page's own ``replay``, and compare each with what the kernel draws when the tip is let go there.
"""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("module://ipympl.backend_nbagg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.widget_latency import construct, discover  # noqa: E402
from lessonlib.ui import livelayer  # noqa: E402
from lessonlib.ui.widgetkit import LessonWidget  # noqa: E402

SOURCE = livelayer.__file__.rsplit("/", 1)[0] + "/livelayer.js"
DRAWN = [c for _, c in discover() if c.page_drawing is not LessonWidget.page_drawing]

# Chromium antialiases edges unlike Agg: what may differ (_differs). Measured 2026-12-01 over the positions of the first
# test, in both styles: at most 0.056% of blocks and a patch of 1 pixel; where A nearly collapses (|det A| < 0.1) the grid's
# lines crowd less than a pixel apart, and Agg fills the crowded rows solid where the page's hairlines let the dark
# density show between them: 0.12-0.34% of blocks, no patch. Leaving out one part of the drawing (the smallest: a
# tip's label) or drawing the tip one step away gave at least 12 patch pixels or 0.75% of blocks (the second test).
ALLOWED_SHARE, CROWDED_SHARE, ALLOWED_PATCH = 0.001, 0.005, 5


def _close(differs: tuple[float, int], crowded: bool = False) -> bool:
    return differs[0] <= (CROWDED_SHARE if crowded else ALLOWED_SHARE) and differs[1] <= ALLOWED_PATCH


class _Layer:
    def __init__(self):
        self.sent = []

    def send(self, content, buffers):
        self.sent.append((content, [bytes(b) for b in buffers]))


def _in_view(widget) -> _Layer:
    layer = _Layer()
    widget._layer = layer
    widget.fig.canvas.syncing_data_url = False
    widget.fig.canvas.draw()
    return layer


def _full_draw(widget) -> np.ndarray:
    widget.fig.canvas.draw()
    return np.asarray(widget.fig.canvas.get_renderer().buffer_rgba())[..., :3].astype(float)


def _differs(shown: np.ndarray, full: np.ndarray) -> tuple[float, int]:
    """(share of 4 x 4 pixel blocks whose mean colour differs by more than 24 levels, pixels whose whole 3 x 3
    neighbourhood differs by more than 48 levels). Edges antialiased differently move single pixels or thin seams;
    a missing or misplaced artist moves the colour of blocks (large ones) or a solid patch of pixels (small ones)."""
    h, w = (shown.shape[0] // 4) * 4, (shown.shape[1] // 4) * 4

    def blocks(a):
        return a[:h, :w].reshape(h // 4, 4, w // 4, 4, 3).mean(axis=(1, 3))

    share = float((np.abs(blocks(shown) - blocks(full)).max(axis=-1) > 24).mean())
    bad = np.abs(shown - full).max(axis=-1) > 48
    core = bad[1:-1, 1:-1].copy()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            core &= bad[1 + dy : bad.shape[0] - 1 + dy, 1 + dx : bad.shape[1] - 1 + dx]
    return share, int(core.sum())


@pytest.fixture(params=[False, True], ids=["normal", "presenter"])
def style(request):
    """The course's figure style, as a notebook sets it (presenter mode: larger fonts and figures)."""
    from lessonlib.ui.style import use_style

    use_style(request.param)
    yield request.param
    use_style(False)


@pytest.fixture
def drawing(page, style):
    """The page with livelayer.js loaded; ``load(widget)`` gives it the widget's model, ``frame(name, value)`` the page's
    picture (RGB) of the drag ``name`` at ``value``."""
    src = base64.b64encode(open(SOURCE, "rb").read()).decode()
    page.goto("about:blank")
    page.evaluate("async (src) => { window.L = await import('data:text/javascript;base64,' + src); }", src)

    class Drawing:
        def load(self, widget):
            layer = _in_view(widget)
            widget._on_layer_message({"kind": "want"})
            content, buffers = [m for m in layer.sent if m[0]["kind"] == "handles"][-1]
            model = content["page"]
            pngs = [base64.b64encode(buffers[b]).decode() for b in model["buffers"]]
            page.evaluate(
                """async ([m, pngs]) => {
                const decode = (b64) => createImageBitmap(new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], {type: 'image/png'}));
                const [bg, ...images] = await Promise.all(pngs.map(decode));
                Object.assign(window, {M: m, BG: bg, IM: images}); }""",
                [model, pngs],
            )
            return model

        def frame(self, name, value, without=None):
            url = page.evaluate(
                """([name, value, without]) => {
                const m = without ? {...M, order: M.order.filter((p) => p !== without)} : M;
                const {frame, bitmaps} = L.PAGE_DRAWINGS[m.kind](m, IM, name, value);
                const c = document.createElement('canvas');
                L.replay(c, frame, BG, bitmaps);
                return c.toDataURL('image/png'); }""",
                [name, list(value), without],
            )
            return np.asarray(
                Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"), dtype=float
            )

    return Drawing()


def test_some_widget_draws_its_live_drags_in_the_page():
    assert "LinearMap2D" in {c.__name__ for c in DRAWN}


@pytest.mark.parametrize("cls", DRAWN, ids=[c.__name__ for c in DRAWN])
def test_the_page_draws_what_the_kernel_draws_when_the_drag_is_let_go_there(cls, drawing):
    widget = construct(cls)
    drawing.load(widget)
    for spec in widget.live_drags():
        lo, hi = spec["lo"], spec["hi"]
        here = (spec["a"][0] + spec["b"][0] * spec["x"], spec["a"][1] + spec["b"][1] * spec["y"])
        # at the handle, a collapse, nearly one (a dark band), a flip, the corners, across the plane
        for value in [
            here,
            (0.0, 0.0),
            (1.0, 0.0),
            (1.0, 0.05),
            (1.0, -0.05),
            (1.0, 0.1),
            (0.45, 0.95),
            (lo, hi),
            (hi * 0.4, lo * 0.3),
            (hi, hi),
            (lo, lo),
            (-0.35, 1.7),
        ]:
            value = tuple(round(round(v / spec["step"]) * spec["step"], 2) for v in value)
            kernel = construct(cls)
            _in_view(kernel)
            kernel.drag_release(spec["name"], value)
            crowded = abs(np.linalg.det(kernel.matrix())) < 0.1
            differs = _differs(drawing.frame(spec["name"], value), _full_draw(kernel))
            plt.close(kernel.fig)
            assert _close(differs, crowded), (
                f"{spec['name']} at {value}: the page's picture differs from the kernel's in "
                f"{differs[0]:.3%} of blocks and a patch of {differs[1]} pixels"
            )


@pytest.mark.parametrize("cls", DRAWN, ids=[c.__name__ for c in DRAWN])
def test_a_page_drawing_with_a_part_missing_or_a_step_off_is_seen(cls, drawing):
    """The comparison above can fail: leaving out any one part of the drawing, or drawing the tip one step away."""
    widget = construct(cls)
    model = drawing.load(widget)
    for name, value in [("a1", (1.0, 0.05)), ("a2", (-0.35, 1.7)), ("a2", (1.0, 0.0))]:  # the last: a collapse
        kernel = construct(cls)
        _in_view(kernel)
        kernel.drag_release(name, value)
        full = _full_draw(kernel)
        plt.close(kernel.fig)
        collapsed = value == (1.0, 0.0)
        for part in model["order"]:
            if (part == "collapse") != collapsed and part not in ("arrows", "tips", "labels"):
                continue  # a collapse draws no square and no density; the collapsed segment is drawn only then
            assert not _close(_differs(drawing.frame(name, value, without=part), full), collapsed), (
                f"{name} at {value}: leaving out {part} went unseen"
            )
        for off in ((0.05, 0.0), (0.0, 0.05)):
            moved = (value[0] + off[0], value[1] + off[1])
            assert not _close(_differs(drawing.frame(name, moved), full), collapsed), (
                f"{name}: a frame at {moved} passed for one at {value}"
            )
