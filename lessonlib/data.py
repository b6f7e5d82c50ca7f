"""Small real data sets shipped in the repository's data/ folder, and their standardisation. Nothing is downloaded."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "DATA_DIR", "load_old_faithful", "standardise", "load_digits", "split_digits", "DigitSplit",
    "DIGIT_LEVELS", "DIGIT_SHAPE", "DIGIT_SPLIT_SEED", "DIGIT_SPLIT_SIZES",
]

# In the repository, data/ sits beside lessonlib/; an installed lessonlib (`pip install .`) carries it as
# lessonlib/_data (pyproject.toml maps the package lessonlib._data onto data/), which is looked at first.
_HERE = Path(__file__).resolve().parent
DATA_DIR = _HERE / "_data" if (_HERE / "_data").is_dir() else _HERE.parent / "data"

#: The digits' grey levels: integers 0..16, so 17 possible values per pixel.
DIGIT_LEVELS = 17
#: Each digit is an 8 x 8 image, stored flat, row by row (64 numbers).
DIGIT_SHAPE = (8, 8)
#: The fixed split of the 1,797 digits: a permutation drawn by numpy.random.default_rng(DIGIT_SPLIT_SEED).
DIGIT_SPLIT_SEED = 0
#: (training, validation, test) sizes; they add up to 1,797.
DIGIT_SPLIT_SIZES = (1197, 300, 300)


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


def _digit_row(row: list[str], k: int, name: str) -> list[float]:
    """One row of digits.csv.gz as 65 numbers (64 pixels, then the label), or a ValueError naming the row."""
    where = f"{name}, row {k + 1}"
    if len(row) != 65:
        raise ValueError(f"{where} has {len(row)} fields; each row must hold 64 pixels and a label. "
                         "The file is damaged: restore it from the repository (data/README.md gives its SHA-256).")
    try:
        values = [float(v) for v in row]
    except ValueError:
        raise ValueError(f"{where} holds a field that is not a number: {row[:5]}... Restore the file from the repository.") from None
    a = np.array(values)
    if not np.isfinite(a).all():
        raise ValueError(f"{where} holds NaN or infinity; pixels are whole numbers 0..16. Restore the file from the repository.")
    pixels, label = a[:64], a[64]
    if (pixels != np.round(pixels)).any() or pixels.min() < 0 or pixels.max() > DIGIT_LEVELS - 1:
        raise ValueError(f"{where} holds a pixel outside the whole numbers 0..{DIGIT_LEVELS - 1} "
                         f"(min {pixels.min():g}, max {pixels.max():g}). Restore the file from the repository.")
    if label not in range(10):
        raise ValueError(f"{where} has the label {label:g}; labels are the digits 0..9. Restore the file from the repository.")
    return values


def load_digits(name: str = "digits.csv.gz") -> tuple[np.ndarray, np.ndarray]:
    """The UCI 8x8 handwritten digits: 1,797 images of 64 whole-number pixels in 0..16, and their labels.

    Shapes: -> pixels (1797, 64) float64, row by row of the 8 x 8 image; labels (1797,) int64.
    Every row is checked (64 pixels and a label, whole numbers in range, finite); a bad row raises a
    ValueError naming the file and the row. Source and license: data/README.md.
    """
    path = DATA_DIR / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: it ships with the course repository (data/README.md lists it).")
    with gzip.open(path, "rt", newline="", encoding="utf-8") as f:
        rows = [_digit_row(row, k, name) for k, row in enumerate(csv.reader(f))]
    if len(rows) != sum(DIGIT_SPLIT_SIZES):
        raise ValueError(f"{name} has {len(rows)} rows, expected {sum(DIGIT_SPLIT_SIZES)}. Restore the file from the repository.")
    a = np.array(rows)
    return a[:, :64], a[:, 64].astype(np.int64)


class DigitSplit(NamedTuple):
    """Pixels (N, 64) and labels (N,) of the training, validation and test digits."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    train_labels: np.ndarray
    val_labels: np.ndarray
    test_labels: np.ndarray


def split_digits(seed: int = DIGIT_SPLIT_SEED, sizes: tuple[int, int, int] = DIGIT_SPLIT_SIZES) -> DigitSplit:
    """The course's fixed training / validation / test split of the digits (1197 / 300 / 300 by default).

    Shapes: -> DigitSplit of (n, 64) pixel arrays and (n,) labels. The same seed gives the same split on
    every machine (numpy's PCG64 permutation); no image is in two parts.
    """
    pixels, labels = load_digits()
    if len(sizes) != 3 or min(sizes) < 1 or sum(sizes) != len(pixels):
        raise ValueError(f"sizes must be three positive counts adding up to {len(pixels)}, got {sizes}.")
    order = np.random.default_rng(seed).permutation(len(pixels))
    a, b = sizes[0], sizes[0] + sizes[1]
    parts = (order[:a], order[a:b], order[b:])
    return DigitSplit(*(pixels[p] for p in parts), *(labels[p] for p in parts))


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
