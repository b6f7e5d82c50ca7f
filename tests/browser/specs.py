"""What the walk-through does with each notebook's main widget: a table, easy to extend.

For a notebook, ``SPECS`` names the main widget (a CSS selector; the course's widgets carry
``.lesson-widget-<ClassName>``), the interactions to perform, and a check on the numbers the
widget's readout shows before and after each interaction, as the maths says they must behave.
A notebook without an entry still runs: its first ``.lesson-widget`` (or first slider) gets the
generic interactions (ArrowRight on the first slider, a mouse drag on it) and must change its
picture.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

NUMBER = re.compile(r"(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)")


def numbers_in(text: str) -> dict[str, float]:
    """'name = 1.23, other: 4' -> {'name': 1.23, 'other': 4.0}; unnamed numbers get keys '#0', '#1', ..."""
    out: dict[str, float] = {}
    for i, m in enumerate(re.finditer(r"([A-Za-z_][\w ()|\[\]'^-]*?)\s*[=:≈]\s*" + NUMBER.pattern, text)):
        out[m.group(1).strip()] = float(m.group(2))
    if not out:
        for i, m in enumerate(NUMBER.finditer(text)):
            out[f"#{i}"] = float(m.group(1))
    return out


Check = Callable[[dict[str, float], dict[str, float]], "str | None"]


@dataclass(frozen=True)
class Interaction:
    """One thing a student does. kind: 'key' (press ``keys`` on slider number ``control``),
    'drag_slider' (drag that slider's handle by ``dx`` pixels), 'drag_canvas' (drag on the figure from
    fractions ``start`` to ``end`` of its size). ``picture``: the figure must change."""

    kind: str
    control: int = 0
    keys: tuple[str, ...] = ("ArrowRight",)
    dx: float = 60.0
    start: tuple[float, float] = (0.5, 0.5)
    end: tuple[float, float] = (0.6, 0.5)
    picture: bool = True
    check: Check | None = None
    latency: bool = False  # measure key press -> new pixels for this interaction


@dataclass(frozen=True)
class Spec:
    widget: str  # CSS selector of the main widget's root
    interactions: tuple[Interaction, ...]
    watch: str = "pixels"  # what "the picture changed" means: 'pixels' (its canvases) or a CSS selector of text the kernel updates
    readout: str = ".lesson-readout"
    notes: str = ""


def changed(before: dict[str, float], after: dict[str, float]) -> str | None:
    return None if before != after else f"the readout did not change: {after}"


def equal_pair(a: str, b: str, tol: float = 2e-3) -> Check:
    """The readout's numbers ``a`` and ``b`` are equal after the interaction."""

    def check(before: dict[str, float], after: dict[str, float]) -> str | None:
        if a not in after or b not in after:
            return f"readout lacks {a!r} or {b!r}: {after}"
        if abs(after[a] - after[b]) > tol * max(1.0, abs(after[a])):
            return f"{a} = {after[a]} and {b} = {after[b]} should be equal"
        return None

    return check


def approx(name: str, want: float, tol: float = 2e-3) -> Check:
    def check(before: dict[str, float], after: dict[str, float]) -> str | None:
        got = after.get(name)
        return None if got is not None and abs(got - want) <= tol else f"{name} should stay {want}, reads {got}"

    return check


def both(*checks: Check) -> Check:
    def check(before: dict[str, float], after: dict[str, float]) -> str | None:
        for c in checks:
            msg = c(before, after)
            if msg:
                return msg
        return None

    return check


def twice_value(before: dict[str, float], after: dict[str, float]) -> str | None:
    """00's check widget: 'The slider is at n; twice that is 2n' -> #1 == 2 * #0, and n moved."""
    n, twice = after.get("#0"), after.get("#1")
    if n is None or twice != 2 * n:
        return f"expected 'twice' = 2 x slider value, read {after}"
    return changed(before, after)


GENERIC = (
    Interaction("key", keys=("ArrowRight",), latency=True),
    Interaction("drag_slider", dx=-80.0),
)

SPECS: dict[str, Spec] = {
    "00_start_here.ipynb": Spec(
        widget=".jp-OutputArea-output:has(.widget-slider)",
        readout=".widget-html-content",
        watch=".widget-html-content",  # the slider's own number moves without the kernel; the sentence needs it
        interactions=(
            Interaction("key", keys=("ArrowRight",), check=twice_value, latency=True),
            Interaction("drag_slider", dx=80.0, check=twice_value),
            Interaction("key", keys=("ArrowLeft",), check=twice_value),
        ),
        notes="the set-up check: a slider and a sentence that doubles its value",
    ),
    "browser_fixture.ipynb": Spec(
        widget=".lesson-widget-ScaleDemo",
        interactions=(
            Interaction("key", keys=("ArrowRight",), check=both(changed, approx("mass", 1.0)), latency=True),
            Interaction("drag_slider", dx=90.0, check=both(changed, approx("mass", 1.0))),
            Interaction("key", keys=("ArrowLeft", "ArrowLeft"), check=both(changed, approx("mass", 1.0))),
        ),
        notes="fixture for the machinery: x = a z keeps the mass 1",
    ),
}
