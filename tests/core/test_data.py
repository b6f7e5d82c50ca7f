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
