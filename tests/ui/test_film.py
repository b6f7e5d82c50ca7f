"""Films (lessonlib/ui/film.py): what the page plays during a slider's drag is what the kernel would draw.

For every lesson widget and every slider with a film, each frame painted over its background (by
``paint``, a Python twin of ``lessonlib/ui/livelayer.js``'s ``replay``) gives the pixels of a full
draw of the widget with the slider really at that position, and the frame's readout and message line
are the widget's. Making a film sends nothing to the page and leaves the widget as it was.
The browser's own painting is checked by the walk-through (tests/browser), which drags each widget.
"""

import io
import json

import matplotlib

matplotlib.use("module://ipympl.backend_nbagg")

import ipywidgets as w  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import RendererAgg  # noqa: E402
from matplotlib.path import Path  # noqa: E402
from matplotlib.transforms import Affine2D, Bbox, IdentityTransform, TransformedPath  # noqa: E402
from PIL import Image  # noqa: E402

from benchmarks.widget_latency import construct, discover  # noqa: E402
from lessonlib.ui import film, livelayer  # noqa: E402
from lessonlib.ui.widgetkit import LessonWidget, new_figure, slider  # noqa: E402

WIDGETS = discover()


@pytest.fixture(autouse=True)
def _close_figures():
    """Each test builds widgets of its own (two per film check): their figures go when it ends."""
    yield
    plt.close("all")


class FakeLayer:
    """Stands for the layer's widget in the page: keeps what the kernel sends."""

    def __init__(self):
        self.sent = []

    def send(self, content, buffers):
        json.dumps(content)  # what goes over the wire must be plain JSON
        self.sent.append((content, [bytes(b) for b in buffers]))


def in_view(widget) -> FakeLayer:
    """As in the page: the figure's view opens (ipympl draws in full), the layer asks for films."""
    widget._layer_widget_sliders = dict(widget._layer.sliders) if widget._layer is not None else {}
    layer = FakeLayer()
    widget._layer = layer
    widget.fig.canvas.syncing_data_url = False
    widget.fig.canvas.draw()
    return layer


def all_films(widget, layer, first: str | None = None) -> dict[str, list[tuple[dict, list[bytes], dict]]]:
    """Ask for films until none is left: slider -> [(frame, buffers of its message, background PNGs by id)].

    With ``first``, ask for that film first, as the page does when the pointer rests on it, and stop once it is made."""
    widget._on_layer_message({"kind": "want", "name": first} if first else {"kind": "want"})
    for _ in range(5000):
        if first in widget._films.made:
            break
        n = len(layer.sent)
        widget._on_layer_message({"kind": "more"})
        if len(layer.sent) == n:
            break
    films: dict[str, list] = {}
    backgrounds: dict[int, bytes] = {}
    for content, buffers in layer.sent:
        if content["kind"] != "film":
            continue
        if content.get("abandon"):  # as the page does: frames of an abandoned film that came before are dropped
            films.pop(content["name"], None)
            continue
        for b in content["backgrounds"]:
            backgrounds[b["id"]] = buffers[b["b"]]
        films.setdefault(content["name"], []).extend((f, buffers, backgrounds) for f in content["frames"])
    return films


def png(data: bytes) -> np.ndarray:
    return np.array(Image.open(io.BytesIO(data)).convert("RGBA"))


def paint(frame, buffers, background: np.ndarray, dpi: float) -> np.ndarray:
    """A frame painted over its background, as livelayer.js does in the page, on an Agg canvas."""
    renderer = RendererAgg(frame["W"], frame["H"], dpi)
    np.asarray(renderer.buffer_rgba())[:] = background
    codes = np.frombuffer(buffers[frame["codes"]], dtype=np.uint8)
    verts = np.frombuffer(buffers[frame["verts"]], dtype=np.float32).reshape(-1, 2).astype(float)
    px_to_pt = 72.0 / dpi

    def path(first_count):
        a, n = first_count
        return Path(verts[a : a + n], codes[a : a + n])

    for op in frame["ops"]:
        gc = renderer.new_gc()
        gc.set_snap(False)  # the page draws the vertices where they are: the recorder snapped them already
        if "c" in op:
            gc.set_clip_rectangle(Bbox.from_bounds(*op["c"]))
        if "cp" in op:
            gc.set_clip_path(TransformedPath(path(op["cp"]), IdentityTransform()))
        if op["t"] == "i":
            im = png(buffers[frame["images"] + op["b"]])
            gc.set_alpha(op["a"])
            renderer.draw_image(gc, op["x"], op["y"], im[::-1])  # Agg takes the bottom row first
            continue
        if op.get("s"):
            gc.set_foreground(op["s"], isRGBA=True)
            gc.set_linewidth(op["lw"] * px_to_pt)
            gc.set_capstyle(op["cap"])
            gc.set_joinstyle(op["join"])
            if "d" in op:
                gc.set_dashes(op["d"][0] * px_to_pt, [v * px_to_pt for v in op["d"][1]])
        else:
            gc.set_linewidth(0)
        face = tuple(op["f"]) if op.get("f") else None
        if op["t"] == "p":
            renderer.draw_path(gc, path(op["v"]), IdentityTransform(), face)
        else:  # markers
            a, n = op["o"]
            for x, y in verts[a : a + n]:
                renderer.draw_path(gc, path(op["v"]), Affine2D().translate(x, y), face)
        gc.restore()
    return np.asarray(renderer.buffer_rgba()).copy()


def full_draw(widget) -> np.ndarray:
    """What the kernel shows for the widget's current state: a full draw with the moving artists."""
    widget.fig.canvas.draw()
    return np.asarray(widget.fig.canvas.get_renderer().buffer_rgba()).copy()


def compare(shown, full, block: int = 4) -> tuple[float, float]:
    """(fraction of 4 x 4 pixel blocks whose mean colour differs by more than 24 levels in some channel,
    mean absolute difference of the pixels). Edges antialiased differently move single pixels, not the
    colour of a block; a missing or misplaced artist moves both."""
    h, w_ = (shown.shape[0] // block) * block, (shown.shape[1] // block) * block

    def blocks(a):
        return a[:h, :w_].astype(float).reshape(h // block, block, w_ // block, block, 4).mean(axis=(1, 3))

    clear = np.abs(blocks(shown) - blocks(full)).max(axis=-1) > 24
    return float(clear.mean()), float(np.abs(shown.astype(int) - full.astype(int)).max(axis=-1).mean())


def close(clear: float, mean: float) -> bool:
    """A frame counts as the full draw's picture. Measured over every widget's films (2026-11-30): at most
    0.024% of blocks differ clearly, and the mean difference is at most 0.056 levels (04's heatmaps, whose
    resampled images differ from a full draw's by a level or two over a few thousand pixels). A frame missing
    one visible artist (a frame of 01 and of 04, each artist in turn) gave at least 0.06% of blocks (04's ring
    around the clicked point; 01's smallest, 0.096%) and a mean of 0.06-4.6 (test_a_frame_without_one_of_its_artists_is_seen)."""
    return clear < 0.0004 and mean < 0.08


def snapshot(widget):
    """What the page shows and reads of a widget: its picture, readout, message, numbers, control values."""
    return (
        full_draw(widget),
        widget.readout.value,
        widget.message.value,
        widget.numbers(),
        {k: c.value for k, c in widget.controls.items()},
    )


def widget_messages(widget) -> list:
    """Collect every state message the widget's ipywidgets would send to the page."""
    sent = []
    widgets = [c for c in widget.controls.values()] + [widget.readout, widget.message]
    for x in widgets:
        x.send_state = lambda key=None, x=x: sent.append((type(x).__name__, key))
    return sent


@pytest.mark.parametrize("cls", [c for _, c in WIDGETS], ids=[c.__name__ for _, c in WIDGETS])
def test_every_frame_of_every_film_is_what_the_kernel_draws(cls):
    widget = construct(cls)
    if widget._layer is None:
        assert not film.filmable(widget) or not widget._animated, f"{cls.__name__} has sliders to film but no layer"
        pytest.skip(f"{cls.__name__} has no slider to film")
    for name in set(film.filmable(widget)) & set(widget.controls):
        # the page reads a film's name from the slider's class tokens (livelayer.js, hook): one token, naming it
        tokens = " ".join(widget.controls[name]._dom_classes).split()
        assert [t for t in tokens if t.startswith("lesson-film-")] == [f"lesson-film-{name}"], (name, tokens)
    layer = in_view(widget)
    before = snapshot(widget)
    sent = widget_messages(widget)
    films = all_films(widget, layer)
    others = [
        m for m in sent if m[1] is None or len(m[1])
    ]  # an empty state (hold_sync with nothing held) is no message
    assert not others, f"making films sent {others[:3]} to the page"
    after = snapshot(widget)
    assert np.array_equal(before[0], after[0]), f"{cls.__name__}: making films changed the picture"
    assert before[1:] == after[1:], f"{cls.__name__}: making films changed the readout, message, numbers or controls"
    assert set(films) == set(widget._films.made) == set(film.filmable(widget)) - widget._films.skipped
    for name, frames in films.items():
        assert [f["v"] for f, _, _ in frames] == film.values_of(widget, name)
        if name in widget.controls:  # the page turns the slider's sync off in the page alone; the kernel leaves it
            assert widget.controls[name].continuous_update is True
            assert widget._layer_widget_sliders[name] == widget.controls[name].model_id
        # each frame is what the kernel draws when the released value comes in one step from the widget's state:
        # a fresh widget, moved there once, draws the same (axis limits that follow their path, like 01's, included)
        holds = [k for k, (f, _, _) in enumerate(frames) if f.get("hold")]
        picks = sorted({0, len(frames) // 3, len(frames) // 2, len(frames) - 1, *holds[:1]})
        for k in picks:
            frame, buffers, backgrounds = frames[k]
            kernel = construct(cls)
            in_view(kernel)
            if name in kernel.controls:
                kernel.controls[name].value = frame["v"]
            else:  # a drag on the figure, released there
                kernel.drag_release(name, frame["v"])
            assert frame["message"] == kernel.message.value, f"{name} = {frame['v']}: the film's message line differs"
            if frame.get("hold"):
                assert "readout" not in frame and "ops" not in frame  # the page keeps what it shows, as the kernel does
                assert kernel.problem, f"{name} = {frame['v']}: a frame held back, yet the widget shows no problem"
                continue
            assert frame["readout"] == kernel.readout.value, f"{name} = {frame['v']}: the film's readout differs"
            shown = paint(frame, buffers, png(backgrounds[frame["bg"]]), widget.fig.dpi)
            clear, mean = compare(shown, full_draw(kernel))
            assert close(clear, mean), (
                f"{cls.__name__}: the film of {name} at {frame['v']!r} differs from a full draw: "
                f"{clear:.2%} of blocks, mean {mean:.2f} levels"
            )
            plt.close(kernel.fig)


class Two(LessonWidget):
    """Two lines, one of them moving with a slider; a second slider and a dropdown."""

    def __init__(self):
        super().__init__()
        self.fig, self.ax = new_figure()
        self.ax.set_xlim(0, 1)
        self.ax.set_ylim(-2, 2)
        self.ax.plot([0, 1], [0, 0], color="black")
        (self.line,) = self.ax.plot([0, 1], [0, 1], color="red", lw=3)
        self.animate(self.line)
        self.add_control("slope", slider("slope", 1.0, -2.0, 2.0, 0.5))
        self.add_control("lift", slider("lift", 0.0, -1.0, 1.0, 0.5))
        self.add_control("colour", w.Dropdown(options=["red", "blue"], value="red"))
        self._finish(w.VBox([self.controls["slope"], self.fig.canvas, self.message]))

    def update(self):
        if self.controls["slope"].value == 0:
            raise ValueError("a flat line is not invertible")
        lift = self.controls["lift"].value
        self.line.set_ydata([lift, lift + self.controls["slope"].value])
        self.line.set_color(self.controls["colour"].value)
        self.readout.value = f"slope {self.controls['slope'].value}"


def test_a_film_per_slider_and_a_teaching_moment_holds_the_picture():
    widget = Two()
    assert widget._layer in widget.root.children and "lesson-film-slope" in widget.controls["slope"]._dom_classes
    films = all_films(widget, in_view(widget))
    assert set(films) == {"slope", "lift"}  # not the dropdown
    slope = {f["v"]: f for f, _, _ in films["slope"]}
    assert sorted(slope) == [-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0]
    assert (
        slope[0.0].get("hold")
        and "not invertible" in slope[0.0]["message"]
        and "ops" not in slope[0.0]
        and "readout" not in slope[0.0]
    )
    assert slope[1.5]["readout"] == "slope 1.5" and not slope[1.5].get("hold")
    strokes = [op for op in slope[-2.0]["ops"] if op["t"] == "p" and op.get("s")]
    assert len(strokes) == 1 and strokes[0]["s"][:3] == [1.0, 0.0, 0.0]  # only the moving line, in red


def test_a_control_name_the_page_cannot_read_is_refused_with_the_fix():
    widget = Two()
    with pytest.raises(ValueError, match=r"got 'level 1'.*lesson-film-<name>.*Use e.g. 'level_1'"):
        widget.add_control("level 1", slider("T, level 1", 0.5, 0.0, 1.0, 0.1))
    with pytest.raises(ValueError, match="Use e.g. '_2d'"):
        widget.add_control("2d", slider("2d", 0.5, 0.0, 1.0, 0.1))
    assert "level 1" not in widget.controls


def test_a_change_drops_the_films_it_invalidates_and_keeps_the_one_that_moved():
    widget = Two()
    layer = in_view(widget)
    all_films(widget, layer)
    assert widget._films.made == {"slope", "lift"}
    widget.controls["slope"].value = 1.5  # a released film drag: the other film no longer holds
    drop = layer.sent[-1][0]
    assert drop == {"kind": "drop", "gen": widget._films.gen, "keep": "slope"}
    assert widget._films.made == {"slope"}
    widget.controls["colour"].value = "blue"  # not a slider: every film goes
    assert layer.sent[-1][0]["keep"] is None and widget._films.made == set()
    n = len(layer.sent)
    widget.controls["colour"].value = "red"  # nothing left to drop: no message
    assert len(layer.sent) == n
    films = all_films(widget, layer)  # the page asks again: new films, of the new generation
    assert all(c["gen"] == widget._films.gen for c, _ in layer.sent[n:] if c["kind"] == "film") and set(films) == {
        "slope",
        "lift",
    }


def test_making_a_film_asks_the_page_for_no_redraw(monkeypatch):
    """In interactive mode (``%matplotlib widget``) a figure marked stale asks the page for a full draw; a film
    moves the axes and artists of the figure, and must not."""
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "isinteractive", lambda: True)
    monkeypatch.setattr(matplotlib, "is_interactive", lambda: True)
    widget = Two()
    widget.fig.stale_callback = lambda fig, val: asked.append(val)
    asked = []
    layer = in_view(widget)
    widget.fig.stale = False
    asked.clear()  # the view's first full draw
    original = widget.update

    def rescaling():
        original()
        widget.ax.set_ylim(-2, 3 + abs(widget.controls["slope"].value))

    widget.update = rescaling
    films = all_films(widget, layer)
    assert films["slope"] and not asked, f"making films asked the page for {len(asked)} redraws"
    assert widget.fig.stale_callback is not None and not widget.fig.stale


def test_the_page_can_ask_for_a_slider_first_and_a_film_in_flight_is_not_doubled():
    widget = Two()
    layer = in_view(widget)
    widget._on_layer_message({"kind": "want", "name": "lift"})
    assert layer.sent[-1][0]["name"] == "lift"
    n = len(layer.sent)
    widget._on_layer_message({"kind": "want", "name": "slope"})  # the answer to the first is on its way
    assert len(layer.sent) == n
    widget._on_layer_message({"kind": "more"})
    assert layer.sent[-1][0]["name"] == "slope"  # moved to the front
    for bad in ("not a dict", {"kind": "want", "name": 3}, {"kind": "nonsense"}, {}):
        widget._on_layer_message(bad)  # the page's messages are not trusted to be well formed


def test_a_film_whose_axis_limits_keep_changing_is_left_to_the_kernel(monkeypatch):
    monkeypatch.setattr(film, "MAX_BACKGROUNDS", 2)
    widget = Two()
    original = widget.update

    def rescaling():
        original()
        widget.ax.set_ylim(-2, 2 + widget.controls["slope"].value + 2)  # new limits at every position

    widget.update = rescaling
    films = all_films(widget, in_view(widget))
    assert "slope" in widget._films.skipped and not films.get("slope") and films.get("lift")


def test_a_drag_on_the_figure_released_where_it_is_refused_stays_at_its_last_good_place():
    cls = dict((c.__name__, c) for _, c in WIDGETS)["ChangeOfVariables1D"]
    widget = construct(cls)
    all_films(widget, in_view(widget), first="knot 4")
    before = widget.knots_x.copy()
    widget._on_layer_message({"kind": "release", "name": "knot 4", "value": before[5] + 1.0, "good": before[4] + 0.5})
    assert widget.problem and "Refused" in widget.message.value
    assert widget.knots_x[4] == pytest.approx(before[4] + 0.5) and np.array_equal(
        np.delete(widget.knots_x, 4), np.delete(before, 4)
    )
    through = construct(cls)  # the same drag through the kernel: its last good move, then the refused one
    through.move_knot(4, before[4] + 0.5)
    through.move_knot(4, before[5] + 1.0)
    assert (widget.message.value, widget.problem) == (through.message.value, through.problem)
    assert np.array_equal(full_draw(widget), full_draw(through)) and np.array_equal(widget.knots_x, through.knots_x)
    for bad in (
        {"kind": "release", "name": "knot 4", "value": "nan"},
        {"kind": "release", "name": "knot 4", "value": None},
        {"kind": "release", "name": "slope", "value": 2.0},
        {"kind": "release", "name": "knot 9", "value": 1.0},
    ):
        widget._on_layer_message(
            bad
        )  # ignored: not a number, a slider (its value comes by its own model), no such film
    assert widget.knots_x[4] == pytest.approx(before[4] + 0.5)


def test_films_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("LESSONLIB_FILMS", "0")
    widget = Two()
    assert widget._layer is None and widget.controls["slope"].continuous_update


def test_positions_cover_the_range_in_steps():
    assert film.positions(w.FloatSlider(min=-1, max=1, step=0.5)) == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert film.positions(w.IntSlider(min=0, max=6)) == list(range(7))
    many = film.positions(w.FloatSlider(min=0, max=10, step=0.01))
    assert len(many) == film.MAX_FRAMES and many[0] == 0 and many[-1] == 10


@pytest.mark.parametrize("name, slider_name", [("ChangeOfVariables1D", "shift"), ("CouplingExplorer", "a")])
def test_a_frame_without_one_of_its_artists_is_seen(name, slider_name):
    """The comparison above can fail: a frame lacking any one of its visible artists is told apart."""
    cls = dict((c.__name__, c) for _, c in WIDGETS)[name]
    widget = construct(cls)
    films = all_films(widget, in_view(widget), first=slider_name)
    frame, buffers, backgrounds = films[slider_name][len(films[slider_name]) // 2]
    widget.controls[slider_name].value = frame["v"]
    full = full_draw(widget)
    bg = png(backgrounds[frame["bg"]])
    everything = paint(frame, buffers, bg, widget.fig.dpi)
    assert close(*compare(everything, full))
    seen = 0
    for k in range(len(frame["ops"])):
        without = paint(dict(frame, ops=frame["ops"][:k] + frame["ops"][k + 1 :]), buffers, bg, widget.fig.dpi)
        if not (np.abs(without.astype(int) - everything.astype(int)) > 64).any():
            continue  # an artist with nothing visible in this state
        assert not close(*compare(without, full)), f"a frame without its op {k} ({frame['ops'][k]['t']}) passed"
        seen += 1
    assert seen >= 3


def test_recorder_keeps_markers_dashes_clipping_and_nan_gaps():
    fig, ax = new_figure()
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)
    (dashed,) = ax.plot([0, 5, np.nan, 6, 20], [1, 5, np.nan, 6, 20], "--", color="blue")
    (dots,) = ax.plot([1, 2, np.nan], [1, 2, 3], "o", color="green")
    fig.canvas.draw()
    content, buffers = livelayer.record(fig, [dashed, dots]).message(7)
    assert content["seq"] == 7 and content["W"] == round(fig.bbox.width)
    line, markers = content["ops"]
    assert line["t"] == "p" and line["d"][1] and all(v > 0 for v in line["d"][1])
    assert line["c"] == pytest.approx(list(ax.bbox.bounds), abs=0.01)  # clipped to the axes
    codes = np.frombuffer(buffers[0], np.uint8)
    a, n = line["v"]
    assert list(codes[a : a + n]).count(Path.MOVETO) == 2  # the NaN splits the line in two
    assert markers["t"] == "m" and markers["o"][1] == 2  # the NaN point is not drawn


# -- live drags (LessonWidget.live_drags): frames the page asks for while a hand drags in two dimensions -----------
LIVE = [(name, c) for name, c in WIDGETS if construct(c).live_drags()]


def live_frame(widget, layer, name, value, seq, have):
    """Ask for one frame of a live drag as the page does; (frame, buffers, backgrounds sent with it by id)."""
    n = len(layer.sent)
    widget._on_layer_message({"kind": "live", "name": name, "value": list(value), "seq": seq, "have": sorted(have)})
    ((content, buffers),) = layer.sent[n:]
    assert content["kind"] == "live" and content["seq"] == seq and content["name"] == name
    return content["frame"], buffers, {b["id"]: buffers[b["b"]] for b in content["backgrounds"]}


def test_some_widget_has_a_live_drag():
    assert "LinearMap2D" in {c.__name__ for _, c in LIVE}


@pytest.mark.parametrize("cls", [c for _, c in LIVE], ids=[c.__name__ for _, c in LIVE])
def test_every_live_frame_is_what_the_kernel_draws_when_the_drag_is_let_go_there(cls):
    widget = construct(cls)
    layer = in_view(widget)
    widget._on_layer_message({"kind": "want"})
    handles = [c for c, _ in layer.sent if c["kind"] == "handles"]
    assert handles and handles[-1]["drags"] == widget.live_drags()  # a new view learns where the handles are
    before = snapshot(widget)
    sent = widget_messages(widget)
    held: dict[int, bytes] = {}
    for spec in widget.live_drags():
        # from the handle (the page's first frame), then across the plane: to a collapse, a flip, a corner
        lo, hi = spec["lo"], spec["hi"]
        here = (spec["a"][0] + spec["b"][0] * spec["x"], spec["a"][1] + spec["b"][1] * spec["y"])
        for k, value in enumerate([here, (0.0, 0.0), (lo, hi), (hi * 0.4, lo * 0.3), (hi, hi)]):
            frame, buffers, backgrounds = live_frame(widget, layer, spec["name"], value, k, set(held))
            if held:
                assert not backgrounds, "the page holds the background: it is not sent again"
            held.update(backgrounds)
            kernel = construct(cls)
            in_view(kernel)
            kernel.drag_release(spec["name"], value)
            assert frame["message"] == kernel.message.value, f"{spec['name']} at {value}: the message line differs"
            if frame.get("hold"):
                assert kernel.problem
                continue
            assert frame["readout"] == kernel.readout.value, f"{spec['name']} at {value}: the readout differs"
            shown = paint(frame, buffers, png(held[frame["bg"]]), widget.fig.dpi)
            clear, mean = compare(shown, full_draw(kernel))
            assert close(clear, mean), (
                f"{spec['name']} at {value}: {clear:.2%} of blocks differ, mean {mean:.2f} levels"
            )
            plt.close(kernel.fig)
    others = [m for m in sent if m[1] is None or len(m[1])]
    assert not others, f"drawing live frames sent {others[:3]} to the page"
    after = snapshot(widget)
    assert np.array_equal(before[0], after[0]) and before[1:] == after[1:], "drawing live frames changed the widget"


def test_a_live_drag_released_moves_the_column_and_the_page_learns_where_the_tips_went():
    cls = dict((c.__name__, c) for _, c in WIDGETS)["LinearMap2D"]
    widget = construct(cls)
    layer = in_view(widget)
    widget._on_layer_message({"kind": "release", "name": "a1", "value": [0.52, -1.27]})  # snapped to the sliders' step
    assert (widget.controls["a11"].value, widget.controls["a21"].value) == (0.5, -1.25)
    handles = [c for c, _ in layer.sent if c["kind"] == "handles"][-1]["drags"]
    a1 = [h for h in handles if h["name"] == "a1"][0]
    assert (a1["a"][0] + a1["b"][0] * a1["x"], a1["a"][1] + a1["b"][1] * a1["y"]) == pytest.approx((0.5, -1.25))
    n = len(layer.sent)
    for bad in (
        {"kind": "release", "name": "a1", "value": [float("nan"), 0.0]},
        {"kind": "release", "name": "a1", "value": 1.0},
        {"kind": "release", "name": "a3", "value": [1.0, 1.0]},
        {"kind": "live", "name": "a1", "value": [1.0], "seq": 1, "have": []},
        {"kind": "live", "name": "a1", "value": [1.0, 1.0], "seq": "1", "have": []},
        {"kind": "live", "name": "a1", "value": [1.0, 1.0], "seq": 1, "have": None},
    ):
        widget._on_layer_message(bad)  # ignored: not two numbers, no such handle, no sequence number
    assert (widget.controls["a11"].value, widget.controls["a21"].value) == (0.5, -1.25) and len(layer.sent) == n
    widget.controls["mode"].value = "nonlinear"  # no tips to drag: the page is told there are none
    assert widget.live_drags() == [] and layer.sent[-1][0] == {"kind": "handles", "drags": []}


def test_the_film_of_the_knot_under_the_pointer_is_made_first():
    cls = dict((c.__name__, c) for _, c in WIDGETS)["ChangeOfVariables1D"]
    widget = construct(cls)
    assert widget._layer.hover  # the page reports where the pointer rests on this figure
    layer = in_view(widget)
    x, y = widget.knot_pixels()[5]
    widget._on_layer_message({"kind": "want", "at": [float(x) + 5, float(y) - 5]})
    assert layer.sent[-1][0]["name"] == "knot 5"
    n = len(layer.sent)
    for far in ({"kind": "want", "at": [0.0, 0.0]}, {"kind": "want", "at": ["x", 1]}, {"kind": "want", "at": 3}):
        widget._on_layer_message(far)  # nowhere near a knot, or not a point: nothing changes, nothing is sent
    assert len(layer.sent) == n and next(iter(widget._films.todo)) == "knot 5"
    widget._on_layer_message({"kind": "more"})
    x, y = widget.knot_pixels()[1]
    widget._on_layer_message({"kind": "want", "at": [float(x), float(y)]})
    widget._on_layer_message({"kind": "more"})
    assert layer.sent[-1][0]["name"] == "knot 1"


def test_the_picture_after_a_filmed_slider_moved_is_sent_whole():
    """ipympl paints a picture sent as 'diff' over the one before; once, in 07, after a drag played from a film that
    picture showed alone on a blank canvas. A change of a slider whose film the page holds sends the next one whole."""
    widget = Two()
    all_films(widget, in_view(widget))
    canvas = widget.fig.canvas
    modes = []
    canvas.set_image_mode = lambda mode, original=canvas.set_image_mode: (modes.append(mode), original(mode))[1]
    widget.controls["lift"].value = 0.5  # filmed: the whole picture goes
    widget.controls["colour"].value = "blue"  # no film: only the changed pixels go
    assert modes == ["full", "diff"]


def test_the_page_is_sent_its_drawing_of_the_live_drags_once_and_the_texts_of_a_position_on_request():
    """LessonWidget.page_drawing: the page draws 02's tips itself (the drawing is checked in Chromium by
    tests/browser/test_page_drawing.py). Here: what the kernel sends for it, and the texts a position asks for."""
    cls = dict((c.__name__, c) for _, c in WIDGETS)["LinearMap2D"]
    widget = construct(cls)
    layer = in_view(widget)
    widget._on_layer_message({"kind": "want"})
    content, buffers = [m for m in layer.sent if m[0]["kind"] == "handles"][-1]
    page = content["page"]
    assert page["kind"] == "linear2d" and page["A"] == widget.matrix().tolist()
    background, *labels = (png(buffers[b]) for b in page["buffers"])
    assert background.shape[:2] == (page["H"], page["W"]) and len(labels) == len(page["labels"]) == 2
    right = [int(v) for v in widget.ax_x.bbox.bounds]
    panel = background[
        page["H"] - right[1] - right[3] + 4 : page["H"] - right[1] - 4, right[0] + 4 : right[0] + right[2] - 4
    ]
    assert (panel == 255).all(), "the right panel's moving parts are not in the page's background"
    twin = construct(cls)
    in_view(twin)
    assert (full_draw(twin)[:, : right[0] - 4] == background[:, : right[0] - 4]).all(), (
        "the left panel is in the background as drawn"
    )
    widget._on_layer_message({"kind": "release", "name": "a1", "value": [0.3, -0.75]})
    content, buffers = [m for m in layer.sent if m[0]["kind"] == "handles"][-1]
    assert content["page"]["A"] == [[0.3, 0.5], [-0.75, 1.0]] and "buffers" not in content["page"] and not buffers
    assert content["page"]["id"] == page["id"]  # the page keeps the background it holds
    widget._on_layer_message({"kind": "want"})  # a new view: it holds nothing yet
    content, buffers = [m for m in layer.sent if m[0]["kind"] == "handles"][-1]
    assert len(content["page"]["buffers"]) == 3 and len(buffers) == 3
    n = len(layer.sent)
    widget._on_layer_message({"kind": "live", "name": "a2", "value": [0.45, -1.2], "seq": 7, "have": [], "text": True})
    ((content, buffers),) = layer.sent[n:]
    assert content["kind"] == "live" and content["seq"] == 7 and not buffers and not content["backgrounds"]
    frame = content["frame"]
    assert "ops" not in frame and "bg" not in frame
    kernel = construct(cls)
    in_view(kernel)
    kernel.drag_release("a1", [0.3, -0.75])
    kernel.drag_release("a2", [0.45, -1.2])
    assert (frame["readout"], frame["message"]) == (kernel.readout.value, kernel.message.value)
    assert widget.matrix().tolist() == [[0.3, 0.5], [-0.75, 1.0]], "the texts of a position leave the widget as it was"
    widget.controls["mode"].value = "nonlinear"
    assert layer.sent[-1][0] == {"kind": "handles", "drags": []}
