"""The data sets that ship with the course, and their standardisation."""

import numpy as np
import pytest
import torch

from lessonlib.data import load_old_faithful, standardise


def test_old_faithful_ships_with_the_repo():
    import hashlib

    from lessonlib.data import DATA_DIR

    digest = hashlib.sha256((DATA_DIR / "old_faithful.csv").read_bytes()).hexdigest()
    assert digest == "76d9e06c119631652a26afb150810dd045e86253948be24feb38124db7ad6780", "data/old_faithful.csv changed"
    d = load_old_faithful()
    assert d.shape == (272, 2)
    assert np.isfinite(d).all()
    assert 1.5 < d[:, 0].min() < 2.0 and 5.0 < d[:, 0].max() < 5.2  # eruption minutes
    assert 40 < d[:, 1].min() and d[:, 1].max() < 100  # waiting minutes


def test_standardise_undoes_and_refuses_bad_data():
    data = np.array([[1.0, 10.0], [2.0, 30.0], [3.0, 20.0]])
    u, mean, std = standardise(data)
    np.testing.assert_allclose(u.numpy() * std + mean, data)
    with pytest.raises(ValueError, match="constant"):
        standardise(np.array([[1.0, 2.0], [1.0, 3.0]]))
    with pytest.raises(ValueError, match="NaN"):
        standardise(np.array([[1.0, np.nan], [1.0, 3.0]]))


def test_standardise_gives_the_dtype_asked_for():
    data = np.array([[1.0, 10.0], [2.0, 30.0], [3.0, 20.0]])
    assert standardise(data)[0].dtype == torch.get_default_dtype()
    u64 = standardise(data, dtype=torch.float64)[0]
    assert u64.dtype == torch.float64
    np.testing.assert_array_equal(u64.numpy(), (data - data.mean(0)) / data.std(0))


# --- the 8x8 digits (notebook 08) ------------------------------------------------------------------


def test_digits_ship_with_the_repo():
    import hashlib

    from lessonlib.data import DATA_DIR, load_digits

    digest = hashlib.sha256((DATA_DIR / "digits.csv.gz").read_bytes()).hexdigest()
    assert digest == "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22", "data/digits.csv.gz changed"
    pixels, labels = load_digits()
    assert pixels.shape == (1797, 64) and labels.shape == (1797,)
    assert set(np.unique(pixels)) == set(range(17))  # all 17 grey levels occur
    assert np.bincount(labels).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_digit_split_is_fixed_and_disjoint():
    from lessonlib.data import DIGIT_SPLIT_SIZES, load_digits, split_digits

    s, again = split_digits(), split_digits()
    assert (len(s.train), len(s.val), len(s.test)) == DIGIT_SPLIT_SIZES == (1197, 300, 300)
    np.testing.assert_array_equal(s.test, again.test)
    pixels, _ = load_digits()
    rows = {tuple(r) for r in pixels}
    parts = [{tuple(r) for r in part} for part in (s.train, s.val, s.test)]
    assert sum(map(len, parts)) <= len(rows)
    # every image lands in exactly one part (duplicated images aside, which the file has none of here)
    assert len(rows) == 1797 and not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert not np.array_equal(split_digits(seed=1).test, s.test)
    with pytest.raises(ValueError, match="adding up to 1797"):
        split_digits(sizes=(1000, 300, 300))


def _write_digits(tmp_path, rows):
    import gzip

    path = tmp_path / "digits.csv.gz"
    with gzip.open(path, "wt") as f:
        f.write("\n".join(",".join(r) for r in rows) + "\n")
    return path


@pytest.mark.parametrize("bad,match", [
    (["3"] * 64, "row 2 has 64 fields"),
    (["3"] * 63 + ["x", "1"], "row 2 holds a field that is not a number"),
    (["3"] * 63 + ["nan", "1"], "row 2 holds NaN"),
    (["3"] * 63 + ["17", "1"], "row 2 holds a pixel outside the whole numbers 0..16"),
    (["3"] * 63 + ["2.5", "1"], "row 2 holds a pixel outside"),
    (["3"] * 64 + ["10"], "row 2 has the label 10"),
])
def test_a_damaged_digits_file_is_refused_naming_the_row(tmp_path, monkeypatch, bad, match):
    import lessonlib.data as data

    good = ["0"] * 64 + ["1"]
    _write_digits(tmp_path, [good, bad])
    monkeypatch.setattr(data, "DATA_DIR", tmp_path)
    with pytest.raises(ValueError, match=match) as err:
        data.load_digits()
    assert "digits.csv.gz" in str(err.value)


def test_every_package_is_installed_with_the_data():
    """pyproject.toml lists lessonlib's packages by hand (to map data/ onto lessonlib._data): none may be missing."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    conf = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {".".join(p.parent.relative_to(root).parts) for p in (root / "lessonlib").rglob("__init__.py")}
    assert folders - set(conf["packages"]) == set(), "add these packages to pyproject.toml [tool.setuptools] packages"
    assert conf["package-dir"]["lessonlib._data"] == "data"
    shipped = conf["package-data"]["lessonlib._data"]
    for f in (root / "data").iterdir():
        assert any(f.match(pattern) for pattern in shipped), f"data/{f.name} would not be installed"
