"""Refresh docs/screenshots/: each notebook's main widget, as JupyterLab in Chromium shows it after Run All.

    python3 course.py screenshots            every notebook
    python3 course.py screenshots 01 02      some of them

Runs on a temporary copy of the notebooks (the repository's files are not touched), in the normal
(not presenter) style, and uses the same widget table as the browser test (tests/browser/specs.py).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from browserlab import JupyterLab, NotebookPage, chromium, copy_course  # noqa: E402
from walk import find_widget, settle  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def main(args: list[str]) -> int:
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if args:
        notebooks = [p for p in notebooks if any(p.name.startswith(a) for a in args)]
    OUT.mkdir(parents=True, exist_ok=True)
    failed = 0
    with tempfile.TemporaryDirectory(prefix="course-shots-") as tmp:
        root = copy_course(Path(tmp), notebooks)
        with JupyterLab(root) as lab, chromium() as browser:
            for path in notebooks:
                context = browser.new_context(viewport={"width": 1280, "height": 1000}, device_scale_factor=1)
                nb = NotebookPage(context.new_page(), lab)
                try:
                    nb.open(f"notebooks/{path.name}")
                    nb.run_all()
                    widget, spec = find_widget(nb, path.name)
                    if widget is None:
                        print(f"{path.name}: no widget to photograph", flush=True)
                        continue
                    widget.scroll_into_view_if_needed()
                    settle(nb, widget, spec.watch)
                    png = OUT / f"{path.stem}.png"
                    widget.screenshot(path=str(png))
                    print(f"{path.name}: {png.relative_to(ROOT)}", flush=True)
                except Exception as e:  # one broken notebook must not stop the others
                    failed += 1
                    print(f"{path.name}: FAILED ({type(e).__name__}: {str(e).splitlines()[0]})", flush=True)
                finally:
                    context.close()
                    lab.shutdown_kernels()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
