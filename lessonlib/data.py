"""Small real data sets shipped in the repository's data/ folder, and their standardisation. Nothing is downloaded.

Every file is checked on load: its header, its number of rows and columns, that every cell is a
finite number, and that the values lie in the range the data set can have. A damaged file (cut short,
header missing, a column added, a NaN, text in a cell, a ragged row) is refused with a ValueError that
names the file and the line, instead of giving a wrongly shaped array or NaNs to the lessons.
"""

from __future__ import annotations

import csv
import gzip
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from lessonlib.bijectors import check_batch, check_dtype
from lessonlib.inputs import count, describe, real_array
from lessonlib.inputs import generator as read_generator
from lessonlib.inputs import seed as read_seed

__all__ = [
    "DATA_DIR",
    "load_old_faithful",
    "load_challenger",
    "CHALLENGER",
    "load_csv",
    "standardise",
    "CsvSpec",
    "OLD_FAITHFUL",
    "train_validation_split",
    "dequantised",
    "load_digits",
    "split_digits",
    "DigitSplit",
    "DIGIT_LEVELS",
    "DIGIT_SHAPE",
    "DIGIT_SPLIT_SEED",
    "DIGIT_SPLIT_SIZES",
]

# In the repository, data/ sits beside lessonlib/; an installed lessonlib carries it as lessonlib/_data (pyproject.toml).
_HERE = Path(__file__).resolve().parent
DATA_DIR = _HERE / "_data" if (_HERE / "_data").is_dir() else _HERE.parent / "data"

_RESTORE = "Restore the file that ships with the course (git checkout data/{name}); data/README.md describes it."


#: The digits' grey levels: integers 0..16, so 17 possible values per pixel.
DIGIT_LEVELS = 17
#: Each digit is an 8 x 8 image, stored flat, row by row (64 numbers).
DIGIT_SHAPE = (8, 8)
#: The fixed split of the 1,797 digits: a permutation drawn by numpy.random.default_rng(DIGIT_SPLIT_SEED).
DIGIT_SPLIT_SEED = 0
#: (training, validation, test) sizes; they add up to 1,797.
DIGIT_SPLIT_SIZES = (1197, 300, 300)


@dataclass(frozen=True)
class CsvSpec:
    """What a data file must hold: its name, header, number of data rows and each column's range (lo, hi)."""

    name: str
    header: tuple[str, ...]
    rows: int
    ranges: tuple[tuple[float, float] | None, ...]  # None: a column of labels, kept out of the numbers (NaN)


#: Old Faithful: eruption duration and waiting time, both in minutes (data/README.md).
OLD_FAITHFUL = CsvSpec("old_faithful.csv", ("eruptions_min", "waiting_min"), 272, ((0.5, 10.0), (20.0, 200.0)))


def _problem(path: Path, line: int | None, what: str) -> ValueError:
    where = f"{path.name}, line {line}" if line is not None else path.name
    return ValueError(f"{where}: {what}. {_RESTORE.format(name=path.name)}")


def _missing(path: Path) -> str:
    """Why a data file is not there: a course file gone from data/, or a path of the caller's own that is wrong."""
    if path.resolve().parent == DATA_DIR.resolve() and (DATA_DIR / "README.md").exists():
        listed = path.name in (DATA_DIR / "README.md").read_text(encoding="utf-8")
        if listed:
            return f"{path} is missing: it ships with the course repository (data/README.md lists it); restore it."
        return f"there is no {path.name} in data/: the course's files are listed in data/README.md."
    return f"there is no file at {path}: check the path (leave it out to load the course's own copy from data/)."


def _read_rows(path: Path) -> list[list[str]]:
    if not path.exists():
        raise FileNotFoundError(_missing(path))
    if not path.is_file():
        raise ValueError(f"{path} is a folder, not a file: give the path of the CSV file itself.")
    try:  # utf-8-sig: a file saved by a spreadsheet starts with an invisible byte-order mark, which is not part of the header
        with open(path, newline="", encoding="utf-8-sig") as f:
            return [row for row in csv.reader(f)]
    except (UnicodeDecodeError, csv.Error) as e:
        raise _problem(path, None, f"the file is not a readable CSV text file ({e})") from None


def _parse(path: Path, spec: CsvSpec, rows: list[list[str]]) -> np.ndarray:
    """The data rows as floats; the first bad cell named by its line (the header is line 1)."""
    width = len(spec.header)
    values = np.empty((len(rows) - 1, width))
    for i, row in enumerate(rows[1:]):
        line = i + 2
        if len(row) != width:
            raise _problem(
                path, line, f"{len(row)} cells ({','.join(row)!r}), expected {width} ({', '.join(spec.header)})"
            )
        for j, cell in enumerate(row):
            if spec.ranges[j] is None:
                values[i, j] = np.nan
                continue
            try:
                v = float(cell)
            except ValueError:
                raise _problem(path, line, f"the cell {cell!r} in column {spec.header[j]} is not a number") from None
            lo, hi = spec.ranges[j]
            if not np.isfinite(v):
                raise _problem(path, line, f"{spec.header[j]} is {cell!r}: every value must be a finite number")
            if not lo <= v <= hi:
                raise _problem(
                    path, line, f"{spec.header[j]} = {v:g} is outside the range {lo:g} to {hi:g} this data can have"
                )
            values[i, j] = v
    return values


def load_csv(spec: CsvSpec, path: Path | str | None = None) -> np.ndarray:
    """The data rows of a file described by ``spec``, checked (header, rows, columns, numbers, ranges).

    Shapes: -> (spec.rows, len(spec.header)). ``path`` defaults to DATA_DIR / spec.name.
    """
    path = _path(path, spec.name)
    rows = _read_rows(path)
    while rows and rows[-1] == []:  # blank lines at the end
        rows.pop()
    if not rows:
        raise _problem(path, None, "the file is empty")
    if tuple(cell.strip() for cell in rows[0]) != spec.header:
        raise _problem(
            path,
            1,
            f"the header is {','.join(rows[0])!r}, expected {','.join(spec.header)!r} "
            "(a file without its header line, or with other columns?)",
        )
    values = _parse(path, spec, rows)
    if values.shape[0] != spec.rows:
        raise _problem(
            path, None, f"{values.shape[0]} data rows, expected {spec.rows}: the file is cut short or has extra rows"
        )
    return values


def _path(path: Path | str | None, name: str) -> Path:
    """``path`` as a Path (DATA_DIR / name when None); TypeError for anything that is not a file name."""
    if path is None:
        return DATA_DIR / name
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file name (a str or a pathlib.Path), got {describe(path)}.")
    return Path(path)


def load_old_faithful(path: Path | str | None = None) -> np.ndarray:
    """Old Faithful geyser, 272 eruptions: columns (eruption duration, waiting time to next), in minutes.

    Shapes: (272, 2). Source and license: data/README.md. ``path``: another copy of the file (tests).
    """
    return load_csv(OLD_FAITHFUL, path)


def _digit_row(row: list[str], k: int, name: str) -> list[float]:
    """One row of digits.csv.gz as 65 numbers (64 pixels, then the label), or a ValueError naming the row."""
    where = f"{name}, row {k + 1}"
    if len(row) != 65:
        raise ValueError(
            f"{where} has {len(row)} fields; each row must hold 64 pixels and a label. "
            "The file is damaged: restore it from the repository (data/README.md gives its SHA-256)."
        )
    try:
        values = [float(v) for v in row]
    except ValueError:
        raise ValueError(
            f"{where} holds a field that is not a number: {row[:5]}... Restore the file from the repository."
        ) from None
    a = np.array(values)
    if not np.isfinite(a).all():
        raise ValueError(
            f"{where} holds NaN or infinity; pixels are whole numbers 0..16. Restore the file from the repository."
        )
    pixels, label = a[:64], a[64]
    if (pixels != np.round(pixels)).any() or pixels.min() < 0 or pixels.max() > DIGIT_LEVELS - 1:
        raise ValueError(
            f"{where} holds a pixel outside the whole numbers 0..{DIGIT_LEVELS - 1} "
            f"(min {pixels.min():g}, max {pixels.max():g}). Restore the file from the repository."
        )
    if label not in range(10):
        raise ValueError(
            f"{where} has the label {label:g}; labels are the digits 0..9. Restore the file from the repository."
        )
    return values


def load_digits(name: str = "digits.csv.gz") -> tuple[np.ndarray, np.ndarray]:
    """The UCI 8x8 handwritten digits: 1,797 images of 64 whole-number pixels in 0..16, and their labels.

    Shapes: -> pixels (1797, 64) float64, row by row of the 8 x 8 image; labels (1797,) int64.
    Every row is checked (64 pixels and a label, whole numbers in range, finite); a bad row raises a
    ValueError naming the file and the row. Source and license: data/README.md.
    """
    path = DATA_DIR / _path(
        name, "digits.csv.gz"
    )  # a relative name is looked up in DATA_DIR; an absolute path is used as it is
    if not path.exists():
        raise FileNotFoundError(_missing(path))
    try:
        with gzip.open(path, "rt", newline="", encoding="utf-8") as f:
            rows = [_digit_row(row, k, name) for k, row in enumerate(csv.reader(f))]
    except EOFError:
        raise ValueError(
            f"{name} is cut short: its compressed data ends early. Restore the file from the repository "
            "(data/README.md gives its SHA-256)."
        ) from None
    except (OSError, UnicodeDecodeError, csv.Error) as e:  # gzip.BadGzipFile is an OSError
        raise ValueError(
            f"{name} is not a readable gzip file of CSV text ({type(e).__name__}: {e}). Restore the file from "
            "the repository (data/README.md gives its SHA-256)."
        ) from None
    if len(rows) != sum(DIGIT_SPLIT_SIZES):
        raise ValueError(
            f"{name} has {len(rows)} rows, expected {sum(DIGIT_SPLIT_SIZES)}. Restore the file from the repository."
        )
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
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__") or len(sizes) != 3:
        raise ValueError(f"sizes must be three positive counts adding up to {len(pixels)}, got {sizes!r}.")
    sizes = tuple(count(n, "each of sizes", minimum=1) for n in sizes)
    if sum(sizes) != len(pixels):
        raise ValueError(f"sizes must be three positive counts adding up to {len(pixels)}, got {sizes}.")
    order = np.random.default_rng(read_seed(seed, for_numpy=True)).permutation(len(pixels))
    a, b = sizes[0], sizes[0] + sizes[1]
    parts = (order[:a], order[a:b], order[b:])
    return DigitSplit(*(pixels[p] for p in parts), *(labels[p] for p in parts))


#: The Challenger O-ring file: flight (a label such as 41B), launch temperature (F), leak-check pressure (psi), any distress (0/1), how many.
CHALLENGER = CsvSpec(
    "challenger_orings.csv",
    ("flight", "temperature_F", "pressure_psi", "distress", "n_distressed"),
    23,
    (None, (30.0, 100.0), (0.0, 300.0), (0.0, 1.0), (0.0, 6.0)),
)


def load_challenger(path: Path | str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The 23 Space Shuttle flights before Challenger: launch temperature (degrees F) and whether any
    O-ring of the field joints showed thermal distress (1) or not (0).

    Shapes: temperature (23,), distress (23,). Source and license: data/README.md. Checked like every
    data file (``load_csv``); ``path``: another copy of the file (tests).
    """
    values = load_csv(CHALLENGER, path)
    if not np.isin(values[:, 3], (0.0, 1.0)).all():
        raise _problem(Path(path or DATA_DIR / CHALLENGER.name), None, "distress must be 0 or 1 in every row")
    return values[:, 1], values[:, 3]


def standardise(data: np.ndarray, dtype: torch.dtype | None = None) -> tuple[Tensor, np.ndarray, np.ndarray]:
    """u = (x - mean) / std per column, as a tensor, with the mean and std to undo it.

    Shapes: data (N, D) -> u (N, D), mean (D,), std (D,).

    A density in the original units is p_X(x) = p_U(u) / prod_d std_d, so
    log p_X(x) = log p_U(u) - sum_d log std_d. ``dtype`` defaults to torch's default dtype.
    """
    a = real_array(data, "data", finite=False)
    if a.ndim != 2 or a.shape[0] < 2:
        raise ValueError(f"data must have shape (N, D) with N >= 2, got {a.shape}.")
    if not np.isfinite(a).all():
        raise ValueError("data contains NaN or infinity: a density is only defined at finite points.")
    mean, std = a.mean(0), a.std(0)
    if (std == 0).any():
        raise ValueError("a column of the data is constant: dividing by a zero standard deviation is undefined.")
    return torch.as_tensor((a - mean) / std, dtype=check_dtype(dtype) or torch.get_default_dtype()), mean, std


def train_validation_split(data: np.ndarray, n_validation: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows shuffled by ``seed``, then (training rows, the last ``n_validation`` rows held out).

    Shapes: data (N, ...) -> (N - n_validation, ...), (n_validation, ...).
    """
    if data is None or isinstance(data, (str, bytes)):
        raise TypeError(f"data must be an array of rows (N, ...), got {describe(data)}.")
    a = np.asarray(data)
    if a.ndim == 0:
        raise ValueError(f"data must be an array of rows (N, ...), got a single value of shape {a.shape}.")
    n_validation = count(n_validation, "n_validation")
    if len(a) < 2:
        raise ValueError(f"data has {len(a)} row(s): a split into training and validation rows needs at least 2.")
    if not 0 < n_validation < len(a):
        raise ValueError(
            f"n_validation must be between 1 and {len(a) - 1} (the data has {len(a)} rows), got {n_validation}."
        )
    order = np.random.default_rng(read_seed(seed, for_numpy=True)).permutation(len(a))
    return a[order[:-n_validation]], a[order[-n_validation:]]


def dequantised(x: Tensor, unit) -> Callable[[int, torch.Generator], Tensor]:
    """A sampler f(n, generator): n rows of x drawn with replacement, each coordinate moved by u ~ U(-unit/2, unit/2).

    Shapes: x (N, D); unit a number or (D,): the rounding step of each column, in x's units.

    Data rounded to a grid (eruptions to the second, waits to the minute) put all their mass on grid
    points, where a continuous density can grow without bound. Spreading each point uniformly over its
    rounding cell gives the model a density it can fit honestly, with fresh noise at every step.
    """
    x = check_batch(x, None, "x")
    if x.shape[0] == 0:
        raise ValueError("x is empty (0 rows): there are no data points to draw from.")
    steps = real_array(unit, "unit").reshape(-1)
    if steps.size not in (1, x.shape[1]):
        raise ValueError(
            f"unit has {steps.size} values for {x.shape[1]} columns: give one rounding step per column, or one for all."
        )
    if not (steps > 0).all():
        raise ValueError(f"unit must be positive in every column, got {unit!r}.")
    width = torch.as_tensor(steps, dtype=x.dtype).expand(x.shape[1:])

    def draw(n: int, gen: torch.Generator) -> Tensor:
        rows = x[torch.randint(len(x), (count(n, "n"),), generator=read_generator(gen, "gen"))]
        return rows + (torch.rand(rows.shape, generator=gen, dtype=x.dtype) - 0.5) * width

    return draw
