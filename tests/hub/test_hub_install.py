"""The course installed the way a hub image installs it, and every notebook run there from a copy.

Twice: with the pinned set students get, and with the oldest set the course declares it supports (the
lower end of every range in pyproject.toml: tests/versions.py), as an existing hub may have it.
A fresh virtual environment gets `pip install -r requirements.txt` (or the oldest set), then
`pip install .` (not editable), both run in a clone of the repository, then what binder/requirements.txt
adds for a hub (nbgitpuller). With the oldest set, the browser walk-through also runs against that
environment's JupyterLab, kernel and installed lessonlib. Bytecode is not compiled at install (`--no-compile`: the install took about four times
longer with it); Python compiles what it imports. The notebooks are copied to a folder outside the
clone. Each runs top to bottom in that environment (nbclient, through benchmarks/course_timing.py run
by the environment's Python), with one cell appended that records which Python and which lessonlib
the kernel used: the installed copy, never the repository's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import venv
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement

from conftest import ROOT, clean_env
from tests.versions import declared, oldest_set

sys.path.insert(0, str(ROOT / "tools"))
from browserlab import copy_course  # noqa: E402

pytestmark = pytest.mark.hub

NOTEBOOKS = [p.name for p in sorted((ROOT / "notebooks").glob("*.ipynb"))]
PROBE = """import json, sys, lessonlib, lessonlib.data
json.dump({"prefix": sys.prefix, "lessonlib": lessonlib.__file__, "data": str(lessonlib.data.DATA_DIR)},
          open("probe-%s.json", "w"))"""


@dataclass
class Hub:
    python: Path
    prefix: Path
    course: Path  # the notebooks' copy, outside the repository
    env: dict
    versions: str  # "pinned" (requirements.txt) or "oldest" (the floor of the declared ranges)


def hub_extras() -> list[str]:
    """The plain pins binder/requirements.txt adds to the course's (torch's CPU build aside)."""
    lines = [line.split("#", 1)[0].strip() for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()]
    return [line for line in lines if re.match(r"^[A-Za-z0-9_.\-]+==", line) and not line.startswith("torch==")]


def pip_install(python: Path, args: list[str], cwd: Path, env: dict) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", "--no-compile", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert proc.returncode == 0, f"pip install {' '.join(args)} failed:\n{proc.stderr[-3000:]}"
    return time.perf_counter() - t0


@pytest.fixture(scope="module", params=["pinned", "oldest"])
def hub(request, repo_copy, tmp_path_factory) -> Hub:
    base = tmp_path_factory.mktemp(f"hub-{request.param}")
    env = clean_env(base / "home")
    t0 = time.perf_counter()
    venv.EnvBuilder(with_pip=True).create(base / "venv")
    python = base / "venv" / "bin" / "python"
    t_venv = time.perf_counter() - t0
    first = ["-r", "requirements.txt"] if request.param == "pinned" else oldest_set()
    t_req = pip_install(python, first, repo_copy, env)
    t_pkg = pip_install(python, ["."], repo_copy, env)
    t_extra = pip_install(python, hub_extras(), repo_copy, env)
    print(
        f"\nhub install ({request.param}): venv {t_venv:.0f} s, {' '.join(first)} {t_req:.0f} s, `pip install .` {t_pkg:.0f} s, "
        f"{' '.join(hub_extras())} {t_extra:.0f} s"
    )
    return Hub(python, base / "venv", copy_course(base / "course"), env, request.param)


def run(hub: Hub, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(hub.python), *args], cwd=hub.course, env=hub.env, capture_output=True, text=True, timeout=900
    )


def test_lessonlib_is_installed_with_its_data_not_linked_to_the_repository(hub):
    proc = run(
        hub,
        "-c",
        "import json, lessonlib, lessonlib.data as d; print(json.dumps("
        "[lessonlib.__file__, str(d.DATA_DIR), d.load_old_faithful().shape[0]]))",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    module, data, rows = json.loads(proc.stdout)
    package = Path(module).parent
    assert package.is_relative_to(hub.prefix) and package.name == "lessonlib", module
    assert Path(data) == package / "_data" and rows == 272


def test_pip_check_finds_lessonlibs_declared_ranges_satisfied(hub):
    proc = run(hub, "-m", "pip", "check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    requires = run(hub, "-c", "from importlib.metadata import requires; print('\\n'.join(requires('lessonlib')))")
    installed = {(r.name, r.specifier) for r in map(Requirement, filter(str.strip, requires.stdout.splitlines()))}
    assert installed == {(r.name, r.specifier) for r in declared()}  # pip check just checked pyproject.toml's ranges


def test_the_walkthrough_passes_with_the_oldest_versions(hub):
    """Every notebook opened, Run All, its widget used as a student would (tests/browser/test_walkthrough.py),
    in JupyterLab, kernel and lessonlib from the oldest set's environment."""
    if hub.versions == "pinned":
        pytest.skip("the pinned set's walk-through is tests/browser/test_walkthrough.py itself")
    env = {**os.environ, "COURSE_LAB_PYTHON": str(hub.python)}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/browser/test_walkthrough.py"]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    print(proc.stdout[-2000:])
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]


def extension_section(hub: Hub, *command: str) -> str:
    """What `jupyter ... list` says about the environment's own extensions (not the machine's), without colours."""
    proc = run(hub, "-m", "jupyter", *command)
    text = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout + proc.stderr)
    assert proc.returncode == 0, text
    after = text.split(str(hub.prefix), 1)[-1].split("\n", 1)[-1]  # below the line naming the environment's folder
    return re.split(r"^(?:Config dir: |/)", after, maxsplit=1, flags=re.M)[0]  # up to the next folder's section


def test_jupyterlab_has_the_widgets_ipympl_and_anywidget_extensions(hub):
    ours = extension_section(hub, "labextension", "list")
    for name in ("@jupyter-widgets/jupyterlab-manager", "jupyter-matplotlib", "anywidget"):
        assert re.search(rf"^\s+{re.escape(name)} v\S+ enabled\s+OK", ours, re.M), f"{name} missing or broken:\n{ours}"


def test_the_server_has_nbgitpuller_enabled(hub):
    ours = extension_section(hub, "server", "extension", "list")
    assert re.search(r"^\s+nbgitpuller enabled\s*$", ours, re.M), ours
    assert re.search(r"^\s+nbgitpuller \S+ OK\s*$", ours, re.M), ours  # its validation: it imports and loads


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_top_to_bottom_in_the_hub_environment(hub, name):
    path = hub.course / "notebooks" / name
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE % path.stem))
    nbformat.write(nb, path)
    proc = run(hub, str(ROOT / "benchmarks" / "course_timing.py"), str(path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"{name}: {row['seconds']:.1f} s in the hub environment")
    assert row["status"] == "ok", row.get("error")
    probe = json.loads((path.parent / f"probe-{path.stem}.json").read_text())
    assert Path(probe["prefix"]) == hub.prefix, probe  # the kernel ran the hub environment's Python
    assert Path(probe["lessonlib"]).is_relative_to(hub.prefix), probe  # and its installed lessonlib
    assert Path(probe["data"]).is_relative_to(hub.prefix), probe
