"""Run the notebooks as other CPUs and other training seeds would, and report how far each result moves.

    python3 course.py spread                          every notebook, every simulated CPU, seed as stored
    python3 course.py spread notebooks/05*            some notebooks
    python3 course.py spread --settings native,aten-default
    python3 course.py spread --seeds 10               10 training seeds x the CPUs of SEED_SETTINGS; writes
                                                      the rows of these notebooks in docs/claims.md

Each run starts a fresh kernel with environment variables that change how torch and numpy pick their
kernels (instruction sets, MKL code paths, thread counts), the way a student's laptop or a hub's Xeon
would. A CPU can only simulate code paths it has: a machine without AVX-512 cannot show what AVX-512
kernels compute. Another CPU's last bits act on training much as another seed does, so ``--seeds N``
also shifts every torch seed the notebook sets (``torch.manual_seed`` and ``torch.Generator().manual_seed``,
inside lessonlib too) by a different amount in each of N runs; seed 0 is the stored run. Data splits
(numpy) stay as they are: they are the same on every machine.

For every notebook it reports:

* **claims**: every ``lessonlib.claims.claim(...)``, with the smallest and largest value seen, its bounds,
  and how many runs missed them. A bound should sit well outside the spread; a claim whose spread comes
  near its bound needs a steadier experiment, a wider bound or a weaker sentence.
* **approx cells**: the largest move of any number against the stored output and the cell's tolerance;
  a run outside the tolerance fails, as it would under nbval on that machine.
* **exact cells that moved** (seed 0 only): a portability bug. Exact cells are compared byte for byte on
  every machine; a cell that moves must be tagged ``approx`` or print what does not depend on last bits.
* **runs that stopped**: the cell and the error.

Nothing is written to the notebooks. Claims never stop a run here (the runs are not strict), so every
claim of every run is seen.
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
TABLE = ROOT / "docs" / "claims.md"

#: name -> environment variables that make this machine compute as another would.
SETTINGS: dict[str, dict[str, str]] = {
    "native": {},
    "aten-default": {"ATEN_CPU_CAPABILITY": "default"},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "mkl-avx2": {"MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "mkl-sse4_2": {"MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
    "mkl-compatible": {"MKL_CBWR": "COMPATIBLE"},
    "numpy-baseline": {"NPY_DISABLE_CPU_FEATURES": "X86_V3"},
    "no-avx2": {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE", "NPY_DISABLE_CPU_FEATURES": "X86_V3"},
    "two-threads": {"LESSONLIB_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"},  # passive: no spinning on a busy machine
}
#: The CPUs each seed is run as in --seeds mode: this machine, a laptop's AVX2, and a CPU without AVX2.
SEED_SETTINGS = ("native", "avx2", "no-avx2")
#: Seed k shifts every torch seed by k * SEED_STEP (a prime far from the seeds notebooks use).
SEED_STEP = 1_000_003

#: The first cell of a run with shifted seeds; removed from the outputs before they are compared.
SHIFT_CELL = """import torch as _torch
_SHIFT = {shift}
_manual_seed = _torch.manual_seed
def _shifted(seed):
    return (int(seed) + _SHIFT) % 2**63
class _ShiftedGenerator(_torch.Generator):
    def manual_seed(self, seed):
        return super().manual_seed(_shifted(seed))
_torch.manual_seed = _torch.random.manual_seed = lambda seed: _manual_seed(_shifted(seed))
_torch.Generator = _ShiftedGenerator"""


def execute(path: Path, out: Path, shift: int) -> None:
    """Worker: run one notebook in a fresh kernel (this process's environment) and save outputs and claims."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    log = out.with_suffix(".claims")
    os.environ["LESSONLIB_CLAIMS_LOG"] = str(log)
    os.environ.pop("LESSONLIB_STRICT_CLAIMS", None)  # a missed claim prints its note and the run goes on
    nb = nbformat.read(path, as_version=4)
    if shift:
        nb.cells.insert(0, nbformat.v4.new_code_cell(SHIFT_CELL.format(shift=shift)))
    error = None
    try:
        NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        ).execute()
    except CellExecutionError as e:
        error = _error_summary(nb, str(e), shift)
    if shift:
        nb.cells.pop(0)
    claims = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    cells = [c.get("outputs", []) if c.cell_type == "code" else None for c in nb.cells]
    out.write_text(json.dumps({"cells": cells, "claims": claims, "error": error}))


def _error_summary(nb: nbformat.NotebookNode, text: str, shift: int) -> str:
    """The failing cell, its failing line and the exception, from nbclient's report (colour codes removed)."""
    index = next(
        (i for i, c in enumerate(nb.cells) if any(o.get("output_type") == "error" for o in c.get("outputs", []))), None
    )
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).rstrip() for line in text.splitlines()]
    failing = [line.strip() for line in lines if line.lstrip().startswith("---->")]
    where = "" if index is None else f"cell {index - (1 if shift else 0)}: "
    return where + " | ".join([*failing[-1:], *[line for line in lines if line.strip()][-1:]])


def _run(setting: str, seed: int, path: Path, folder: Path) -> tuple[str, int, Path, dict]:
    out = folder / f"{setting}-{seed}-{path.stem}.json"
    env = dict(os.environ, **SETTINGS[setting.split("#")[0]], PYTHONHASHSEED="0")
    env.pop("LESSONLIB_PRESENTER", None)
    cmd = [sys.executable, __file__, "--worker", str(path), str(out), str(seed * SEED_STEP)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0 or not out.exists():
        return setting, seed, path, {"cells": [], "claims": [], "error": proc.stderr.strip()[-500:] or "worker failed"}
    return setting, seed, path, json.loads(out.read_text())


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


def _cell_report(path: Path, runs: dict[tuple[str, int], dict]) -> list[str]:
    """Per cell: approx cells' moves against their tolerance (every run), exact cells that moved (seed 0)."""
    nb = nbformat.read(path, as_version=4)
    lines = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or "nbval-ignore-output" in cell.metadata.get("tags", []):
            continue
        if nbcompare.is_approx(cell):
            lines += _approx_lines(i, cell, runs)
            continue
        for (setting, seed), run in runs.items():
            if seed == 0 and run["cells"] and run["cells"][i] is not None:
                problems = nbcompare.compare_exact(cell.outputs, [nbformat.from_dict(o) for o in run["cells"][i]])
                if problems:
                    lines.append(f"  cell {i} (EXACT, moved) {setting}: {problems[0]}")
    return lines


def _approx_lines(i: int, cell: nbformat.NotebookNode, runs: dict[tuple[str, int], dict]) -> list[str]:
    """One line for an approx cell: its largest move over the runs, and every run outside its tolerance."""
    worst, failures = None, []
    for (setting, seed), run in runs.items():
        if not run["cells"] or run["cells"][i] is None:
            continue
        new = [nbformat.from_dict(o) for o in run["cells"][i]]
        problems = nbcompare.compare_approx(cell.outputs, new, *nbcompare.tolerance(cell))
        if problems:
            failures.append(f"{setting} seed {seed}: {problems[0]}")
        move = _worst_move(cell.outputs, new)
        if move and (worst is None or move[0] > worst[0]):
            worst = (move[0], f"{move[1]}, {setting} seed {seed}")
    if not worst and not failures:
        return []
    head = f"  cell {i} (approx): largest move {worst[0]:.1%} ({worst[1]})" if worst else f"  cell {i} (approx)"
    if not failures:
        return [head + "; within tolerance"]
    return [head + f"; FAILS its tolerance in {len(failures)} of {len(runs)} runs, e.g. {failures[0]}"]


def claim_rows(runs: dict[tuple[str, int], dict]) -> list[dict]:
    """One row per claim: its bounds, the values seen (over every run), how many runs missed it."""
    seen: dict[str, dict] = {}
    for run in runs.values():
        for c in run["claims"]:
            row = seen.setdefault(c["name"], {"name": c["name"], "low": c["low"], "high": c["high"], "values": []})
            row["values"].append(c["value"])
    for row in seen.values():
        lo, hi, v = row["low"], row["high"], row["values"]
        row["missed"] = sum(not ((lo is None or x > lo) and (hi is None or x < hi)) for x in v)
        room = [abs(min(v) - lo) if lo is not None else None, abs(hi - max(v)) if hi is not None else None]
        row["margin"] = min(r for r in room if r is not None) / max(max(v) - min(v), 1e-12)
    return list(seen.values())


def _claim_line(row: dict, n_runs: int) -> str:
    v = row["values"]
    missed = f"; MISSED in {row['missed']} of {len(v)}" if row["missed"] else ""
    return (
        f"  {row['name']}: seen {min(v):.4g} .. {max(v):.4g} in {len(v)} values over {n_runs} runs; "
        f"bounds ({row['low']}, {row['high']}); nearest bound {row['margin']:.1f}x the spread away{missed}"
    )


def report(results: list[tuple[str, int, Path, dict]]) -> tuple[int, dict[Path, dict]]:
    """Print the report; return the number of problems and the runs by notebook."""
    by_notebook: dict[Path, dict[tuple[str, int], dict]] = {}
    for setting, seed, path, run in results:
        by_notebook.setdefault(path, {})[(setting, seed)] = run
    failures = 0
    for path, runs in sorted(by_notebook.items()):
        print(f"\n{path.name}")
        for (setting, seed), run in runs.items():
            if run["error"]:
                failures += 1
                print(f"  {setting} seed {seed}: STOPPED: {run['error']}")
        cells = _cell_report(path, runs)
        failures += sum("FAILS" in line or "EXACT" in line for line in cells)
        rows = claim_rows(runs)
        failures += sum(row["missed"] > 0 for row in rows)
        lines = cells + [_claim_line(row, len(runs)) for row in rows]
        print("\n".join(lines) or "  no approx cells, no claims, no exact cell moved")
    return failures, by_notebook


def write_table(by_notebook: dict[Path, dict], seeds: int, settings: list[str]) -> None:
    """docs/claims.md: every claim's bounds and the range it was seen in, as this tool measured it.

    The rows of the notebooks just run replace theirs; the other notebooks' rows stay as they were."""
    kept = [line for line in _table_rows() if line.split("|")[1].strip() not in {p.stem[:2] for p in by_notebook}]
    runs = f"{seeds} seeds x {len(settings)} CPUs"
    new = []
    for path, notebook_runs in sorted(by_notebook.items()):
        for row in claim_rows(notebook_runs):
            v = row["values"]
            new.append(
                f"| {path.stem[:2]} | {row['name'].replace('|', '/')} | ({_bound(row['low'])}, {_bound(row['high'])}) "
                f"| {min(v):.4g} .. {max(v):.4g} | {min(row['margin'], 999):.1f} | {row['missed']} of {len(v)} "
                f"| {runs}, {_cpu_name()} |"
            )
    lines = [
        "# Claims and their spread",
        "",
        "Every number that comes out of training or sampling is kept by a `claim(...)` with bounds (see",
        "`lessonlib/claims.py` and [authoring.md](authoring.md)). This table is written by",
        "`python3 course.py spread --seeds 10 [NOTEBOOKS]`: each notebook is run with 10 training seeds, each seed",
        f"as the CPUs {', '.join(SEED_SETTINGS)} (simulated on the machine named in the last column).",
        "*Margin* is the distance from the values seen to the nearest bound, in units of the range seen;",
        "below about 0.3 the claim is fragile. Do not edit this file by hand.",
        "",
        "| notebook | claim | bounds | seen (min .. max) | margin | missed | runs |",
        "|---|---|---|---|---:|---:|---|",
        *sorted(kept + new, key=lambda line: line.split("|")[1]),
    ]
    TABLE.write_text("\n".join(lines) + "\n")
    print(f"\nwrote {TABLE.relative_to(ROOT)} ({len(new)} rows of {len(by_notebook)} notebooks)")


def _table_rows() -> list[str]:
    """The data rows of docs/claims.md as it is (none when it does not exist yet)."""
    if not TABLE.exists():
        return []
    rows = [line for line in TABLE.read_text().splitlines() if line.startswith("| ") and line.count("|") >= 8]
    return [line for line in rows if line.split("|")[1].strip().isdigit()]


def _bound(b: float | None) -> str:
    return "" if b is None else f"{b:g}"


def _cpu_name() -> str:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        name = re.search(r"Model name:\s*(.+)", text).group(1).strip()
        return name + (" with AVX-512" if "avx512f" in text else " without AVX-512")
    except (OSError, AttributeError):
        return "an unknown CPU"


def main(argv: list[str]) -> int:
    if argv[:1] == ["--worker"]:
        execute(Path(argv[1]), Path(argv[2]), int(argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--settings", help="comma-separated, from: " + ", ".join(SETTINGS))
    parser.add_argument("--seeds", type=int, default=1, help="training seeds per setting (default 1: as stored)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks run side by side (default 2)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="run each setting this many times (runs that differ on one machine)"
    )
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    settings = (args.settings or ",".join(SEED_SETTINGS if args.seeds > 1 else SETTINGS)).split(",")
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        parser.error(f"unknown settings {sorted(unknown)}")
    settings = [s if k == 0 else f"{s}#{k + 1}" for s in settings for k in range(args.repeat)]
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(args.jobs) as pool:
        jobs = [pool.submit(_run, s, k, p, Path(tmp)) for k in range(args.seeds) for s in settings for p in paths]
        results = [j.result() for j in jobs]
    failures, by_notebook = report(results)
    if args.seeds >= 10 and set(SEED_SETTINGS) <= set(settings):
        write_table(by_notebook, args.seeds, settings)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
