"""Cost per student: each notebook's kernel memory and CPU for Run All, and the JupyterLab server's own memory.

    python -m benchmarks.kernel_cost [NOTEBOOK_PREFIX ...]   prints one JSON line per notebook, then one for the server

A real JupyterLab serves a temporary copy of the course, and headless Chromium opens the notebooks
one after another in tabs that stay open, as a student who works through the course does (JupyterLab
keeps a notebook's kernel running until it is shut down). In each tab: Run > Run All Cells, waiting
until every cell ran and every widget rendered. Measured with psutil, from outside the processes:

- per notebook (``"kind": "kernel"``): the kernel's peak memory, the larger of its own high-water
  mark (VmHWM, exact) and the largest resident set of the kernel plus its child processes sampled
  every 50 ms; its resident memory once Run All is done (what an open notebook keeps); its CPU
  seconds (its children's included) while it started, and during Run All;
- the server (``"kind": "server"``): the JupyterLab server process alone (kernels are its children
  and are counted above), before any notebook was opened and after each one, and its high-water mark.

``report_cost`` turns these rows into the instructors' table: per-student limits and the students a
hub node serves, with the assumptions it states.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from browserlab import JupyterLab, NotebookPage, chromium, copy_course  # noqa: E402

MB = 1024 * 1024
SAMPLE_S = 0.05


def tree_rss(proc: psutil.Process) -> int:
    """Resident bytes of ``proc`` and every process below it; a process that ended meanwhile counts 0."""
    total = 0
    try:
        family = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for p in family:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def high_water_mark(pid: int) -> int:
    """The peak resident bytes of one process over its life (Linux VmHWM); 0 where /proc does not say."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class PeakSampler:
    """The largest ``tree_rss(proc)`` seen while the ``with`` block runs, sampled every SAMPLE_S seconds."""

    def __init__(self, proc: psutil.Process) -> None:
        self.proc, self.peak = proc, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            self.peak = max(self.peak, tree_rss(self.proc))
            if self._stop.wait(SAMPLE_S):
                return

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss(self.proc))


def kernel_processes(server: psutil.Process) -> dict[str, psutil.Process]:
    """kernel id -> process, among the server's children (ipykernel starts with ``-f .../kernel-<id>.json``)."""
    found = {}
    for child in server.children():
        try:
            args = child.cmdline()
        except psutil.NoSuchProcess:
            continue
        for arg in args:
            name = Path(arg).name
            if name.startswith("kernel-") and name.endswith(".json"):
                found[name[len("kernel-") : -len(".json")]] = child
    return found


def cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system + t.children_user + t.children_system


def measure_notebook(nb: NotebookPage, server: psutil.Process, name: str) -> dict:
    """Open ``name`` in its tab, Run All, and measure its kernel (a row of ``"kind": "kernel"``)."""
    before = set(kernel_processes(server))
    nb.open(f"notebooks/{name}")
    new = [p for k, p in kernel_processes(server).items() if k not in before]
    if len(new) != 1:
        raise RuntimeError(f"{name}: expected one new kernel, found {len(new)}")
    kernel = new[0]
    start_cpu = cpu_seconds(kernel)
    with PeakSampler(kernel) as sampler:
        run_all_s = nb.run_all()
    problems = nb.problems()
    return {
        "kind": "kernel",
        "notebook": name,
        "status": "failed" if problems else "ok",
        "problems": problems[:5],
        "run_all_s": round(run_all_s, 2),
        "start_cpu_s": round(start_cpu, 2),
        "kernel_cpu_s": round(cpu_seconds(kernel) - start_cpu, 2),
        "peak_rss_mb": round(max(sampler.peak, high_water_mark(kernel.pid)) / MB, 1),
        "idle_rss_mb": round(tree_rss(kernel) / MB, 1),
        "server_rss_mb": round(server.memory_info().rss / MB, 1),
    }


def measure(notebooks: list[Path]) -> list[dict]:
    """Every notebook in its own tab of one JupyterLab, tabs left open; then the server's row."""
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="course-cost-") as tmp:
        root = copy_course(Path(tmp), notebooks)
        with JupyterLab(root) as lab, chromium() as browser:
            server = psutil.Process(lab.proc.pid)
            idle_mb = server.memory_info().rss / MB
            context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
            for path in notebooks:
                row = measure_notebook(NotebookPage(context.new_page(), lab), server, path.name)
                print(json.dumps(row), flush=True)
                rows.append(row)
            kernels = kernel_processes(server).values()
            rows.append(
                {
                    "kind": "server",
                    "notebooks_open": len(notebooks),
                    "idle_rss_mb": round(idle_mb, 1),
                    "open_rss_mb": round(server.memory_info().rss / MB, 1),
                    "peak_rss_mb": round(high_water_mark(server.pid) / MB, 1),
                    "kernels_rss_mb": round(sum(tree_rss(k) for k in kernels) / MB, 1),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
            context.close()
    return rows


def main(argv: list[str]) -> int:
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if argv:
        notebooks = [p for p in notebooks if any(p.name.startswith(a) for a in argv)]
    measure(notebooks)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
