"""A stored notebook reads well before it runs: rendered without a kernel (nbconvert to HTML, as nbviewer
does; GitHub and VS Code pick from the same outputs), every widget output shows a picture, never its text
repr, and every progress bar shows where it ended."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat
import pytest
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
METER = re.compile(r"(\d+)%\|.*?\| *(\d+)/(\d+)")  # tqdm's 'training: 100%|####| 300/300 [...]'


def widget_outputs(nb: nbformat.NotebookNode) -> list[tuple[int, nbformat.NotebookNode]]:
    return [
        (i, o)
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code"
        for o in c.outputs
        if WIDGET_VIEW in o.get("data", {})
    ]


def rendered_output(nb: nbformat.NotebookNode, output: nbformat.NotebookNode) -> str:
    """The HTML nbconvert writes for one output (the notebook's metadata kept: no widget state, as stored)."""
    one = copy.deepcopy(nb)
    cell = nbformat.v4.new_code_cell("", outputs=[output], execution_count=1)
    one.cells = [cell]
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(one)
    area = body[body.index('class="jp-OutputArea jp-Cell-outputArea"') :]
    return area[: area.index("</main>")] if "</main>" in area else area


def is_progress_bar(output: nbformat.NotebookNode) -> bool:
    return bool(METER.search("".join(output.data.get("text/plain", ""))))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_every_widget_output_renders_as_a_picture_without_a_kernel(path):
    nb = nbformat.read(path, as_version=4)
    assert "widgets" not in nb.metadata  # no saved widget state: renderers must use the still
    problems = []
    for i, out in widget_outputs(nb):
        html = rendered_output(nb, out)
        if is_progress_bar(out):
            continue  # its text is its still; checked below
        if not re.search(r'<img [^>]*src=["\']data:image/png;base64,[A-Za-z0-9+/]{100}', html):
            problems.append(
                f"cell {i}: a widget output renders with no picture: {re.sub(r'<[^>]+>', ' ', html)[:120].split()}"
            )
        if re.search(r"\b(VBox|HBox|Canvas)\(children=", html):
            problems.append(f"cell {i}: a widget output renders as its text repr")
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_progress_bars_are_stored_finished(path):
    nb = nbformat.read(path, as_version=4)
    for i, out in widget_outputs(nb):
        text = "".join(out.data.get("text/plain", ""))
        m = METER.search(text)
        if m:
            percent, done, total = map(int, m.groups())
            assert percent == 100 and done == total, f"{path.name}, cell {i}: a progress bar stored at {text!r}"


def test_the_render_check_fails_on_a_widget_with_no_still():
    """The check above can fail: a bare widget output (what the notebooks stored before stills) is caught."""
    nb = nbformat.v4.new_notebook()
    bare = nbformat.v4.new_output(
        "display_data",
        data={
            "text/plain": "VBox(children=(FloatSlider(value=1.0),))",
            WIDGET_VIEW: {"version_major": 2, "version_minor": 0, "model_id": "0" * 32},
        },
    )
    html = rendered_output(nb, bare)
    assert "<img" not in html and "VBox(children=" in html
    stuck = nbformat.v4.new_output(
        "display_data", data={"text/plain": "training:   0%|          | 0/300 [00:00<?, ?step/s]"}
    )
    assert METER.search(stuck.data["text/plain"]).groups() == ("0", "0", "300")
