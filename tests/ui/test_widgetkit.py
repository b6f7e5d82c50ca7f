"""The shared widget machinery: controls drive update(), ValueErrors become messages, reset works."""

import ipywidgets as w
import matplotlib
import numpy as np

matplotlib.use("module://ipympl.backend_nbagg")

from lessonlib.ui.widgetkit import LessonWidget, new_figure, slider, sweep_values  # noqa: E402


class Demo(LessonWidget):
    def __init__(self):
        super().__init__()
        self.fig, self.ax = new_figure()
        (self.line,) = self.ax.plot([0, 1], [0, 1])
        self.add_control("slope", slider("slope", 1.0, -2.0, 2.0, 0.5))
        self._finish(w.VBox([self.controls["slope"], self.fig.canvas, self.message]))

    def update(self):
        a = self.controls["slope"].value
        if a == 0:
            raise ValueError("a zero slope squashes the line onto a point: no inverse.")
        self.line.set_ydata([0, a])
        self.say("")

    def numbers(self):
        return {"slope": self.controls["slope"].value, "end": float(self.line.get_ydata()[1])}


def test_control_change_updates_and_is_timed():
    d = Demo()
    d.controls["slope"].value = 2.0
    assert d.numbers()["end"] == 2.0
    assert len(d.update_times_ms) == 2


def test_value_error_becomes_a_message_not_a_traceback():
    d = Demo()
    d.controls["slope"].value = 0.0
    assert d.problem and "no inverse" in d.message.value
    assert d.numbers()["end"] == 1.0  # the last good picture stays
    d.controls["slope"].value = 1.5
    assert d.problem is None and d.message.value == ""


def test_reset_and_sweep():
    d = Demo()
    d.controls["slope"].value = -2.0
    d.reset()
    assert d.controls["slope"].value == 1.0
    seen = []
    d.sweep(n=5, callback=lambda name, v: seen.append(v))
    assert seen == [-2.0, -1.0, 0.0, 1.0, 2.0]
    assert sweep_values(w.IntSlider(min=0, max=3), 10) == [0, 1, 2, 3]


def test_widget_displays_as_its_root():
    d = Demo()
    bundle = d._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_encode_png_round_trips_through_a_png_decoder():
    import io

    import numpy as np
    import pytest
    from PIL import Image

    from lessonlib.ui.widgetkit import encode_png

    rng = np.random.default_rng(0)
    for h, wd in ((1, 1), (7, 13), (120, 333)):
        rgba = rng.integers(0, 256, size=(h, wd, 4), dtype=np.uint8)
        rgba[: h // 2] = 0  # a transparent block, as in a diff frame
        back = np.asarray(Image.open(io.BytesIO(encode_png(rgba))).convert("RGBA"))
        np.testing.assert_array_equal(back, rgba)
    with pytest.raises(ValueError, match="RGBA"):
        encode_png(np.zeros((4, 4, 3), dtype=np.uint8))


def test_a_widget_without_animated_artists_draws_in_full():
    """Nothing registered with animate(): a blit would show the old picture, so every redraw is a full draw."""
    d = Demo()
    d.fig.canvas.syncing_data_url = False  # the browser view exists
    d.fig.canvas.draw()
    d.controls["slope"].value = 2.0
    assert d.last_redraw == "full"


def test_steady_limit_moves_only_when_it_must():
    import pytest

    from lessonlib.ui.widgetkit import steady_limit

    assert steady_limit(None, 1.0) == pytest.approx(1.15)  # first time: room above the curve
    assert steady_limit(1.15, 0.5) == 1.15  # shrinking a little: the axis stays
    assert steady_limit(1.15, 2.0) == pytest.approx(2.3)  # the curve would leave the panel: grow
    assert steady_limit(1.15, 0.2) == pytest.approx(0.23)  # under a third of the axis: shrink
    with pytest.raises(ValueError, match="positive finite"):
        steady_limit(1.0, float("nan"))


OTHER_BACKENDS = r"""
import matplotlib
import torch
torch.set_num_threads(1)  # as in the notebooks and the test processes
from benchmarks.widget_latency import construct, discover  # every lesson widget, with the arguments it needs

for backend in ("Agg", "module://matplotlib_inline.backend_inline"):
    matplotlib.use(backend)
    for _, cls in discover():
        widget = construct(cls)
        name, control, value = next(widget.sweep_changes(3))
        control.value = value
        print(backend, cls.__name__, type(widget.fig.canvas).__module__, widget.problem, widget.last_redraw)
"""


def test_widgets_work_under_other_matplotlib_backends():
    """``%matplotlib inline`` or a plain script: every lesson widget still builds, on an ipympl canvas of its own,
    and answers a control change (it used to raise an obscure TraitError)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", OTHER_BACKENDS], cwd=root, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    assert len(lines) >= 22, out.stdout  # every lesson widget (11 or more), under 2 backends
    for line in lines:
        backend, name, canvas_module, problem, redraw = line.split()
        assert canvas_module == "ipympl.backend_nbagg" and problem == "None" and redraw == "idle", line


def run_in_own_loop(coro):
    """asyncio.run(coro) in a thread of its own: the test session may already run an event loop in this
    thread (Playwright's sync API does, for the browser tests), and asyncio.run refuses to nest."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_a_burst_of_changes_from_the_browser_draws_far_fewer_frames_and_ends_on_the_last_value(monkeypatch):
    """A drag: 50 slider changes arrive faster than frames can be drawn; the widget draws a few frames,
    the last one with the last value, and none after it."""
    import asyncio
    import time

    from lessonlib.ui import widgetkit

    monkeypatch.setattr(widgetkit, "from_browser", lambda: True)
    d = Demo()
    frames_before = len(d.update_times_ms)
    values = [v for v in np.linspace(-2.0, 2.0, 50) if abs(v) > 1e-9]

    async def drag():
        for v in values:
            d.controls["slope"].value = float(v)
            await asyncio.sleep(0)  # each change is its own message: the kernel's loop runs between them
        await asyncio.sleep(3 * widgetkit.FRAME_INTERVAL_S)

    t0 = time.perf_counter()
    run_in_own_loop(drag())
    frames = len(d.update_times_ms) - frames_before
    assert d.numbers()["end"] == values[-1], "the last position of the drag must be drawn"
    assert 1 <= frames <= 1 + (time.perf_counter() - t0) / widgetkit.FRAME_INTERVAL_S + 1, (
        f"{frames} frames for {len(values)} changes"
    )
    assert frames < len(values) / 4


def test_changes_made_by_code_draw_at_once_even_in_an_event_loop():
    """A cell runs inside the kernel's event loop: what it reads right after a change must be current."""

    d = Demo()

    async def cell():
        d.controls["slope"].value = -1.5
        after_change = d.numbers()["end"]
        d.set(slope=1.5)
        return after_change, d.numbers()["end"]

    assert run_in_own_loop(cell()) == (-1.5, 1.5)


def test_a_frame_waits_until_the_page_has_taken_the_one_before(monkeypatch):
    """After each frame the kernel asks the page to answer (ipympl's draw request); changes that arrive
    before the answer wait, and the answer draws the latest of them. A page that never answers holds
    the widget back for ANSWER_TIMEOUT_S only."""
    import asyncio

    from lessonlib.ui import widgetkit

    monkeypatch.setattr(widgetkit, "from_browser", lambda: True)
    d = Demo()
    canvas = d.fig.canvas
    canvas.syncing_data_url = False  # as once the browser view exists: frames are blits sent to the page
    canvas.draw()
    requests = []
    monkeypatch.setattr(canvas, "send_event", lambda kind, **kw: requests.append(kind))

    async def drag(answer: bool):
        d.controls["slope"].value = 1.5
        await asyncio.sleep(0.1)
        first = len(d.update_times_ms)
        for v in (0.5, -0.5, -1.5):
            d.controls["slope"].value = v
            await asyncio.sleep(0.02)
        waiting = len(d.update_times_ms)
        if answer:
            canvas.handle_draw({"type": "draw"})  # what the page sends once it has handled the frame
        await asyncio.sleep(0.3)
        return first, waiting, len(d.update_times_ms)

    monkeypatch.setattr(widgetkit, "ANSWER_TIMEOUT_S", 60.0)
    first, waiting, answered = run_in_own_loop(drag(answer=True))
    assert waiting == first and answered == first + 1 and d.numbers()["end"] == -1.5
    assert requests.count("draw") == 2  # one request per frame sent

    monkeypatch.setattr(widgetkit, "ANSWER_TIMEOUT_S", 0.05)
    monkeypatch.setattr(widgetkit, "from_browser", lambda: False)
    d.controls["slope"].value = 1.0  # code: drawn at once, nothing waits
    monkeypatch.setattr(widgetkit, "from_browser", lambda: True)
    first, waiting, timed_out = run_in_own_loop(drag(answer=False))
    assert timed_out > first and d.numbers()["end"] == -1.5


def test_a_sliders_answer_to_a_value_the_kernel_set_draws_nothing_again(monkeypatch):
    """When the kernel sets a slider (a drag on the figure let go, Reset), the slider's view in the page answers with its
    own sum for that position: 0.3 comes back as 0.2999999999999998 (seen in JupyterLab, 02's tip let go at a11 = 0.3).
    That is the setting already drawn: it is not drawn again. A real move from the page is."""
    from lessonlib.ui import widgetkit

    d = Demo()
    d.controls["slope"].value = 1.5
    drawn = len(d.update_times_ms)
    monkeypatch.setattr(widgetkit, "from_browser", lambda: True)
    monkeypatch.setattr(
        widgetkit, "_running_loop", lambda: None
    )  # a change from the browser is drawn at once, not paced
    # (after the browser tests, playwright's loop is the running one in this thread)
    d.controls["slope"].value = 1.4999999999999998
    assert len(d.update_times_ms) == drawn, "the slider's answer was drawn again"
    d.controls["slope"].value = 1.0
    assert len(d.update_times_ms) == drawn + 1 and d.numbers()["end"] == 1.0
