"""Small real data sets shipped in the repository's data/ folder, and their standardisation. Nothing is downloaded."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

__all__ = ["DATA_DIR", "load_old_faithful", "load_challenger", "standardise"]

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


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


def load_challenger() -> tuple[np.ndarray, np.ndarray]:
    """The 23 Space Shuttle flights before Challenger: launch temperature (degrees F) and whether any
    O-ring of the field joints showed thermal distress (1) or not (0).

    Shapes: temperature (23,), distress (23,). Source and license: data/README.md.
    """
    path = DATA_DIR / "challenger_orings.csv"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: it ships with the course repository (data/README.md lists it).")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    temperature = np.array([float(r["temperature_F"]) for r in rows])
    distress = np.array([float(r["distress"]) for r in rows])
    return temperature, distress


def standardise(data: np.ndarray, dtype: torch.dtype | None = None) -> tuple[Tensor, np.ndarray, np.ndarray]:
    """u = (x - mean) / std per column, as a tensor, with the mean and std to undo it.

    Shapes: data (N, D) -> u (N, D), mean (D,), std (D,).

    A density in the original units is p_X(x) = p_U(u) / prod_d std_d, so
    log p_X(x) = log p_U(u) - sum_d log std_d. ``dtype`` defaults to torch's default dtype.
    """
    a = np.asarray(data, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] < 2:
        raise ValueError(f"data must have shape (N, D) with N >= 2, got {a.shape}.")
    if not np.isfinite(a).all():
        raise ValueError("data contains NaN or infinity: a density is only defined at finite points.")
    mean, std = a.mean(0), a.std(0)
    if (std == 0).any():
        raise ValueError("a column of the data is constant: dividing by a zero standard deviation is undefined.")
    return torch.as_tensor((a - mean) / std, dtype=dtype or torch.get_default_dtype()), mean, std
