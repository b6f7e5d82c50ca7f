"""Benchmarks: how fast the course runs, how fast its widgets answer, how its flows compare.

    python3 course.py bench                 everything (about 10-15 minutes on 2 idle cores)
    python3 course.py bench --quick         a 2-minute smoke run (few steps, one seed); tables untouched
    python3 course.py bench --table-only    rewrite the tables from benchmarks/results/bench.json (and the
                                            browser's latency and drag files, read again)
    python3 course.py bench --only course   re-measure some parts (course widgets cost drag speed fits) of bench.json

zuko and normflows are not course dependencies: they go into a separate virtual environment,
.venv-bench, made on first use from benchmarks/requirements.txt (torch pinned to the course's CPU
build, so no multi-GB CUDA download). Results: benchmarks/results/bench.json, and the tables between
markers in docs/benchmarks.md, docs/hubs.md and the README (`write_table`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import itertools
import json
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import cost_table, report  # noqa: E402

BENCH_VENV = ROOT / ".venv-bench"
BENCH_PY = BENCH_VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
BENCH_REQ = ROOT / "benchmarks" / "requirements.txt"
STAMP = BENCH_VENV / ".bench-installed"
RESULTS = ROOT / "benchmarks" / "results"
TORCH_PIN = "torch==2.13.0"

TARGET_NAMES = ("two_moons", "gaussian_ring", "checkerboard", "banana")
PARTS = ["course", "widgets", "cost", "drag", "speed", "fits"]


def say(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def ensure_bench_venv() -> None:
    """Create .venv-bench and install the pinned peer libraries (first run only)."""
    req = BENCH_REQ.read_text()
    if TORCH_PIN not in req.splitlines():
        sys.exit(f"[bench] {BENCH_REQ} must pin {TORCH_PIN}: an unpinned torch downloads a multi-GB CUDA build.")
    want = hashlib.sha256(req.encode() + sys.version.encode()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == want:
        return
    if not BENCH_PY.exists():
        say("creating .venv-bench for zuko and normflows (first run only)")
        venv.EnvBuilder(with_pip=True).create(BENCH_VENV)
    say("installing benchmarks/requirements.txt into .venv-bench (about a minute)")
    rc = subprocess.call(
        [str(BENCH_PY), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", str(BENCH_REQ)]
    )
    if rc != 0:
        sys.exit("[bench] installing the benchmark requirements failed")
    STAMP.write_text(want)


def _env(threads: int | None = None) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONHASHSEED="0")
    env.pop("LESSONLIB_PRESENTER", None)
    if threads is not None:
        for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[k] = str(threads)
    return env


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def run_json(cmd: list[str], threads: int | None = None) -> list[dict]:
    proc = subprocess.run(cmd, cwd=ROOT, env=_env(threads), capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-3000:])
        raise SystemExit(f"[bench] {' '.join(cmd[-3:])} failed with exit code {proc.returncode}")
    return _json_lines(proc.stdout)


def fit_parallel(jobs: list[dict], workers: int, deadline: float | None = None) -> list[dict]:
    """Run KL jobs in ``workers`` single-threaded processes at once (one process per core).

    Each result line is also appended to benchmarks/results/raw/fits.jsonl as it arrives, so a
    long run that is stopped keeps what it finished. After ``deadline`` no new job starts.
    """
    shares = [jobs[k::workers] for k in range(workers)]
    extra = [str(deadline)] if deadline else []
    procs = [
        subprocess.Popen(
            [str(BENCH_PY), "-m", "benchmarks.flows_worker", "fit", json.dumps(share), *extra],
            cwd=ROOT,
            env=_env(1),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for share in shares
        if share
    ]
    raw = RESULTS / "raw" / "fits.jsonl"
    raw.parent.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    import threading

    lock = threading.Lock()

    def collect(p: subprocess.Popen) -> None:
        for line in p.stdout:
            if line.startswith("{"):
                row = json.loads(line)
                with lock:
                    rows.append(row)
                    with raw.open("a") as f:
                        f.write(line)
                    say(
                        f"  {row['library']} {row['target']} seed {row['seed']}: {row['status']}"
                        + (f", KL gap {row['kl_gap']:.3f}" if row["status"] == "ok" else "")
                    )

    readers = [threading.Thread(target=collect, args=(p,)) for p in procs]
    for t in readers:
        t.start()
    for p, t in zip(procs, readers):
        t.join()
        err = p.stderr.read()
        if p.wait() != 0:
            sys.stderr.write(err[-3000:])
            raise SystemExit("[bench] a training worker failed")
    return sorted(rows, key=lambda r: (r["target"], r["library"], r["seed"]))


def versions() -> dict[str, str]:
    from importlib.metadata import version

    out = {name: version(name) for name in ("torch", "numpy", "matplotlib", "ipympl", "nbclient")}
    if not BENCH_PY.exists():  # a run without the flow comparisons (--only course widgets drag)
        return out
    peer = subprocess.run(
        [
            str(BENCH_PY),
            "-c",
            "from importlib.metadata import version as v; print(v('torch'), v('zuko'), v('normflows'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if peer[0] != out["torch"]:
        raise SystemExit(f"[bench] torch differs between .venv ({out['torch']}) and .venv-bench ({peer[0]})")
    out["zuko"], out["normflows"] = peer[1], peer[2]
    return out


def read_browser_results() -> dict:
    """The browser's measurements: key-press latency (the walk-through writes it) and drags (tools/dragbench.py)."""
    files = {"browser": RESULTS / "browser_latency.json", "drag": RESULTS / "browser_drag.json"}
    return {key: json.loads(f.read_text()) for key, f in files.items() if f.exists()}


def write_table(results: dict) -> None:
    """The generated tables: docs/benchmarks.md, docs/hubs.md's cost block, the README's cost summary."""
    blocks = {
        "docs/benchmarks.md": [(report.render(results), report.BEGIN, report.END)],
        "docs/hubs.md": [(cost_table.render(results), cost_table.BEGIN, cost_table.END)],
        "README.md": [(cost_table.render_summary(results), cost_table.SUMMARY_BEGIN, cost_table.SUMMARY_END)],
    }
    for name, parts in blocks.items():
        path = ROOT / name
        text = path.read_text(encoding="utf-8")
        for body, begin, end in parts:
            text = report.replace_between(text, body, begin, end)
        path.write_text(text, encoding="utf-8")
    say("docs/benchmarks.md, docs/hubs.md's cost block and the README's cost summary rewritten")


def measure_cost(results: dict, args: argparse.Namespace) -> None:
    """Cost per student (benchmarks/kernel_cost.py): a quick run opens two notebooks only."""
    say("cost per student: kernel memory and CPU per notebook, JupyterLab server memory (Chromium)")
    results["cost"] = run_json([sys.executable, "-m", "benchmarks.kernel_cost", *(["00", "01"] if args.quick else [])])
    for r in results["cost"]:
        say(
            f"  {r.get('notebook', 'server')}: "
            + ", ".join(f"{k} {v}" for k, v in r.items() if k.endswith(("_mb", "_s")))
        )


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="course.py bench", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 150 steps, 1 seed; tables untouched")
    ap.add_argument("--table-only", action="store_true", help="rewrite the generated tables from bench.json")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2, help="parallel single-threaded training processes")
    ap.add_argument(
        "--fit-minutes",
        type=float,
        default=None,
        help="time budget of the training runs: no new run starts after it (unfinished runs are listed)",
    )
    ap.add_argument("--skip", nargs="*", default=[], choices=PARTS)
    ap.add_argument(
        "--only",
        nargs="*",
        default=[],
        choices=PARTS,
        help="re-measure these parts and keep the rest of bench.json (each part records its own load)",
    )
    args = ap.parse_args(argv)
    if args.quick:
        args.steps, args.seeds = 150, 1
    if args.only:
        args.skip = [p for p in PARTS if p not in args.only]
    return args


def settings(args: argparse.Namespace) -> dict:
    from benchmarks.adapters import BOUND, N_BINS

    return {
        "steps": args.steps,
        "seeds": args.seeds,
        "batch": 512,
        "lr": 1e-3,
        "layers": 8,
        "hidden": [64, 64],
        "fit_threads": 1,
        "fit_workers": args.workers,
        "speed_chunk": {"1": 100, "2": 50} if not args.quick else {"1": 20, "2": 20},
        "speed_rounds": {"1": 5, "2": 3},
        "widget_values": 12,
        "widget_repeats": 2,
        "check_samples": 10_000,
        "autograd_points": 64,
        "kl_samples": 20_000,
        "spline": {"libraries": list(report.SPLINE_LIBRARIES), "bins": N_BINS, "bound": BOUND},
    }


def measure_course(results: dict, args: argparse.Namespace) -> None:
    say("executing every notebook from a fresh kernel")
    results["course"] = run_json([sys.executable, "-m", "benchmarks.course_timing"])
    for r in results["course"]:
        say(f"  {r['notebook']}: {r['seconds']:.1f} s ({r['status']})")


def measure_widgets(results: dict, args: argparse.Namespace) -> None:
    say("timing every lesson widget (control change + full redraw)")
    s = results["settings"]
    results["widgets"] = run_json(
        [sys.executable, "-m", "benchmarks.widget_latency", str(s["widget_values"]), str(s["widget_repeats"])]
    )
    for r in results["widgets"]:
        say(f"  {r['widget']}: median {r.get('median_ms') or 0:.1f} ms ({r['status']})")


def measure_speed(results: dict, args: argparse.Namespace) -> None:
    s = results["settings"]
    results["speed"] = []
    for threads in (1, 2):
        say(f"training speed, {threads} thread(s), interleaved chunks")
        results["speed"] += run_json(
            [
                str(BENCH_PY),
                "-m",
                "benchmarks.flows_worker",
                "speed",
                str(s["speed_chunk"][str(threads)]),
                str(s["speed_rounds"][str(threads)]),
            ],
            threads=threads,
        )
    for t, per in report.speed_summary(results["speed"]).items():
        say(f"  {t} thread(s): " + ", ".join(f"{k} {v:.0f} steps/s" for k, v in per.items()))
    say("training speed of the spline flows (lessonlib, zuko NSF), 1 thread, interleaved chunks")
    results["speed"] += run_json(
        [
            str(BENCH_PY),
            "-m",
            "benchmarks.flows_worker",
            "speed",
            str(s["speed_chunk"]["1"]),
            str(s["speed_rounds"]["1"]),
            "spline",
        ],
        threads=1,
    )
    for t, per in report.speed_summary(results["speed"], "spline").items():
        say(f"  spline flows, {t} thread(s): " + ", ".join(f"{k} {v:.0f} steps/s" for k, v in per.items()))


def measure_fits(results: dict, args: argparse.Namespace) -> None:
    jobs = [
        {"library": lib, "target": t, "seed": s, "steps": args.steps}
        for s, t, lib in itertools.product(range(args.seeds), TARGET_NAMES, report.LIBRARIES)
    ]
    jobs += [
        {
            "library": lib,
            "target": t,
            "seed": s,
            "steps": args.steps,
            "family": "spline",
        }  # lessonlib's against zuko NSF
        for s, t, lib in itertools.product(range(args.seeds), TARGET_NAMES, report.SPLINE_LIBRARIES)
    ]
    say(f"training {len(jobs)} flows ({args.steps} steps each) in {args.workers} single-threaded processes")
    deadline = time.time() + 60 * args.fit_minutes if args.fit_minutes else None
    results["fits"] = fit_parallel(jobs, args.workers, deadline)
    for target, per in report.kl_summary(results["fits"]).items():
        say(f"  {target}: " + ", ".join(f"{k} {c['mean']:.3f}" for k, c in per.items()))


def measure_drag(results: dict, args: argparse.Namespace) -> None:
    say("dragging every widget in Chromium, normal and presenter mode (tools/dragbench.py)")
    cmd = [sys.executable, str(ROOT / "tools" / "dragbench.py"), "--repeats", "1" if args.quick else "2"]
    if subprocess.call(cmd, cwd=ROOT) != 0:
        say("  the drag benchmark failed; the table keeps the last browser_drag.json")


MEASURE = {
    "course": measure_course,
    "widgets": measure_widgets,
    "cost": measure_cost,
    "drag": measure_drag,
    "speed": measure_speed,
    "fits": measure_fits,
}


def keep_old_parts(results: dict, args: argparse.Namespace, out_path: Path) -> None:
    """With --only, what is not re-measured comes from the last bench.json (read now: parts may run side by side)."""
    old = json.loads(out_path.read_text())
    for part in args.skip:
        results[part] = old.get(part, results[part])  # a part older files lack stays empty
        if old.get("parts", {}).get(part):
            results["parts"][part] = old["parts"][part]
    results["machine"]["load_start"] = old["machine"]["load_start"]
    for name, v in old["machine"].get("versions", {}).items():  # zuko and normflows, when .venv-bench was not needed
        results["machine"]["versions"].setdefault(name, v)
    results["duration_s"] = old.get("duration_s", 0.0)  # that of the last full run (if there is one)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    out_path = RESULTS / ("quick.json" if args.quick else "bench.json")
    if args.table_only:  # the browser's files (walk-through latency, drags) are read again where they exist
        results = json.loads((RESULTS / "bench.json").read_text())
        results.update(read_browser_results())
        (RESULTS / "bench.json").write_text(json.dumps(results, indent=1) + "\n")
        write_table(results)
        return 0
    if {"speed", "fits"} - set(args.skip):  # only the flow comparisons need zuko and normflows
        ensure_bench_venv()
    t_start = time.perf_counter()
    results: dict = {
        "schema": report.SCHEMA,
        "date": dt.date.today().isoformat(),
        "machine": {**report.machine_facts(ROOT, versions()), **cost_table.memory_facts()},
        "settings": settings(args),
        "course": [],
        "widgets": [],
        "cost": [],
        "fits": [],
        "speed": [],
        "parts": {},
    }
    for part in PARTS:
        if part in args.skip:
            continue
        t0, load0 = time.perf_counter(), report.load_average()
        MEASURE[part](results, args)
        results["parts"][part] = {
            "time": time.strftime("%Y-%m-%d %H:%M"),
            "seconds": round(time.perf_counter() - t0, 1),
            "load_start": load0,
            "load_end": report.load_average(),
        }
    results.update({"browser": None, "drag": None, **read_browser_results()})
    results["machine"]["load_end"] = report.load_average()
    if args.only and out_path.exists():
        keep_old_parts(results, args, out_path)
    results.setdefault("duration_s", time.perf_counter() - t_start)
    report.validate(results)
    cost_table.validate(results["cost"])
    RESULTS.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=1) + "\n")
    say(f"results written to {out_path.relative_to(ROOT)} ({results['duration_s'] / 60:.1f} min)")
    if not args.quick and (not args.skip or args.only):
        write_table(results)
    for line in report.targets_missed(results):
        say(f"target missed: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
