"""The student's walk through one notebook's main widget, driven by the table in specs.py."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from browserlab import NotebookPage
from specs import DRAGS, GENERIC, SPECS, Interaction, Spec

GENERIC_SELECTORS = (".lesson-widget", ".jp-OutputArea-output:has(.widget-slider)")


@dataclass
class WalkResult:
    notebook: str
    found: str = ""  # the selector of the widget walked, "" when the notebook has none
    problems: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    drags: list = field(default_factory=list)  # dragbench.Drag of each drag of the widget
    log: list[str] = field(default_factory=list)


def spec_for(name: str) -> tuple[Spec | None, bool]:
    """(spec, declared): a declared spec from the table, else a generic one for the first lesson widget."""
    if name in SPECS:
        return SPECS[name], True
    return None, False


def find_widget(nb: NotebookPage, name: str):
    spec, declared = spec_for(name)
    if declared:
        loc = nb.page.locator(spec.widget).first
        return (loc, spec) if loc.count() else (None, spec)
    for sel in GENERIC_SELECTORS:
        loc = nb.page.locator(sel).first
        if loc.count():
            return loc, Spec(widget=sel, interactions=GENERIC)  # a notebook not in the table yet
    return None, None


def settle(nb: NotebookPage, root, what: str, quiet_ms: int = 250, timeout_s: float = 15.0) -> None:
    """Wait until the kernel is idle and the widget's picture has not changed for ``quiet_ms``."""
    deadline = time.monotonic() + timeout_s
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        fp = nb.fingerprint(root, "all")
        busy = any(k.get("execution_state") != "idle" for k in nb.lab.kernels())
        now = time.monotonic()
        if fp != last or busy:
            last, since = fp, now
        elif (now - since) * 1000 >= quiet_ms:
            return
        nb.page.wait_for_timeout(50)  # poll interval of a condition, not a fixed wait


def perform(nb: NotebookPage, root, inter: Interaction) -> None:
    page = nb.page
    if inter.kind in ("key", "drag_slider"):
        handles = root.locator(".noUi-handle")
        if handles.count() <= inter.control:
            raise AssertionError(f"slider {inter.control} not found in the widget")
        handle = handles.nth(inter.control)
        handle.scroll_into_view_if_needed()
        if inter.kind == "key":
            handle.focus()
            for k in inter.keys:
                page.keyboard.press(k)
        else:
            box = handle.bounding_box()
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            page.mouse.move(x, y)
            page.mouse.down()
            page.mouse.move(x + inter.dx, y, steps=8)
            page.mouse.up()
    elif inter.kind == "drag_canvas":
        canvas = root.locator("canvas").last  # ipympl's top canvas takes the mouse events
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        (sx, sy) = inter.start_from() if inter.start_from is not None else inter.start
        (ex, ey) = (
            (sx + inter.end[0], sy + inter.end[1]) if inter.start_from is not None else inter.end
        )  # end: an offset then
        x0, y0 = box["x"] + sx * box["width"], box["y"] + sy * box["height"]
        x1, y1 = box["x"] + ex * box["width"], box["y"] + ey * box["height"]
        page.mouse.move(x0, y0)
        page.mouse.down()
        page.mouse.move(x1, y1, steps=10)
        page.mouse.up()
    else:
        raise ValueError(f"unknown interaction {inter.kind!r}")


def readout_numbers(root, spec: Spec) -> dict[str, float]:
    loc = root.locator(spec.readout)
    text = " ".join(loc.nth(i).inner_text() for i in range(loc.count()))
    return spec.parse(text)


FILM_DIFFERS_MAX = 0.02  # share of 4 x 4 pixel blocks in which a film's last frame may differ from the kernel's picture


def walk(nb: NotebookPage, name: str, latency_presses: int = 20) -> WalkResult:
    """Do each interaction of the notebook's main widget; record what did not behave."""
    res = WalkResult(name)
    root, spec = find_widget(nb, name)
    if root is None:
        if spec is not None:
            res.problems.append(f"main widget {spec.widget} not found after Run All")
        return res
    res.found = spec.widget
    root.scroll_into_view_if_needed()
    settle(nb, root, spec.watch)
    for i, inter in enumerate(spec.interactions):
        before = readout_numbers(root, spec)
        nb.start_watch(root, spec.watch)
        perform(nb, root, inter)
        ms = nb.finish_watch()
        settle(nb, root, spec.watch)
        after = readout_numbers(root, spec)
        res.log.append(f"{inter.kind} {inter.keys if inter.kind == 'key' else ''}: {ms} ms, {before} -> {after}")
        if inter.picture and ms is None:
            res.problems.append(f"interaction {i} ({inter.kind}) did not change the widget's picture")
        if inter.check is not None:
            msg = inter.check(before, after)
            if msg:
                res.problems.append(f"interaction {i} ({inter.kind}): {msg}")
        if inter.latency and ms is not None:
            res.latencies_ms.extend(measure_latency(nb, root, spec, inter, latency_presses))
    if name in DRAGS:
        res.drags = DRAGS[name].perform(nb.page, nb.lab, nb.page.locator(DRAGS[name].widget).first)
        res.log += [
            f"drag {d.what}: {d.frames} frames, {d.fps} fps, settled {d.settle_ms} ms after release, "
            f"moves accepted in {d.accepted_s} s, main thread busy {d.busy:.0%}"
            for d in res.drags
        ]
        res.problems += [f"dragging {d.what} painted no frame" for d in res.drags if d.frames == 0 and d.settle_ms == 0]
        res.log += [
            f"drag {d.what}: film in the page after {d.film_wait_s} s, {d.film_frames} film frames, "
            f"{d.positions} slider positions passed"
            for d in res.drags
            if d.film_wait_s is not None
        ]
        # a slider whose film reached the page plays it (lessonlib/ui/film.py): the film's canvas paints
        res.problems += [
            f"dragging {d.what}, whose film was in the page, painted no film frame"
            for d in res.drags
            if d.film_wait_s is not None and not d.film_frames
        ]
        res.log += [
            f"drag {d.what}: the film's last frame differs from the kernel's picture of the release in "
            f"{d.film_differs:.2%} of its 4 x 4 pixel blocks"
            for d in res.drags
            if d.film_differs is not None
        ]
        # what the hand saw last is what the kernel then draws: a film of another state (a stale film after a
        # Reset: 71% of blocks once) jumps on release. Measured 0-0.23% (anti-aliasing on edges) when right.
        res.problems += [
            f"dragging {d.what}: the film's last frame differs from the kernel's picture of the release in "
            f"{d.film_differs:.1%} of its pixel blocks (allowed: {FILM_DIFFERS_MAX:.0%})"
            for d in res.drags
            if d.film_differs is not None and d.film_differs > FILM_DIFFERS_MAX
        ]
    return res


def measure_latency(nb: NotebookPage, root, spec: Spec, inter: Interaction, n: int) -> list[float]:
    """Key press -> first frame with new pixels, n times, alternating ArrowRight / ArrowLeft."""
    handle = root.locator(".noUi-handle").nth(inter.control)
    handle.focus()
    out = []
    for i in range(n):
        nb.start_watch(root, spec.watch)
        nb.page.keyboard.press("ArrowLeft" if i % 2 else "ArrowRight")
        ms = nb.finish_watch()
        if ms is not None:
            out.append(ms)
        settle(nb, root, spec.watch, quiet_ms=150)
    return out
