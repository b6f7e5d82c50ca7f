"""Dragging, measured in the browser: frames painted per second while a hand drags, time to settle after
release, how fast the page accepts the moves, and how busy its main thread is.

    python3 tools/dragbench.py                  every notebook, normal and presenter mode
    python3 tools/dragbench.py --modes normal 01 04

A drag is 60 mouse moves paced over one second (a brisk hand) across 60% of a slider's track, or over
the figure for the canvas drags (01's knots, 02's vector tips). Counted in the page:

* frames: 60 Hz frame slots (16.7 ms) in which a canvas of the widget was painted (a hook on the 2D context's
  drawImage / putImageData: how ipympl puts a new picture on screen; no pixels are read);
* fps: frames painted between mouse down and mouse up, per second of that interval;
* accepted_s: seconds until the page had taken all 60 moves (playwright returns from a move once the
  page's main thread has handled it), the drag's length as the hand feels it (target: within 1.2 s);
* settle_ms: from mouse up to the last frame painted (once 800 ms pass with no paint and an idle kernel);
* fps_moving, for a drag on the figure that is refused part of the way (01's knot 4 pulled past its neighbour:
  the knot stops there, the picture holds and the message says why): the frames per second from the press to
  the first refused move, held_after_s after the press; the held picture is the answer, not a missed frame;
* lag_ms, for a slider: the longest wait from the slider's readout showing a new position to the widget's next
  paint, the picture's delay behind the hand. A slider with few positions (05's 7 layers, 07's 4 knots) cannot
  show 20 different frames in a second's drag, but it can show each position within 50 ms (one frame at 20 fps);
* busy: the main thread's task time during the drag (Chromium's Performance.getMetrics TaskDuration,
  the sum of the trace's top-level tasks) as a fraction of the drag's length;
* main_cpu_ms: the CPU time the page's main thread used during the drag (ThreadTime), which does not
  grow when other programs share the cores: divided by the frames, what one frame costs the page.

Results go to benchmarks/results/browser_drag.json; `python3 course.py bench` copies them into the
docs/benchmarks.md table. The walk-through (tests/browser) does the same drags, to check that each one paints.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "browser_drag.json"

DRAG_JS = r"""
() => {
  if (window.__drag) return;
  const D = window.__drag = { el: null, active: false, paints: [], down: null, up: null, moves: 0, lastMove: null };
  const ctx2d = CanvasRenderingContext2D.prototype;
  // a figure painted while a film's canvas covers it is not seen (lessonlib/ui/film.py): not a frame
  const covered = (c) => { const o = c.parentElement && c.parentElement.querySelector(':scope > canvas.lesson-live-layer');
                           return !!o && o !== c && o.style.display === 'block'; };
  for (const name of ['drawImage', 'putImageData']) {
    const orig = ctx2d[name];
    ctx2d[name] = function (...args) {
      if (D.active && D.el && this.canvas && this.canvas.isConnected && D.el.contains(this.canvas) && !covered(this.canvas))
        D.paints.push([performance.now(), Math.floor(performance.now() * 0.06)]);  // paints in one 60 Hz frame count once
      return orig.apply(this, args);
    };
  }
  // on the window, where a drag the page draws itself (lessonlib/ui/livelayer.js) keeps its moves from the rest of the page
  window.addEventListener('mousedown', () => { if (D.active) D.down = performance.now(); }, true);
  window.addEventListener('mouseup', () => { if (D.active) D.up = performance.now(); }, true);
  window.addEventListener('mousemove', () => { if (D.active && D.down !== null) { D.moves += 1; D.lastMove = performance.now(); } }, true);
}
"""


@dataclass
class Drag:
    """One measured drag."""

    what: str  # 'slider 0', 'knot 4', ...
    frames: int
    fps: float
    accepted_s: float
    settle_ms: float
    busy: float
    moves_seen: int
    main_cpu_ms: float
    film_wait_s: float | None = None  # how long the slider's film took to be ready in the page (None: no film)
    positions: int | None = None  # slider positions the drag passed (distinct readouts): at most one frame each
    film_frames: int | None = None  # frames the film's canvas painted during the drag
    film_differs: float | None = (
        None  # share of 4 x 4 pixel blocks where the film's last frame and the kernel's picture differ
    )
    held_after_s: float | None = None  # a figure drag refused from this many seconds after the press (None: never)
    fps_moving: float | None = None  # frames per second until then
    lag_ms: float | None = (
        None  # a slider's longest wait from showing a new position to the next paint (-1: one never painted)
    )


def _metrics(cdp: Any) -> dict[str, float]:
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}


def _kernel_idle(lab: Any) -> bool:
    return all(k.get("execution_state") == "idle" for k in lab.kernels())


def drag(
    page: Any,
    lab: Any,
    el: Any,
    start: tuple[float, float],
    end: tuple[float, float],
    what: str,
    n_moves: int = 60,
    seconds: float = 1.0,
) -> Drag:
    """Press at ``start``, move to ``end`` in ``n_moves`` moves paced over ``seconds``, release; measure (see module doc)."""
    page.evaluate(DRAG_JS)
    page.evaluate(
        "(el) => Object.assign(window.__drag, {el, active: true, paints: [], down: null, up: null, moves: 0})", el
    )
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    m0 = _metrics(cdp)
    page.mouse.move(*start)
    page.mouse.down()
    t0 = time.perf_counter()
    for i in range(1, n_moves + 1):
        wait = t0 + i * seconds / n_moves - time.perf_counter()
        if wait > 0:
            time.sleep(wait)  # pacing the hand, not waiting for the page
        f = i / n_moves
        page.mouse.move(start[0] + f * (end[0] - start[0]), start[1] + f * (end[1] - start[1]))
    accepted = time.perf_counter() - t0
    m1 = _metrics(cdp)
    busy, cpu = m1["TaskDuration"] - m0["TaskDuration"], m1["ThreadTime"] - m0["ThreadTime"]
    page.mouse.up()
    quiet_since, deadline = time.perf_counter(), time.perf_counter() + 15
    last = None
    while time.perf_counter() < deadline:  # settle: no new paint for 800 ms and the kernel idle
        count = page.evaluate("() => window.__drag.paints.length")
        if count != last or not _kernel_idle(lab):
            last, quiet_since = count, time.perf_counter()
        elif time.perf_counter() - quiet_since > 0.8:
            break
        page.wait_for_timeout(50)  # polling a condition
    d = page.evaluate(
        "() => { const D = window.__drag; D.active = false; return {paints: D.paints, down: D.down, up: D.up, moves: D.moves}; }"
    )
    cdp.detach()
    during = {f for t, f in d["paints"] if d["down"] <= t <= d["up"]}
    span = (d["up"] - d["down"]) / 1000
    after = [t for t, _ in d["paints"] if t > d["up"]]
    return Drag(
        what,
        len(during),
        round(len(during) / span, 1) if span > 0 else 0.0,
        round(accepted, 3),
        round(max(after) - d["up"], 1) if after else 0.0,
        round(busy / accepted, 2),
        d["moves"],
        round(1000 * cpu, 1),
    )


def reset(page: Any, lab: Any, root: Any) -> None:
    """Press the widget's Reset button and wait until the kernel is idle again: every drag starts from the defaults."""
    button = root.locator("button", has_text="Reset").first
    if not button.count():
        return
    button.click()
    deadline = time.perf_counter() + 30
    page.wait_for_timeout(300)
    while not _kernel_idle(lab) and time.perf_counter() < deadline:
        page.wait_for_timeout(50)  # polling a condition
    page.wait_for_timeout(300)  # the last frame of the reset reaches the page


def slider_drag(page: Any, lab: Any, root: Any, control: int = 0, fraction: float = 0.6) -> Drag:
    """Drag slider ``control`` of the widget across ``fraction`` of its track, towards its roomier side."""
    handle = root.locator(".noUi-handle").nth(control)
    track = root.locator(".noUi-target").nth(control)
    handle.scroll_into_view_if_needed()
    waited = wait_for_film(page, root, track)
    readout = track.evaluate_handle("(t) => t.closest('.widget-slider').querySelector('.widget-readout')")
    page.evaluate(
        """(r) => { const seen = window.__positions = new Set([r.textContent]), shown = window.__shown = [];
        let last = r.textContent;
        window.__positionsObserver = new MutationObserver(() => {
          if (r.textContent !== last) { last = r.textContent; seen.add(last); shown.push(performance.now()); } });
        window.__positionsObserver.observe(r, {characterData: true, childList: true, subtree: true}); }""",
        readout,
    )
    film_before = film_frames(root)
    hb, tb = handle.bounding_box(), track.bounding_box()
    x, y = hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2
    sign = 1 if (tb["x"] + tb["width"] - x) > (x - tb["x"]) else -1
    d = drag(page, lab, root.element_handle(), (x, y), (x + sign * fraction * tb["width"], y), f"slider {control}")
    d.film_wait_s = waited
    d.positions = page.evaluate("() => { window.__positionsObserver.disconnect(); return window.__positions.size; }")
    lags = page.evaluate("""() => { const D = window.__drag, painted = D.paints.map((p) => p[0]);  // positions shown while the hand drags
        return window.__shown.filter((t) => t >= D.down && t <= D.up).map((t) => {
          const p = painted.find((x) => x >= t); return p === undefined ? -1 : p - t; }); }""")
    d.lag_ms = -1.0 if any(x < 0 for x in lags) else round(max(lags, default=0.0), 1)
    after = film_frames(root)
    d.film_frames = None if after is None else after - film_before
    if d.film_frames:
        d.film_differs = film_against_kernel(root)
    held(root, d)
    return d


def held(root: Any, d: Drag) -> None:
    """A filmed drag refused part of the way: when, and the frames per second until then (see the module doc)."""
    at = root.evaluate("""(el) => { const o = el.querySelector('canvas.lesson-live-layer'), D = window.__drag;
        const at = o && o.dataset.heldAt ? Number(o.dataset.heldAt) : null;
        if (at === null || at < D.down || at > D.up) return null;
        return [at - D.down, new Set(D.paints.filter((p) => p[0] >= D.down && p[0] <= at).map((p) => p[1])).size]; }""")
    if at is not None:
        d.held_after_s = round(at[0] / 1000, 3)
        d.fps_moving = round(at[1] / d.held_after_s, 1) if d.held_after_s > 0 else 0.0


def film_against_kernel(root: Any) -> float:
    """After a filmed drag has settled: the share of 4 x 4 pixel blocks whose colour differs clearly (by more than
    24 levels) between the film's last frame, as the page painted it, and the figure's picture the kernel drew for
    the released position. The page's canvas antialiases edges unlike Agg; a wrong frame differs in whole curves."""
    import base64
    import io

    import numpy as np
    from PIL import Image

    urls = root.evaluate("""(el) => { const o = el.querySelector('canvas.lesson-live-layer');
        const h = o.parentElement.querySelector(':scope > canvas:not(.lesson-live-layer)');
        return [o.toDataURL('image/png'), h.toDataURL('image/png')]; }""")
    film, kernel = (
        np.asarray(Image.open(io.BytesIO(base64.b64decode(u.split(",", 1)[1]))).convert("RGB"), dtype=float)
        for u in urls
    )
    if film.shape != kernel.shape:
        return 1.0
    h, w = (film.shape[0] // 4) * 4, (film.shape[1] // 4) * 4

    def blocks(a):
        return a[:h, :w].reshape(h // 4, 4, w // 4, 4, 3).mean(axis=(1, 3))

    return round(float((np.abs(blocks(film) - blocks(kernel)).max(axis=-1) > 24).mean()), 5)


def film_frames(root: Any) -> int | None:
    """Frames the widget's film canvas has painted so far (None: the widget has no film canvas)."""
    return root.evaluate("""(el) => { const c = el.querySelector('canvas.lesson-live-layer');
                                      return c ? Number(c.dataset.frames || 0) : null; }""")


def wait_for_film(
    page: Any, root: Any, track: Any = None, name: str | None = None, timeout_s: float = 30.0, attr: str = "data-films"
) -> float | None:
    """Wait until the page holds the film (lessonlib/ui/film.py) of a slider (``track``) or of a drag on the
    figure (``name``), as a hand that pauses before it drags; seconds waited, or None when there is no film.
    With ``attr="data-live"``: until the page knows where the live drag ``name``'s handle is (LessonWidget.live_drags)."""
    if track is not None:
        name = track.evaluate("""(t) => { const s = t.closest("[class*='lesson-film-']");
            return s ? [...s.classList].find((c) => c.startsWith('lesson-film-')).slice(12) : null; }""")
    if name is None:
        return None
    t0 = time.perf_counter()
    if track is not None:
        track.hover()  # the pointer on the slider: its film is made first
    while time.perf_counter() - t0 < timeout_s:
        if name in (root.get_attribute(attr) or "").split(","):
            return round(time.perf_counter() - t0, 2)
        page.wait_for_timeout(50)  # polling a condition
    return None


def canvas_drag(
    page: Any,
    lab: Any,
    root: Any,
    start: tuple[float, float],
    offset: tuple[float, float],
    what: str,
    filmed: bool = False,
    live: str | None = None,
) -> Drag:
    """Drag on the widget's figure from ``start`` by ``offset`` (both as fractions of the figure's size); a drag
    the widget films (``LessonWidget.figure_drags``, named ``what``) waits for its film first, a live drag
    (``LessonWidget.live_drags``, named ``live``) until the page knows its handle."""
    canvas = root.locator("canvas").last  # ipympl's top canvas takes the mouse events
    canvas.scroll_into_view_if_needed()
    b = canvas.bounding_box()
    x0, y0 = b["x"] + start[0] * b["width"], b["y"] + start[1] * b["height"]
    page.mouse.move(x0 - 3, y0 - 3)  # the pointer comes to rest on the handle: its film is made first
    page.mouse.move(x0, y0, steps=3)
    waited = wait_for_film(page, root, name=what) if filmed else None
    if live is not None:
        waited = wait_for_film(page, root, name=live, attr="data-live")
    film_before = film_frames(root)
    d = drag(
        page, lab, root.element_handle(), (x0, y0), (x0 + offset[0] * b["width"], y0 + offset[1] * b["height"]), what
    )
    d.film_wait_s = waited
    after = film_frames(root)
    d.film_frames = None if after is None else after - film_before
    if d.film_frames:
        d.film_differs = film_against_kernel(root)
    held(root, d)
    return d


def summarise(drags: list[Drag]) -> dict:
    """The worst and the median of a notebook's drags, and each drag."""
    return {
        "fps_min": min(d.fps for d in drags),
        "fps_median": statistics.median(d.fps for d in drags),
        "settle_ms_max": max(d.settle_ms for d in drags),
        "accepted_s_max": max(d.accepted_s for d in drags),
        "busy_max": max(d.busy for d in drags),
        "drags": [asdict(d) for d in drags],
    }


def record(mode: str, notebook: str, drags: list[Drag], path: Path = RESULTS) -> None:
    """Merge one notebook's drags into the results file (mode -> notebook -> summary)."""
    data = json.loads(path.read_text()) if path.exists() else {}
    data.setdefault(mode, {})[notebook] = summarise(drags) | {
        "load": list(os.getloadavg()),
        "time": time.strftime("%Y-%m-%d %H:%M"),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def run(modes: list[str], names: list[str], repeats: int, out: Path = RESULTS) -> int:
    sys.path.insert(0, str(ROOT / "tools"))
    sys.path.insert(0, str(ROOT / "tests" / "browser"))
    from browserlab import LAB_SETTINGS, JupyterLab, NotebookPage, chromium, copy_course

    # a student's JupyterLab draws only the cells in view (windowing 'contentVisibility', JupyterLab's
    # default); the walk-through's lab draws every cell ('none'), which costs every frame more
    STUDENT_LAB = {
        **LAB_SETTINGS,
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "contentVisibility"},
    }
    from specs import DRAGS

    notebooks = [
        p
        for p in sorted((ROOT / "notebooks").glob("*.ipynb"))
        if p.name in DRAGS and (not names or any(p.name.startswith(n) for n in names))
    ]
    with tempfile.TemporaryDirectory(prefix="course-drag-") as tmp, chromium() as browser:
        course = copy_course(Path(tmp))
        for mode in modes:
            env = {"LESSONLIB_PRESENTER": "1"} if mode == "presenter" else {}
            os.environ["LESSONLIB_PRESENTER"] = env.get("LESSONLIB_PRESENTER", "0")  # where specs' knots and tips are
            with JupyterLab(course, env=env, settings=STUDENT_LAB) as lab:
                for nb_path in notebooks:
                    page = browser.new_context(
                        viewport={"width": 1280, "height": 900}, device_scale_factor=1
                    ).new_page()
                    nb = NotebookPage(page, lab)
                    nb.open(f"notebooks/{nb_path.name}")
                    nb.run_all()
                    root = page.locator(DRAGS[nb_path.name].widget).first
                    drags = [d for _ in range(repeats) for d in DRAGS[nb_path.name].perform(page, lab, root)]
                    record(mode, nb_path.name, drags, out)
                    s = summarise(drags)
                    print(
                        f"{mode:9} {nb_path.name}: {s['fps_min']:.0f}-{max(d.fps for d in drags):.0f} fps, settle <= {s['settle_ms_max']:.0f} ms, "
                        f"moves accepted in <= {s['accepted_s_max']:.2f} s, main thread busy <= {s['busy_max']:.0%}; load {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
                    page.context.close()
                    lab.shutdown_kernels()
    return 0


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="*", help="notebook name prefixes (default: every notebook with a drag)")
    ap.add_argument("--modes", nargs="+", default=["normal", "presenter"], choices=["normal", "presenter"])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", type=Path, default=RESULTS, help=f"results file (default: {RESULTS.relative_to(ROOT)})")
    args = ap.parse_args(argv)
    return run(args.modes, args.notebooks, args.repeats, args.out)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
