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
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import present  # noqa: E402

pytestmark = pytest.mark.browser

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def widget_cells(path: Path) -> int:
    return sum(present.shows_widget(c) for c in json.loads(path.read_text(encoding="utf-8"))["cells"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_every_widget_slide_fits_1280x720(path, browser):
    with present.slides_server(path, quiet=True) as (url, _):
        page = browser.new_page(viewport=dict(zip(("width", "height"), present.SLIDE_SIZE)))
        asked = []
        page.on("request", lambda r: asked.append(r.url))
        try:
            page.goto(url, timeout=300_000)
            fits = present.widget_slides_fit(page)
        finally:
            page.close()
    elsewhere = sorted(
        {
            u
            for u in asked
            if urlsplit(u).scheme in ("http", "https", "ws", "wss")
            and urlsplit(u).hostname not in ("127.0.0.1", "localhost")
        }
    )
    assert not elsewhere, f"{path.name}: the slides asked the network (presenting must work offline): {elsewhere}"
    if widget_cells(path):
        assert fits, f"{path.name} shows widgets, but no slide with a widget was found"
    bad = {where: problems for where, problems in fits.items() if problems}
    assert not bad, f"{path.name}: slides that do not fit {present.SLIDE_SIZE}:\n" + "\n".join(
        f"  {where}: " + "; ".join(p) for where, p in bad.items()
    )


_SLIDE_BOX_JS = """() => { const b = document.querySelector('.reveal section.present:not(.stack)').getBoundingClientRect();
    return [b.top, b.height]; }"""


def test_a_slide_whose_widget_changes_size_after_it_was_shown_is_centred_again(browser):
    """Reveal centres a slide when it is shown; a widget that rendered later (the kernel still running the
    notebook) left the slide off-centre, running past the bottom of the screen until the next slide change.
    The slides' own script (tools/slides.js) lays them out again when a slide's content changes size: here
    the widget's figure is hidden after the slide was shown, and the slide must be centred again."""
    path = ROOT / "notebooks" / "01_change_of_variables_1d.ipynb"
    with present.slides_server(path, quiet=True) as (url, _):
        page = browser.new_page(viewport=dict(zip(("width", "height"), present.SLIDE_SIZE)))
        try:
            page.goto(url, timeout=300_000)
            assert present.go_to_first_widget(page)
            top0, height0 = page.evaluate(_SLIDE_BOX_JS)
            page.evaluate("""() => document.querySelector('.reveal section.present:not(.stack) .jupyter-matplotlib')
                .style.display = 'none'""")
            page.wait_for_function(f"() => ({_SLIDE_BOX_JS})()[0] > {top0} + 50", timeout=5_000)
            page.wait_for_timeout(300)
            top1, height1 = page.evaluate(_SLIDE_BOX_JS)
        finally:
            page.close()
    assert height0 - height1 > 100, f"hiding the figure shrank the slide by {height0 - height1:.0f} px only"
    assert top1 - top0 == pytest.approx((height0 - height1) / 2, abs=3), (
        f"the slide shrank by {height0 - height1:.0f} px and moved down {top1 - top0:.0f} px; centred, it moves half"
    )


def test_a_widget_gets_a_subslide_of_its_own():
    """The slide copy moves a widget, and what followed it on its slide, onto subslides of their own."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    view = {"application/vnd.jupyter.widget-view+json": {"model_id": "0" * 32, "version_major": 2, "version_minor": 0}}
    cells = [
        nbformat.v4.new_markdown_cell("## A section"),
        nbformat.v4.new_code_cell("w"),
        nbformat.v4.new_markdown_cell("solution", metadata={"slideshow": {"slide_type": "skip"}}),
        nbformat.v4.new_markdown_cell("what to try"),
        nbformat.v4.new_markdown_cell("more"),
    ]
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
