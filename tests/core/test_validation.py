"""Held-out evaluation: the split, the validation curve with early stopping, dequantised sampling."""

import numpy as np
import pytest
import torch

from lessonlib.data import dequantised, train_validation_split
from lessonlib.flows import make_flow
from lessonlib.training import ValidationCurve, nll, train


def test_split_is_a_seeded_partition():
    data = np.arange(20).reshape(10, 2)
    a, b = train_validation_split(data, 3, seed=1)
    assert a.shape == (7, 2) and b.shape == (3, 2)
    assert sorted(np.concatenate([a, b])[:, 0].tolist()) == list(range(0, 20, 2))
    assert np.array_equal(train_validation_split(data, 3, seed=1)[1], b)
    with pytest.raises(ValueError, match="n_validation"):
        train_validation_split(data, 10)


def test_validation_curve_keeps_the_best_model_and_restores_it():
    gen = torch.Generator().manual_seed(0)
    x_train, x_val = torch.randn(40, 2, generator=gen), torch.randn(40, 2, generator=gen)
    flow = make_flow(2, 2, hidden=(16,), dtype=torch.float64)
    curve = ValidationCurve(flow, x_val)
    train(flow, x_train, steps=300, lr=3e-2, batch_size=None, callback=curve, callback_every=20)
    assert curve.steps == list(range(0, 301, 20)) and len(curve.val_nll) == len(curve.train_nll) == 16
    assert (
        curve.best_val_nll == min(curve.val_nll)
        and curve.val_nll[curve.steps.index(curve.best_step)] == curve.best_val_nll
    )
    assert curve.val_nll[-1] > curve.best_val_nll  # 40 points, 300 steps at a high rate: it overfits
    curve.restore_best()
    with torch.no_grad():
        assert float(nll(flow, x_val)) == pytest.approx(curve.best_val_nll, abs=1e-12)


def test_dequantised_sampler_stays_inside_each_rounding_cell():
    x = torch.tensor([[1.0, 10.0], [2.0, 20.0]], dtype=torch.float64)
    draw = dequantised(x, [0.1, 1.0])
    s = draw(1000, torch.Generator().manual_seed(0))
    nearest = x[(s[:, None, 1] - x[None, :, 1]).abs().argmin(1)]
    assert ((s - nearest).abs() <= torch.tensor([0.05, 0.5], dtype=torch.float64)).all()
    assert (
        (s - nearest).abs().max(0).values.gt(torch.tensor([0.045, 0.45], dtype=torch.float64)).all()
    )  # fills the cell
    with pytest.raises(ValueError, match="positive"):
        dequantised(x, [0.0, 1.0])
