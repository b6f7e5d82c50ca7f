"""Small real data sets shipped in the repository's data/ folder. Nothing is downloaded."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

__all__ = ["DATA_DIR", "load_old_faithful"]

# In the repository, data/ sits beside lessonlib/; an installed lessonlib carries it as lessonlib/_data (pyproject.toml).
_HERE = Path(__file__).resolve().parent
DATA_DIR = _HERE / "_data" if (_HERE / "_data").is_dir() else _HERE.parent / "data"


def _load_csv(name: str) -> tuple[list[str], np.ndarray]:
    path = DATA_DIR / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: it ships with the course repository (data/README.md lists it).")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], np.array(rows[1:], dtype=np.float64)


def load_old_faithful() -> np.ndarray:
    """Old Faithful geyser, 272 eruptions: columns (eruption duration, waiting time to next), in minutes.

    Shapes: (272, 2). Source and license: data/README.md.
    """
    _, values = _load_csv("old_faithful.csv")
    return values
