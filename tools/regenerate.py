"""Re-execute notebooks in place (fresh kernel, top to bottom) and drop volatile metadata.

    python3 course.py regenerate                 every notebook
    python3 course.py regenerate notebooks/01*   some of them

Outputs and execution counts are kept, so strict nbval has something to compare; cell timings
and saved widget state are removed so that re-running does not change the file needlessly. The
metadata records what the outputs were computed from (tools/fingerprint.py), so a test can tell
when a notebook needs regenerating without re-executing it bit for bit.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nbformat
from fingerprint import stamp
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


def clean(nb: nbformat.NotebookNode) -> None:
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("ExecuteTime", None)


def regenerate(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    t0 = time.perf_counter()
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    clean(nb)
    stamp(nb)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return time.perf_counter() - t0


def main(args: list[str]) -> int:
    paths = [Path(a).resolve() for a in args] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for p in paths:
        secs = regenerate(p)
        print(f"regenerated {p.name} in {secs:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
