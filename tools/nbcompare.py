"""How a re-executed notebook cell is compared with its stored outputs: exactly, or with a tolerance.

Two kinds of cell:

* **exact** (the default): closed-form maths and deterministic code on fixed inputs. Every output,
  figures included, must come back byte for byte, on any CPU.
* **approx** (cell tag ``approx``): anything downstream of training, of sampling a trained model, or of
  reductions whose last bits depend on the CPU. Outputs must have the same kinds (a figure is still a
  figure), text must have the same words, and every number must agree with the stored one within the
  cell's tolerance: |new - stored| <= atol + rtol * |stored|. The defaults below can be changed per cell
  with metadata ``{"approx": {"rtol": ..., "atol": ...}}``. Figures are not byte-compared. What the
  text claims about such numbers is kept by the notebook's own ``claim(...)`` asserts.

Used by the root conftest.py (strict nbval with approx cells) and by tools/spread.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

APPROX_TAG = "approx"
DEFAULT_RTOL = 0.25
DEFAULT_ATOL = 0.05

#: Output fields that never carry content to compare (nbval skips them too; widget model ids are random).
SKIPPED = {
    "metadata",
    "traceback",
    "prompt_number",
    "output_type",
    "execution_count",
    "name",
    "application/vnd.jupyter.widget-view+json",
}
#: Output fields that an approx cell must still produce, but whose bytes are not compared.
PICTURES = {"image/png", "image/jpeg", "image/svg+xml"}

NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_DATA_URI = re.compile(r"data:image/[a-z+]+;base64,[A-Za-z0-9+/=\n]+")


def is_approx(cell: Any) -> bool:
    """True when the cell is tagged ``approx``."""
    return APPROX_TAG in cell.get("metadata", {}).get("tags", [])


def tolerance(cell: Any) -> tuple[float, float]:
    """(rtol, atol) of an approx cell: its metadata, else the defaults."""
    meta = cell.get("metadata", {}).get("approx", {}) or {}
    return float(meta.get("rtol", DEFAULT_RTOL)), float(meta.get("atol", DEFAULT_ATOL))


def flatten(outputs: Iterable[Any]) -> dict[str, list[Any]]:
    """Outputs as {field: [values in order]}: stream text under 'stdout'/'stderr', data under its MIME type.

    A stream is one text however many messages it came in (a busy kernel may send one print in two), as
    nbval coalesces them."""
    flat: dict[str, list[Any]] = {}
    for out in outputs:
        if out.get("output_type") == "stream":
            texts = flat.setdefault(out["name"], [""])
            texts[0] += as_text(out.get("text", ""))
            continue
        for key, value in out.items():
            if key == "data":
                for mime, v in value.items():
                    if mime not in SKIPPED:
                        flat.setdefault(mime, []).append(v)
            elif key not in SKIPPED:
                flat.setdefault(key, []).append(value)
    return flat


def as_text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _words(text: str) -> list[str]:
    """The text between numbers, with white space folded: a column of numbers realigns when a sign or a
    digit count changes, and that is not a change of words."""
    return [" ".join(part.split()) for part in NUMBER.split(text)]


def numbers_differ(stored: str, new: str, rtol: float, atol: float) -> str | None:
    """None when ``new`` reads like ``stored`` up to its numbers, within tolerance; else the first difference."""
    stored, new = _DATA_URI.sub("data:image", stored), _DATA_URI.sub("data:image", new)
    words_s, words_n = _words(stored), _words(new)
    if words_s != words_n:
        for a, b in zip(stored.splitlines(), new.splitlines()):
            if _words(a) != _words(b):
                return f"the text differs beyond its numbers:\n  stored: {a}\n  new:    {b}"
        return f"the text differs beyond its numbers (stored {len(stored)} characters, new {len(new)})"
    for a, b in zip(NUMBER.findall(stored), NUMBER.findall(new)):
        x, y = float(a), float(b)
        if abs(y - x) > atol + rtol * abs(x):
            return f"the number {b} is not within rtol={rtol:g}, atol={atol:g} of the stored {a}"
    return None


def compare_approx(stored: Iterable[Any], new: Iterable[Any], rtol: float, atol: float) -> list[str]:
    """Problems found comparing an approx cell's new outputs with its stored ones (empty: they agree)."""
    s, n = flatten(stored), flatten(new)
    if set(s) != set(n):
        return [f"the cell now outputs {sorted(n)}, the stored notebook has {sorted(s)}"]
    problems = []
    for key, values in s.items():
        if len(values) != len(n[key]):
            problems.append(f"{len(n[key])} outputs of kind {key}, the stored notebook has {len(values)}")
        elif key not in PICTURES:
            for a, b in zip(values, n[key]):
                why = numbers_differ(as_text(a), as_text(b), rtol, atol)
                if why:
                    problems.append(f"{key}: {why}")
    return problems


def compare_exact(stored: Iterable[Any], new: Iterable[Any]) -> list[str]:
    """Problems found comparing an exact cell's outputs byte for byte, figures included."""
    s, n = flatten(stored), flatten(new)
    if set(s) != set(n):
        return [f"the cell now outputs {sorted(n)}, the stored notebook has {sorted(s)}"]
    problems = []
    for key, values in s.items():
        old, now = "".join(as_text(v) for v in values), "".join(as_text(v) for v in n[key])
        if old != now:
            problems.append(f"{key} differs from the stored output{_first_difference(old, now)}")
    return problems


def _first_difference(old: str, new: str) -> str:
    if old.startswith("iVBOR") or len(old.splitlines()) == 1 and len(old) > 2000:
        return ""  # a picture: no line worth showing
    for a, b in zip(old.splitlines(), new.splitlines()):
        if a != b:
            return f":\n  stored: {a[:300]}\n  new:    {b[:300]}"
    return f" (stored {len(old)} characters, new {len(new)})"
