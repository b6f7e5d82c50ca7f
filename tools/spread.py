"""Run the notebooks as other CPUs would compute them, and report how far each result moves.

    python3 course.py spread                       every notebook, every setting
    python3 course.py spread notebooks/05*         some notebooks
    python3 course.py spread --settings native,aten-default

Each setting starts a fresh kernel with environment variables that change how torch and numpy pick
their kernels (instruction sets, MKL code paths, thread counts), the way a student's laptop or an
instructor's CI machine would. For every notebook and setting it reports:

* **claims**: every ``lessonlib.claims.claim(...)`` the notebook makes, with the smallest and largest
  value seen and its bounds. A bound should sit well outside the spread; a claim whose spread comes
  near its bound needs a wider bound, a weaker sentence, or a steadier experiment.
* **approx cells**: the largest move of any number, against the stored output and its tolerance.
* **exact cells that moved**: a portability bug. Exact cells are compared byte for byte on every
  machine; a cell that moves belongs in an approx cell (tag it ``approx``) or should print something
  that does not depend on the last bits.

Nothing is written to the notebooks.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbcompare
import nbformat

ROOT = Path(__file__).resolve().parent.parent

#: name -> environment variables that make this machine compute as another would.
SETTINGS: dict[str, dict[str, str]] = {
    "native": {},
    "aten-default": {"ATEN_CPU_CAPABILITY": "default"},
    "mkl-avx2": {"MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "mkl-sse4_2": {"MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
    "mkl-compatible": {"MKL_CBWR": "COMPATIBLE"},
    "numpy-baseline": {"NPY_DISABLE_CPU_FEATURES": "X86_V3"},
    "no-avx2": {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE", "NPY_DISABLE_CPU_FEATURES": "X86_V3"},
    "two-threads": {"LESSONLIB_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"},  # passive: no spinning on a busy machine
}


def execute(path: Path, out: Path) -> None:
    """Worker: run one notebook in a fresh kernel (this process's environment) and save outputs and claims."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    log = out.with_suffix(".claims")
    os.environ["LESSONLIB_CLAIMS_LOG"] = str(log)
    nb = nbformat.read(path, as_version=4)
    error = None
    try:
        NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        ).execute()
    except CellExecutionError as e:
        error = _error_summary(str(e))
    claims = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    cells = [c.get("outputs", []) if c.cell_type == "code" else None for c in nb.cells]
    out.write_text(json.dumps({"cells": cells, "claims": claims, "error": error}))


def _error_summary(text: str) -> str:
    """The failing line of a cell and the exception, from nbclient's report (colour codes removed)."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).rstrip() for line in text.splitlines()]
    failing = [line.strip() for line in lines if line.lstrip().startswith("---->")]
    return " | ".join([*failing[-1:], *[line for line in lines if line.strip()][-1:]])


def _run(setting: str, path: Path, folder: Path) -> tuple[str, Path, dict]:
    out = folder / f"{setting}-{path.stem}.json"
    env = dict(os.environ, **SETTINGS[setting.split("#")[0]], PYTHONHASHSEED="0")
    env.pop("LESSONLIB_PRESENTER", None)
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", str(path), str(out)], env=env, capture_output=True, text=True
    )
    if proc.returncode != 0 or not out.exists():
        return setting, path, {"cells": [], "claims": [], "error": proc.stderr.strip()[-500:] or "worker failed"}
    return setting, path, json.loads(out.read_text())


def _worst_move(stored: list, new: list) -> tuple[float, str] | None:
    """The largest relative move of a number between stored and new text outputs, and a description."""
    s, n = nbcompare.flatten(stored), nbcompare.flatten(new)
    worst = None
    for key in set(s) & set(n) - nbcompare.PICTURES:
        for a, b in zip(s[key], n[key]):
            for x, y in zip(
                nbcompare.NUMBER.findall(nbcompare.as_text(a)), nbcompare.NUMBER.findall(nbcompare.as_text(b))
            ):
                move = abs(float(y) - float(x)) / max(abs(float(x)), 1e-12)
                if x != y and (worst is None or move > worst[0]):
                    worst = (move, f"{x} -> {y}")
    return worst


def _cell_report(path: Path, runs: dict[str, dict]) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    lines = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "nbval-ignore-output" in cell.metadata.get("tags", []):
            continue
        for setting, run in runs.items():
            if not run["cells"] or run["cells"][i] is None:
                continue
            new = [nbformat.from_dict(o) for o in run["cells"][i]]
            if nbcompare.is_approx(cell):
                problems = nbcompare.compare_approx(cell.outputs, new, *nbcompare.tolerance(cell))
                worst = _worst_move(cell.outputs, new)
                if problems or worst:
                    verdict = "FAILS: " + problems[0] if problems else "within tolerance"
                    lines.append(
                        f"  cell {i} (approx) {setting}: largest move {worst[0]:.1%} ({worst[1]}); {verdict}"
                        if worst
                        else f"  cell {i} (approx) {setting}: {verdict}"
                    )
            else:
                problems = nbcompare.compare_exact(cell.outputs, new)
                if problems:
                    lines.append(f"  cell {i} (EXACT, moved) {setting}: {problems[0]}")
    return lines


def _claims_report(runs: dict[str, dict]) -> list[str]:
    seen: dict[str, dict] = {}
    for setting, run in runs.items():
        for c in run["claims"]:
            entry = seen.setdefault(c["name"], {"low": c["low"], "high": c["high"], "values": {}})
            entry["values"].setdefault(setting, []).append(c["value"])
    lines = []
    for name, e in seen.items():
        values = [v for vs in e["values"].values() for v in vs]
        lo, hi = min(values), max(values)
        room = [
            abs(lo - e["low"]) if e["low"] is not None else None,
            abs(e["high"] - hi) if e["high"] is not None else None,
        ]
        width = max(hi - lo, 1e-12)
        margin = min(r for r in room if r is not None) / width
        lines.append(
            f"  {name}: seen {lo:.4g} .. {hi:.4g} over {len(e['values'])} settings; "
            f"bounds ({e['low']}, {e['high']}); nearest bound {margin:.1f}x the spread away"
        )
    return lines


def report(results: list[tuple[str, Path, dict]]) -> int:
    by_notebook: dict[Path, dict[str, dict]] = {}
    for setting, path, run in results:
        by_notebook.setdefault(path, {})[setting] = run
    failures = 0
    for path, runs in sorted(by_notebook.items()):
        print(f"\n{path.name}")
        for setting, run in runs.items():
            if run["error"]:
                failures += 1
                print(f"  {setting}: EXECUTION FAILED: {run['error']}")
        cells = _cell_report(path, runs)
        failures += sum("FAILS" in line or "EXACT" in line for line in cells)
        print("\n".join(cells + _claims_report(runs)) or "  no approx cells, no claims, no exact cell moved")
    return 1 if failures else 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--worker"]:
        execute(Path(argv[1]), Path(argv[2]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--settings", default=",".join(SETTINGS), help="comma-separated, from: " + ", ".join(SETTINGS))
    parser.add_argument("--jobs", type=int, default=2, help="notebooks run side by side (default 2)")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each setting this many times (catches runs that differ on one machine)",
    )
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    settings = args.settings.split(",")
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        parser.error(f"unknown settings {sorted(unknown)}")
    settings = [s if k == 0 else f"{s}#{k + 1}" for s in settings for k in range(args.repeat)]
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(args.jobs) as pool:
        jobs = [pool.submit(_run, s, p, Path(tmp)) for s in settings for p in paths]
        results = [j.result() for j in jobs]
    return report(results)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
