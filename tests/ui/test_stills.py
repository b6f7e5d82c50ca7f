"""Stills: what a saved notebook shows of a widget where no kernel runs (GitHub, nbviewer, nbconvert)."""

import base64
import io
from pathlib import Path

import matplotlib
import nbformat
import numpy as np
from PIL import Image

matplotlib.use("module://ipympl.backend_nbagg")

from lessonlib.ui.envcheck import widget_check  # noqa: E402
from lessonlib.ui.stills import WIDGET_VIEW, figure_png, final_bundle, still_bundle  # noqa: E402
from tests.ui.test_widgetkit import Demo  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def picture(b64: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGB"))


def test_a_lesson_widget_carries_a_still_of_its_figure_beside_its_view():
    d = Demo()
    data = d._repr_mimebundle_()
    assert data[WIDGET_VIEW]["model_id"] == d.root.model_id  # JupyterLab and Voila still show the live widget
    png = picture(data["image/png"])
    w, h = d.fig.bbox.size
    assert abs(png.shape[0] - h) <= 1 and abs(png.shape[1] - w) <= 1  # the figure, at its own resolution
    assert data["text/html"].startswith('<img src="data:image/png;base64,' + data["image/png"][:40])
    assert (png != 255).any(), "the still is blank"


def test_the_still_shows_the_widget_as_it_is_when_displayed():
    d = Demo()
    first = d._repr_mimebundle_()["image/png"]
    d.controls["slope"].value = -2.0
    assert d._repr_mimebundle_()["image/png"] != first


def test_figure_png_is_the_same_bytes_for_the_same_picture():
    d = Demo()
    assert figure_png(d.fig) == figure_png(d.fig)
    assert b"Software" not in figure_png(d.fig)


def test_still_bundle_escapes_its_alt_text():
    bundle = still_bundle(b"\x89PNG", 'a "quoted" <b>alt</b>')
    assert "&quot;quoted&quot; &lt;b&gt;" in bundle["text/html"]


def test_the_environment_check_widget_has_a_drawn_still_of_its_slider():
    check = widget_check()
    data = check._repr_mimebundle_()
    assert WIDGET_VIEW in data and "<img" in data["text/html"]
    assert picture(data["image/png"]).shape[0] > 40
    assert "at 3" in data["text/html"]
    check.slider.value = 7
    assert "twice that is <b>14</b>" in check.label.value
    assert check._repr_mimebundle_()["image/png"] != data["image/png"]


def test_a_live_figure_is_finalised_with_its_current_picture():
    d = Demo()
    before = final_bundle(d.fig.canvas)
    d.controls["slope"].value = -2.0
    after = final_bundle(d.fig.canvas)
    assert before[WIDGET_VIEW]["model_id"] == d.fig.canvas.model_id
    assert before["image/png"] != after["image/png"]


def test_a_progress_bar_is_finalised_with_its_last_text():
    from tqdm.notebook import tqdm

    bar = tqdm(total=40, desc="training", unit="step", display=False)
    bar.update(40)
    bar.set_postfix(nll="1.234")
    bar.close()
    text = final_bundle(bar.container)["text/plain"]
    assert text.startswith("training: 100%|██████████| 40/40") and "nll=1.234" in text


def run(cells: list[str]) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    return nb


def test_a_saved_notebook_keeps_the_final_state_of_training_figures_and_progress_bars():
    """Executed as `course.py regenerate` does (nbclient): the stored outputs are the re-sent, final ones."""
    nb = run(
        [
            "%matplotlib widget\nfrom lessonlib.ui.notebook import setup\nsetup(seed=0)",
            "from IPython.display import display\nfrom lessonlib.ui.stills import keep_final\nfrom lessonlib.ui.widgetkit import new_figure\n"
            "fig, ax = new_figure()\nline, = ax.plot([0, 1], [0, 0], lw=8, color='k')\nax.set_ylim(-1, 1)\nax.set_axis_off()\n"
            "display(keep_final(fig.canvas))\nline.set_ydata([0.9, 0.9])  # training moves it after it is shown",
            "from tqdm.auto import tqdm\nfor _ in tqdm(range(30), desc='training'):\n    pass\nline.set_ydata([-0.9, -0.9])",
        ]
    )
    (canvas_out,) = nb.cells[1].outputs
    (bar_out,) = nb.cells[2].outputs
    assert "100%" in bar_out.data["text/plain"] and "30/30" in bar_out.data["text/plain"]
    png = picture(canvas_out.data["image/png"]).sum(axis=2)
    h = png.shape[0]
    dark = lambda rows: bool((rows < 200).any())  # noqa: E731
    # where the line was when its cell ended (near the top), not where it started (the middle) nor
    # where a later cell put it (near the bottom)
    assert dark(png[: h // 5]) and not dark(png[2 * h // 5 : 3 * h // 5]) and not dark(png[4 * h // 5 :])
