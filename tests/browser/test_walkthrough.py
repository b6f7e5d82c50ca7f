"""A student's walk through every notebook in JupyterLab, in headless Chromium.

For each notebook: open it, Run All, wait until every cell ran and the kernel is idle, and check
that no error shows and every widget renders as a control (not as text). Then use its main widget
as a student would (arrow keys on a slider, a mouse drag, a drag on the figure) and check that the
picture changed and that the numbers it prints behave as the maths says (table in specs.py).
Key-press-to-new-pixels latencies go to benchmarks/results/browser_latency.json (not tracked:
every run rewrites it; `python3 course.py bench` copies it into its results).
On a failure, a screenshot of the page is saved and its path printed.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from browserlab import NotebookPage
from walk import walk

from conftest import FIXTURE_NOTEBOOK, ROOT

pytestmark = pytest.mark.browser

# Console errors that mean a learner sees something broken (an ipympl figure that cannot be drawn,
# a widget that failed to render, an uncaught exception in a widget's view).
SERIOUS_CONSOLE = re.compile(r"drawImage|broken|Uncaught|Could not create (a )?view|Error rendering|widget", re.I)

NOTEBOOKS = [p.name for p in sorted((ROOT / "notebooks").glob("*.ipynb"))]


@pytest.mark.parametrize("name", [FIXTURE_NOTEBOOK, *NOTEBOOKS])
def test_walkthrough(name, lab, page, latency_log):
    nb = NotebookPage(page, lab)
    try:
        nb.open(f"notebooks/{name}")
        seconds = nb.run_all()
        problems = nb.problems()
        assert not problems, f"{name} after Run All:\n" + "\n".join(problems)
        res = walk(nb, name)
        print(f"{name}: Run All {seconds:.1f} s; widget {res.found or '(none)'}; " + "; ".join(res.log))
        if res.latencies_ms:
            latency_log[name] = res.latencies_ms
        assert not res.problems, f"{name}, widget {res.found}:\n" + "\n".join(res.problems + ["log:", *res.log])
        serious = [c for c in nb.console if SERIOUS_CONSOLE.search(c)]
        assert not serious, f"{name}: the browser console reports broken widgets or figures:\n" + "\n".join(
            serious[:10]
        )
        if name == FIXTURE_NOTEBOOK:
            assert res.found and res.latencies_ms, "the fixture widget must be found and timed"
    except BaseException:
        shot = Path(tempfile.gettempdir()) / f"browser-failure-{Path(name).stem}.png"
        try:
            page.screenshot(path=str(shot), full_page=False)
            print(f"screenshot of the failure: {shot}")
        except Exception:
            pass
        if nb.console:
            print("browser console errors:\n" + "\n".join(nb.console[:20]))
        raise
