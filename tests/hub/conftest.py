"""Fixtures of the hub tests: the repository as a fresh clone has it, copied outside the repository.

Binder and repo2docker build from a clone; a hub image installs from one. Both tests work on such a
copy (tracked files, plus new files not ignored by git), so nothing built or cached in the working
tree (.venv, build/, *.egg-info) can make them pass.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def clone_files(dest: Path) -> Path:
    """Copy into ``dest`` the files a clone of the working tree would have; return ``dest``."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    for rel in filter(None, listing.decode().split("\0")):
        src = ROOT / rel
        if src.is_file():  # a file deleted but not yet committed is still listed
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def clean_env(home: Path) -> dict[str, str]:
    """The environment of a process that must see only its own Python and fresh Jupyter folders under ``home``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV", "JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "LESSONLIB_PRESENTER")
    }
    for var, sub in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
    ):
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(home / sub)
    env["PYTHONHASHSEED"] = "0"
    return env


@pytest.fixture(scope="session")
def repo_copy(tmp_path_factory) -> Path:
    return clone_files(tmp_path_factory.mktemp("clone"))
