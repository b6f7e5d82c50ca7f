#!/usr/bin/env python3
"""The course's one entry point. Needs only Python 3.11+; everything else it installs itself.

    python3 course.py setup        make .venv and install the course's pinned packages (lab and test do it too)
    python3 course.py lab          set up (first time only) and open the course in JupyterLab
    python3 course.py test         set up and run every test (what CI runs); prints each part's time
    python3 course.py test --quick the lint, unit and widget tests and the notebooks only (authors, a few minutes)
    python3 course.py test ARGS    only the pytest ARGS (e.g. tests/core or notebooks/05_stacking_layers_into_a_flow.ipynb)
    python3 course.py regenerate   re-execute every notebook and save its outputs (authors)
    python3 course.py present NB   show notebook NB as slides with live widgets (instructors)
    python3 course.py bench        run the benchmarks; rewrites their tables in docs/benchmarks.md and docs/hubs.md
    python3 course.py spread       run the notebooks as other CPUs would; report how far results move
    python3 course.py spread --seeds 10   the same over 10 training seeds; rewrites docs/claims.md
    python3 course.py screenshots  refresh the screenshots in docs/screenshots/

Set-up makes a virtual environment in .venv and installs requirements.txt plus lessonlib
(editable); `test` adds the test-only tools of tests/requirements.txt. It reinstalls only when
one of those files or pyproject.toml changes, so the second run starts at once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".course-installed"
TEST_STAMP = VENV / ".course-test-tools-installed"
CHROMIUM = Path("/usr/bin/chromium")

NBVAL_ARGS = [
    "--nbval",
    "--nbval-current-env",
    "--nbval-sanitize-with",
    str(ROOT / "tests" / "nbval_sanitize.cfg"),
    "--nbval-cell-timeout",
    "120",
]


def say(msg: str) -> None:
    print(f"[course] {msg}", flush=True)


def run(cmd: list[str], **kw) -> int:
    return subprocess.call([str(c) for c in cmd], **kw)


def _install_hash(names: tuple[str, ...] = ("requirements.txt", "pyproject.toml")) -> str:
    h = hashlib.sha256()
    for name in names:
        h.update((ROOT / name).read_bytes())
    h.update(sys.version.encode())
    return h.hexdigest()


def setup() -> None:
    """Create .venv and install what is missing; quick when nothing changed."""
    if sys.version_info < (3, 11):  # noqa: UP036 - course.py runs under whatever python3 the user has
        sys.exit(f"Python 3.11 or newer is needed, this is {sys.version.split()[0]}.")
    if not PY.exists():
        say("creating the virtual environment in .venv (first run only)")
        venv.EnvBuilder(with_pip=True).create(VENV)
    want = _install_hash()
    if STAMP.exists() and STAMP.read_text() == want:
        return
    say("installing pinned packages (about a minute the first time; torch is the CPU build)")
    rc = run([PY, "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", ROOT / "requirements.txt"])
    if rc == 0:
        rc = run([PY, "-m", "pip", "install", "--disable-pip-version-check", "-q", "--no-deps", "-e", ROOT])
    if rc != 0:
        sys.exit("[course] installing the requirements failed; see the README's troubleshooting section.")
    STAMP.write_text(want)


def setup_test_tools() -> None:
    """Add tests/requirements.txt (tools the tests need and students do not) to .venv; quick when nothing changed."""
    setup()
    want = _install_hash(("requirements.txt", "pyproject.toml", "tests/requirements.txt"))
    if TEST_STAMP.exists() and TEST_STAMP.read_text() == want:
        return
    say("installing the test-only tools of tests/requirements.txt")
    rc = run(
        [
            PY,
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "-q",
            "-r",
            ROOT / "tests" / "requirements.txt",
            "-c",
            ROOT / "requirements.txt",
        ]
    )  # the course's own pins stay as they are
    if rc != 0:
        sys.exit("[course] installing tests/requirements.txt failed; see the README's troubleshooting section.")
    TEST_STAMP.write_text(want)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("LESSONLIB_PRESENTER", None)
    env["PYTHONHASHSEED"] = "0"
    return env


def ensure_chromium() -> None:
    """The browser test drives Debian's chromium; install it when missing and we may (root with apt-get)."""
    if CHROMIUM.exists() or os.environ.get("COURSE_SKIP_CHROMIUM_INSTALL"):
        return
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        say("installing Debian's chromium for the browser test (about 30 s)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run(["apt-get", "update", "-qq"], env=env)
        run(["apt-get", "install", "-y", "-qq", "chromium"], env=env, stdout=subprocess.DEVNULL)
    if not CHROMIUM.exists():
        say("chromium is missing: the browser test will fail. Install it with `sudo apt-get install -y chromium`.")


#: How a CPU without AVX2 computes: torch's portable kernels, MKL's compatible code path, numpy's baseline SIMD.
#: The test command runs the notebooks once more like this, so a pass here means a pass on other machines.
FOREIGN_CPU = {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE", "NPY_DISABLE_CPU_FEATURES": "X86_V3"}

#: The parts of `test`, in order: (name, pytest arguments, extra environment). `test --quick` runs the first two.
# Two processes, each taking whole test modules or whole notebooks (a notebook's cells run in order in one
# kernel): about half the time on two cores. The browser and hub parts drive one server or install at a time.
TWO_WORKERS = ["-n", "2", "--dist", "loadscope"]
PARTS = [
    ("lint, unit, property and widget tests", [*TWO_WORKERS, "-q", "-m", "not browser and not hub", "tests"], {}),
    ("notebooks, strict nbval", [*TWO_WORKERS, "-q", "notebooks"], {}),
    ("browser walk-through and slides", ["-q", "-m", "browser", "tests"], {}),
    ("hub installs, pinned and oldest versions", ["-q", "-m", "hub", "tests"], {}),
    ("notebooks as a CPU without AVX2 computes", [*TWO_WORKERS, "-q", "notebooks"], FOREIGN_CPU),
]


def _pytest(args: list[str], env: dict[str, str]) -> int:
    # pytest exits 5 when nothing ran; that is a failure here, not a pass
    rc = run([PY, "-m", "pytest", *NBVAL_ARGS, *args], cwd=ROOT, env=env)
    return 1 if rc == 5 else rc


def cmd_test(args: list[str]) -> int:
    """Every part of PARTS, each run even when one before it failed, then a summary with each part's time.

    `test --quick` runs the first two parts (what an author runs while working). With pytest arguments,
    only those tests, natively; `test --as-foreign-cpu ARGS` runs them as a CPU without AVX2 computes.
    """
    setup_test_tools()
    if args[:1] == ["--as-foreign-cpu"]:
        return _pytest(args[1:], {**_env(), **FOREIGN_CPU})
    quick = args[:1] == ["--quick"]
    if args and not quick:
        return _pytest(args, _env())
    parts = PARTS[:2] if quick else PARTS
    if not quick and (ROOT / "tests" / "browser").exists():
        ensure_chromium()
    results = []
    for name, part_args, extra in parts:
        say(f"{name}" + (" (" + " ".join(f"{k}={v}" for k, v in extra.items()) + ")" if extra else ""))
        t0 = time.monotonic()
        rc = _pytest(part_args, {**_env(), **extra})
        results.append((name, time.monotonic() - t0, rc))
    say("summary:")
    for name, seconds, rc in results:
        print(
            f"  {name:<42} {int(seconds) // 60:3d} min {int(seconds) % 60:02d} s   {'passed' if rc == 0 else 'FAILED'}"
        )
    total = sum(seconds for _, seconds, _ in results)
    print(f"  {'in all':<42} {int(total) // 60:3d} min {int(total) % 60:02d} s")
    return 0 if all(rc == 0 for _, _, rc in results) else 1


def cmd_lab(args: list[str]) -> int:
    setup()
    cmd = [BIN / "jupyter", "lab", "notebooks/00_start_here.ipynb", "--ip=127.0.0.1", f"--ServerApp.root_dir={ROOT}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    say("starting JupyterLab on 127.0.0.1; open the link with the token printed below. Ctrl-C stops it.")
    return run([*cmd, *args], cwd=ROOT)


def _tool(name: str, args: list[str], strict: bool = False) -> int:
    """Run tools/NAME; ``strict``: a claim that misses fails the run instead of printing a note."""
    setup()
    env = {**_env(), "LESSONLIB_STRICT_CLAIMS": "1"} if strict else _env()
    return run([PY, ROOT / "tools" / name, *args], cwd=ROOT, env=env)


COMMANDS = {
    "lab": cmd_lab,
    "test": cmd_test,
    "regenerate": lambda a: _tool("regenerate.py", a, strict=True),
    "present": lambda a: _tool("present.py", a),
    "bench": lambda a: _tool("bench.py", a),
    "spread": lambda a: _tool("spread.py", a),
    "screenshots": lambda a: _tool("screenshots.py", a),
    "setup": lambda a: (setup(), 0)[1],
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__)
        return 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
