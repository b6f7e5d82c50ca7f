"""Time to execute each notebook from a fresh kernel, top to bottom, as a learner's "Run All" does.

    python -m benchmarks.course_timing          prints one JSON line per notebook in notebooks/

Runs whatever notebooks exist. Nothing is written back: outputs stay as stored. Besides the wall
clock, the CPU time of the kernel process is recorded (from the operating system's accounting
of finished child processes), which stays meaningful when other programs load the machine.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def time_notebook(path: Path, timeout: int = 300) -> dict:
    nb = nbformat.read(path, as_version=4)
    row: dict = {"notebook": path.name, "cells": sum(c.cell_type == "code" for c in nb.cells)}
    c0, t0 = _children_cpu(), time.perf_counter()
    try:
        NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            record_timing=False,
            resources={"metadata": {"path": str(path.parent)}},
        ).execute()
        row["status"] = "ok"
    except Exception as e:  # a failing notebook is reported, and the others are still timed
        row["status"] = "failed"
        row["error"] = f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}"[:300]
    row["seconds"] = time.perf_counter() - t0
    row["kernel_cpu_s"] = _children_cpu() - c0
    return row


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for p in paths:
        print(json.dumps(time_notebook(p)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
