"""Fixtures of the browser walk-through: one JupyterLab on a copy of the course, one headless Chromium.

The server runs on 127.0.0.1 with its own config, runtime, settings and workspace folders, on a
temporary copy of notebooks/ (the repository's notebooks are never touched), and is stopped with
SIGTERM to its own pid at the end. Chromium is Debian's; when it cannot start, the tests FAIL with
the command that installs it (a skip would hide a browser test that never ran).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(HERE))

from browserlab import JupyterLab, chromium, copy_course  # noqa: E402

FIXTURE_NOTEBOOK = "browser_fixture.ipynb"
LATENCY_JSON = ROOT / "benchmarks" / "results" / "browser_latency.json"


def fixture_notebook() -> nbformat.NotebookNode:
    """A two-cell notebook with a tiny lesson widget: tests the machinery whatever the course holds."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.cells = [
        nbformat.v4.new_code_cell(
            "%matplotlib widget\nfrom lessonlib.ui.notebook import setup\nfrom fixture_widget import ScaleDemo\n\nsetup(seed=0)"
        ),
        nbformat.v4.new_code_cell("ScaleDemo()"),
    ]
    return nb


@pytest.fixture(scope="session")
def course_root():
    with tempfile.TemporaryDirectory(prefix="course-browser-") as tmp:
        root = copy_course(Path(tmp))
        (root / "notebooks" / "fixture_widget.py").write_text((HERE / "fixture_widget.py").read_text())
        nbformat.write(fixture_notebook(), root / "notebooks" / FIXTURE_NOTEBOOK)
        yield root


@pytest.fixture(scope="session")
def lab(course_root):
    server = JupyterLab(course_root)
    try:
        server.start()
    except RuntimeError as e:
        pytest.fail(f"JupyterLab did not start: {e}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    try:
        with chromium() as b:
            yield b
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
    p = context.new_page()
    yield p
    context.close()
    if "lab" in request.fixturenames:
        request.getfixturevalue("lab").shutdown_kernels()


@pytest.fixture(scope="session")
def latency_log():
    """notebook -> list of key-press-to-new-pixels latencies (ms); written to benchmarks/results at the end."""
    log: dict[str, list[float]] = {}
    yield log
    if not log or os.environ.get("COURSE_LAB_PYTHON"):  # another environment's server: not this course's numbers
        return
    old = json.loads(LATENCY_JSON.read_text()) if LATENCY_JSON.exists() else {}
    existing = {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
    data = {k: v for k, v in old.items() if k in existing}
    for name, times in sorted(log.items()):
        if name == FIXTURE_NOTEBOOK or not times:
            continue
        ts = sorted(times)
        data[name] = {
            "median_ms": round(statistics.median(ts), 1),
            "p90_ms": round(ts[min(len(ts) - 1, int(round(0.9 * (len(ts) - 1))))], 1),
            "n": len(ts),
        }
    LATENCY_JSON.parent.mkdir(parents=True, exist_ok=True)
    LATENCY_JSON.write_text(json.dumps(dict(sorted(data.items())), indent=2) + "\n")
