"""The data sets that ship with the course, and their standardisation."""

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
    assert digest == "7c7cac5b607545f5ebb7ea710eebbf4995008d582003336d7e79ad19d7c90f53", "data/challenger_orings.csv changed"
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
