"""The data sets that ship with the course, and their standardisation."""

from pathlib import Path

import numpy as np
import pytest
import torch

from lessonlib.data import load_challenger, load_old_faithful, standardise


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


def test_challenger_ships_with_the_repo():
    import hashlib

    from lessonlib.data import DATA_DIR

    digest = hashlib.sha256((DATA_DIR / "challenger_orings.csv").read_bytes()).hexdigest()
    assert digest == "7c7cac5b607545f5ebb7ea710eebbf4995008d582003336d7e79ad19d7c90f53", (
        "data/challenger_orings.csv changed"
    )
    temperature, distress = load_challenger()
    assert temperature.shape == distress.shape == (23,)
    assert temperature.min() == 53 and temperature.max() == 81  # degrees F; Challenger launched at about 31
    assert distress.sum() == 7 and set(distress) == {0.0, 1.0}
    assert distress[temperature < 65].all()  # the four coldest launches all had O-ring distress


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


# --- damaged copies of the file are refused, naming the file and the line ----------------------------


def _damaged(tmp_path, edit) -> str:
    from lessonlib.data import DATA_DIR

    lines = (DATA_DIR / "old_faithful.csv").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "old_faithful.csv"
    path.write_text(edit(lines), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    "what, edit, words",
    [
        (
            "truncated",
            lambda ls: "\n".join(ls[:51]) + "\n",
            r"old_faithful.csv: 50 data rows, expected 272: the file is cut short",
        ),
        (
            "cut mid-row",
            lambda ls: "\n".join(ls[:51]) + "\n3.6,",
            r"old_faithful.csv, line 52: the cell '' in column waiting_min is not a number",
        ),
        (
            "header-less",
            lambda ls: "\n".join(ls[1:]) + "\n",
            r"old_faithful.csv, line 1: the header is '3.6,79', expected 'eruptions_min,waiting_min'",
        ),
        (
            "extra column",
            lambda ls: "\n".join([ls[0] + ",extra"] + [ln + ",1" for ln in ls[1:]]) + "\n",
            "line 1: the header is",
        ),
        (
            "extra cell in a row",
            lambda ls: "\n".join(ls[:4] + [ls[4] + ",7"] + ls[5:]) + "\n",
            r"line 5: 3 cells \('2.283,62,7'\), expected 2",
        ),
        (
            "NaN",
            lambda ls: "\n".join(ls[:6] + ["3.6,nan"] + ls[7:]) + "\n",
            "line 7: waiting_min is 'nan': every value must be a finite number",
        ),
        ("empty", lambda ls: "", "old_faithful.csv: the file is empty"),
        ("header only", lambda ls: ls[0] + "\n", "0 data rows, expected 272"),
        (
            "non-numeric",
            lambda ls: "\n".join(ls[:8] + ["3.6,abc"] + ls[9:]) + "\n",
            "line 9: the cell 'abc' in column waiting_min is not a number",
        ),
        ("ragged", lambda ls: "\n".join(ls[:10] + ["3.6"] + ls[11:]) + "\n", r"line 11: 1 cells \('3.6'\), expected 2"),
        (
            "out of range",
            lambda ls: "\n".join(ls[:3] + ["-3.6,79"] + ls[4:]) + "\n",
            "line 4: eruptions_min = -3.6 is outside the range 0.5 to 10",
        ),
        ("control characters", lambda ls: "\x00\x01\x02", r"line 1: the header is '\\x00\\x01\\x02'"),
    ],
)
def test_a_damaged_old_faithful_file_is_refused_with_its_name_and_line(tmp_path, what, edit, words):
    path = _damaged(tmp_path, edit)
    with pytest.raises(ValueError, match=words) as info:
        load_old_faithful(path)
    assert "git checkout data/old_faithful.csv" in str(info.value), what


def test_a_file_that_is_not_text_is_named(tmp_path):
    path = tmp_path / "old_faithful.csv"
    path.write_bytes(b"\xff\xfe\x89PNG\r\n")
    with pytest.raises(ValueError, match="old_faithful.csv: the file is not a readable CSV text file"):
        load_old_faithful(path)


def test_an_intact_copy_loads_and_a_missing_one_is_named(tmp_path):
    path = _damaged(tmp_path, lambda ls: "\n".join(ls) + "\n\n")  # blank lines at the end are fine
    np.testing.assert_array_equal(load_old_faithful(path), load_old_faithful())
    with pytest.raises(FileNotFoundError, match="there is no file at .*old_faithful.csv: check the path"):
        load_old_faithful(tmp_path / "nothing" / "old_faithful.csv")


def test_a_missing_file_is_named_as_the_course_s_or_as_a_wrong_path():
    from lessonlib.data import DATA_DIR, _missing

    assert "ships with the course repository" in _missing(DATA_DIR / "old_faithful.csv")  # a course file gone
    assert "no typo.csv in data/" in _missing(DATA_DIR / "typo.csv")  # a name data/ never had
    assert "check the path" in _missing(Path("/nowhere/old_faithful.csv"))  # the caller's own path


def test_standardise_refuses_complex_and_text():
    with pytest.raises(ValueError, match="complex"):
        standardise(np.ones((3, 2)) * 1j)
    with pytest.raises(TypeError, match="numbers"):
        standardise([["a", "b"], ["c", "d"]])


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


@pytest.mark.parametrize(
    "bad,match",
    [
        (["3"] * 64, "row 2 has 64 fields"),
        (["3"] * 63 + ["x", "1"], "row 2 holds a field that is not a number"),
        (["3"] * 63 + ["nan", "1"], "row 2 holds NaN"),
        (["3"] * 63 + ["17", "1"], "row 2 holds a pixel outside the whole numbers 0..16"),
        (["3"] * 63 + ["2.5", "1"], "row 2 holds a pixel outside"),
        (["3"] * 64 + ["10"], "row 2 has the label 10"),
    ],
)
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
