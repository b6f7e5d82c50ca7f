"""Slides follow the lesson: every section heading starts a slide, and solutions never show in slides.

Slide structure lives in each cell's ``metadata.slideshow.slide_type`` ("slide", "subslide",
"fragment", "skip", "notes" or "-"). Voila's reveal template and JupyterLab's slide tools read it.
No browser needed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SLIDE_TYPES = {"slide", "subslide", "fragment", "skip", "notes", "-"}
HEADING = re.compile(r"^\s*(#{1,2})\s+\S")


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def slide_type(cell: dict) -> str | None:
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type")


def first_line(cell: dict) -> str:
    src = "".join(cell["source"]).strip()
    return src.splitlines()[0] if src else ""


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_sections_start_slides(path):
    cs = cells(path)
    assert slide_type(cs[0]) == "slide", f"{path.name}: the first cell (the title) must be a 'slide'"
    missing = [
        f"cell {i}: {first_line(c)[:60]!r} has slide_type {slide_type(c)!r}"
        for i, c in enumerate(cs)
        if c["cell_type"] == "markdown" and HEADING.match(first_line(c)) and slide_type(c) not in ("slide", "subslide")
    ]
    assert not missing, (
        f"{path.name}: every '#' or '##' heading must start a slide or subslide "
        "(set metadata.slideshow.slide_type):\n" + "\n".join(missing)
    )
    n_slides = sum(slide_type(c) == "slide" for c in cs)
    assert n_slides >= 2, f"{path.name}: only {n_slides} slide(s); the sections should be slides"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_solutions_are_skipped_in_slides(path):
    cs = cells(path)
    shown = [
        i for i, c in enumerate(cs) if "solution" in c.get("metadata", {}).get("tags", []) and slide_type(c) != "skip"
    ]
    assert not shown, f"{path.name}: solution cells {shown} would show in slides; give them slide_type 'skip'"
    folded = [
        i
        for i, c in enumerate(cs)
        if "solution" in c.get("metadata", {}).get("tags", [])
        and not c.get("metadata", {}).get("jupyter", {}).get("source_hidden")
    ]
    assert not folded, f"{path.name}: solution cells {folded} are not folded (metadata.jupyter.source_hidden)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_slide_types_are_valid(path):
    bad = [
        (i, slide_type(c))
        for i, c in enumerate(cells(path))
        if slide_type(c) is not None and slide_type(c) not in SLIDE_TYPES
    ]
    assert not bad, f"{path.name}: unknown slide types {bad}"
