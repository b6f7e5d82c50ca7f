"""Small real data sets shipped in the repository's data/ folder, and their standardisation. Nothing is downloaded."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor

__all__ = ["DATA_DIR", "load_old_faithful", "standardise", "train_validation_split", "dequantised"]

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


def train_validation_split(data: np.ndarray, n_validation: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows shuffled by ``seed``, then (training rows, the last ``n_validation`` rows held out).

    Shapes: data (N, ...) -> (N - n_validation, ...), (n_validation, ...).
    """
    a = np.asarray(data)
    if not 0 < n_validation < len(a):
        raise ValueError(f"n_validation must be between 1 and {len(a) - 1} (the data has {len(a)} rows), got {n_validation}.")
    order = np.random.default_rng(seed).permutation(len(a))
    return a[order[:-n_validation]], a[order[-n_validation:]]


def dequantised(x: Tensor, unit) -> Callable[[int, torch.Generator], Tensor]:
    """A sampler f(n, generator): n rows of x drawn with replacement, each coordinate moved by u ~ U(-unit/2, unit/2).

    Shapes: x (N, D); unit a number or (D,): the rounding step of each column, in x's units.

    Data rounded to a grid (eruptions to the second, waits to the minute) put all their mass on grid
    points, where a continuous density can grow without bound. Spreading each point uniformly over its
    rounding cell gives the model a density it can fit honestly, with fresh noise at every step.
    """
    x = torch.as_tensor(x)
    width = torch.as_tensor(unit, dtype=x.dtype).expand(x.shape[1:])
    if not (width > 0).all():
        raise ValueError(f"unit must be positive in every column, got {unit!r}.")

    def draw(n: int, gen: torch.Generator) -> Tensor:
        rows = x[torch.randint(len(x), (n,), generator=gen)]
        return rows + (torch.rand(rows.shape, generator=gen, dtype=x.dtype) - 0.5) * width

    return draw
