"""The layout's import rules hold, and breaking one is caught.

The rules live in pyproject.toml as import-linter contracts: lessons -> ui -> core, never upwards; the
core draws nothing; a lesson's exercises and experiments never import its widgets or plots; the numpy
lessons never import torch. ``lint-imports`` checks them here, in the test command.
"""

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).parent / "lint-imports"
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def lint(folder: Path) -> subprocess.CompletedProcess:
    """lint-imports on the lessonlib found first on the path of ``folder``, with its pyproject.toml."""
    env = dict(os.environ, PYTHONPATH=str(folder))
    return subprocess.run([str(LINT), "--no-cache"], cwd=folder, env=env, capture_output=True, text=True)


def test_the_contracts_hold():
    out = lint(ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in out.stdout


def test_every_core_module_is_in_the_core_layer():
    """A core module left out of the layers contract would escape it: the contract must name them all."""
    core = sorted(p.stem for p in (ROOT / "lessonlib").glob("*.py") if p.stem != "__init__")
    packages = sorted(p.name for p in (ROOT / "lessonlib").iterdir() if (p / "__init__.py").exists())
    assert packages == ["lessons", "ui"], "lessonlib holds the core modules, ui/ and lessons/ only"
    by_id = {c["id"]: c for c in CONTRACTS}
    assert sorted(m.strip() for m in by_id["layers"]["layers"][-1].split(":")) == core
    assert sorted(m.removeprefix("lessonlib.") for m in by_id["core-draws-nothing"]["source_modules"]) == core


VIOLATIONS = {
    "the core imports the presentation layer": ("flows.py", "from lessonlib.ui.style import current", "layers"),
    "the presentation layer imports a lesson": (
        "ui/figures.py",
        "from lessonlib.lessons.l01_change_of_variables import plots",
        "layers",
    ),
    "the core draws": ("training.py", "import matplotlib.pyplot", "core-draws-nothing"),
    "an exercise imports its widget": (
        "lessons/l04_coupling/exercises.py",
        "from lessonlib.lessons.l04_coupling.widgets import CouplingExplorer",
        "exercises-and-experiments-draw-nothing",
    ),
    "an experiment imports a plot": (
        "lessons/l05_stacking/experiments.py",
        "from lessonlib.lessons.l05_stacking import plots",
        "exercises-and-experiments-draw-nothing",
    ),
    "a numpy lesson imports torch": ("lessons/l01_change_of_variables/plots.py", "import torch", "numpy-lessons"),
}


@pytest.fixture(scope="module")
def clean_copy(tmp_path_factory) -> Path:
    """A copy of lessonlib and pyproject.toml that passes: the baseline each violation is added to."""
    folder = tmp_path_factory.mktemp("layout")
    shutil.copytree(ROOT / "lessonlib", folder / "lessonlib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", folder / "pyproject.toml")
    out = lint(folder)
    assert out.returncode == 0, "the untouched copy must pass: " + out.stdout
    return folder


@pytest.mark.parametrize("what", VIOLATIONS)
def test_a_forbidden_import_is_caught(what, clean_copy, tmp_path):
    path, line, contract = VIOLATIONS[what]
    folder = tmp_path / "copy"
    shutil.copytree(clean_copy, folder)
    target = folder / "lessonlib" / path
    target.write_text(target.read_text() + f"\n{line}  # the violation\n")
    out = lint(folder)
    name = next(c["name"] for c in CONTRACTS if c["id"] == contract)
    assert out.returncode != 0, f"{what}: lint-imports passed"
    assert f"{name} BROKEN" in " ".join(out.stdout.split()), out.stdout


def test_the_numpy_lessons_do_not_load_torch_at_run_time():
    """The static contract, checked once more the way a learner meets it: importing the modules."""
    modules = [
        f"lessonlib.lessons.{lesson}.{part}"
        for lesson in ("l01_change_of_variables", "l02_jacobian")
        for part in ("widgets", "plots", "exercises")
    ] + ["lessonlib.cov1d", "lessonlib.linear2d"]
    code = (
        "import sys, matplotlib; matplotlib.use('Agg'); "
        + "; ".join(f"import {m}" for m in modules)
        + "; sys.exit(1 if 'torch' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0, "notebooks 01 and 02 must stay numpy-only"


def test_every_package_is_installed_by_pip_install_dot():
    """pyproject.toml lists lessonlib's packages by hand (data/ is mapped in as lessonlib._data); a lesson
    folder missing from the list would be left out of a hub's non-editable install."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.relative_to(ROOT).parent.parts) for p in (ROOT / "lessonlib").rglob("__init__.py")}
    assert listed == found | {"lessonlib._data"}, (
        f"add {sorted(found - listed)} / drop {sorted(listed - found - {'lessonlib._data'})}"
    )
