"""Strict nbval must fail when a stored figure no longer matches what the code draws."""

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent


def _nbval(folder: Path) -> int:
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env", "fig.ipynb"]
    return subprocess.run(cmd, cwd=folder, capture_output=True, text=True).returncode


def test_changed_figure_fails_strict_nbval(tmp_path):
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    nb = new_notebook(cells=[new_code_cell("import matplotlib.pyplot as plt\n_ = plt.plot([1, 2, 3])")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "fig.ipynb"
    nbformat.write(nb, path)
    subprocess.run([sys.executable, str(ROOT / "tools" / "regenerate.py"), str(path)], check=True, capture_output=True)
    assert _nbval(tmp_path) == 0, "a freshly regenerated notebook must pass"

    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source = nb.cells[0].source.replace("[1, 2, 3]", "[1, 2, 4]")  # code changed, figure stale
    nbformat.write(nb, path)
    assert _nbval(tmp_path) == 1, "a stale figure must fail strict nbval"
