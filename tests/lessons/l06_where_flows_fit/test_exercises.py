"""Notebook 06's exercise checkers: the right answers pass, the typical wrong answers get their hint."""

import numpy as np
import torch

from lessonlib.lessons.l06_where_flows_fit.exercises import (
    check_maf_passes,
    check_ode_log_density_change,
    check_reparameterized,
)


def test_check_maf_passes():
    assert check_maf_passes((5, 1))
    assert "swapped" in check_maf_passes((1, 5)).message
    assert "batch size" in check_maf_passes((10, 1)).message
    assert "not attempted" in check_maf_passes(None).message
    assert check_maf_passes([5.0, 1.0]) and check_maf_passes(torch.tensor([5, 1]))
    assert "sampling cannot be one pass" in check_maf_passes((1, 1)).message
    for odd in (5, (5, 1, 1), "5, 1"):
        r = check_maf_passes(odd)
        assert not r and "two numbers" in r.message, r.message


def test_check_ode_log_density_change():
    assert check_ode_log_density_change(1.0)
    assert "MINUS" in check_ode_log_density_change(-1.0).message
    assert "T = 2" in check_ode_log_density_change(0.5).message
    assert "DIAGONAL" in check_ode_log_density_change(6.0).message
    assert "tr(A) alone" in check_ode_log_density_change(-0.5).message
    assert check_ode_log_density_change(torch.tensor(1.0)) and check_ode_log_density_change(np.array([1.0]))
    for odd, words in ((True, "got True"), (b"1", "bytes"), ((1.0, 2.0), "a pair"), (float("nan"), "NaN")):
        r = check_ode_log_density_change(odd)
        assert not r and words in r.message, r.message


def test_check_reparameterized():
    assert check_reparameterized(lambda e: 2.0 + 0.5 * e)
    assert "swapped" in check_reparameterized(lambda e: 0.5 + 2.0 * e).message
    assert "variance" in check_reparameterized(lambda e: 2.0 + 0.25 * e).message
    assert "inverse map" in check_reparameterized(lambda e: (e - 2.0) / 0.5).message
    assert "raised" in check_reparameterized(lambda e: e.nonexistent()).message
    assert "not attempted" in check_reparameterized(None).message
    assert "forget the return" in check_reparameterized(lambda e: None).message
    assert check_reparameterized(lambda e: (2.0 + 0.5 * e).float())
    assert "not a torch tensor" in check_reparameterized(lambda e: 2.0 + 0.5 * e.numpy()).message
    assert not check_reparameterized(lambda e: 2.0)
    assert "expected a function of eps" in check_reparameterized(2.0).message
