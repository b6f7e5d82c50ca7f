"""Presenting: every slide that shows a widget fits 1280x720 without scrolling.

Each notebook is served as `python3 course.py present NN` serves it (Voila, reveal, presenter style) and
opened in headless Chromium at 1280x720; on every slide that holds a widget (a lesson widget, a training
figure, a progress bar, with all its fragments shown) nothing may end below or right of the slide, and
the slide may not scroll.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import present  # noqa: E402
from browserlab import chromium  # noqa: E402

pytestmark = pytest.mark.browser

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def widget_cells(path: Path) -> int:
    return sum(present.shows_widget(c) for c in json.loads(path.read_text(encoding="utf-8"))["cells"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_every_widget_slide_fits_1280x720(path, browser):
    with present.slides_server(path, quiet=True) as (url, _):
        page = browser.new_page(viewport=dict(zip(("width", "height"), present.SLIDE_SIZE)))
        try:
            page.goto(url, timeout=300_000)
            fits = present.widget_slides_fit(page)
        finally:
            page.close()
    if widget_cells(path):
        assert fits, f"{path.name} shows widgets, but no slide with a widget was found"
    bad = {where: problems for where, problems in fits.items() if problems}
    assert not bad, f"{path.name}: slides that do not fit {present.SLIDE_SIZE}:\n" + "\n".join(
        f"  {where}: " + "; ".join(p) for where, p in bad.items())


def test_a_widget_gets_a_subslide_of_its_own():
    """The slide copy moves a widget, and what followed it on its slide, onto subslides of their own."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    view = {"application/vnd.jupyter.widget-view+json": {"model_id": "0" * 32, "version_major": 2, "version_minor": 0}}
    cells = [nbformat.v4.new_markdown_cell("## A section"), nbformat.v4.new_code_cell("w"),
             nbformat.v4.new_markdown_cell("solution", metadata={"slideshow": {"slide_type": "skip"}}),
             nbformat.v4.new_markdown_cell("what to try"), nbformat.v4.new_markdown_cell("more")]
    cells[0].metadata["slideshow"] = {"slide_type": "slide"}
    cells[1].metadata["slideshow"] = {"slide_type": "fragment"}
    cells[1].outputs = [nbformat.v4.new_output("display_data", data=view)]
    nb.cells = cells
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src.ipynb"
        nbformat.write(nb, src)
        (Path(tmp) / "out").mkdir()
        copy = json.loads(present.slide_copy(src, Path(tmp) / "out").read_text())
    kinds = [c["metadata"].get("slideshow", {}).get("slide_type") for c in copy["cells"]]
    assert kinds == ["slide", "subslide", "skip", "subslide", None]
