"""Notebook 06's exercise checkers: the right answers pass, the typical wrong answers get their hint."""

from lessonlib.lessons.l06_where_flows_fit.exercises import check_maf_passes, check_ode_log_density_change, check_reparameterized


def test_check_maf_passes():
    assert check_maf_passes((5, 1))
    assert "swapped" in check_maf_passes((1, 5)).message
    assert "batch size" in check_maf_passes((10, 1)).message
    assert "not attempted" in check_maf_passes(None).message


def test_check_ode_log_density_change():
    assert check_ode_log_density_change(1.0)
    assert "MINUS" in check_ode_log_density_change(-1.0).message
    assert "T = 2" in check_ode_log_density_change(0.5).message
    assert "DIAGONAL" in check_ode_log_density_change(6.0).message


def test_check_reparameterized():
    assert check_reparameterized(lambda e: 2.0 + 0.5 * e)
    assert "swapped" in check_reparameterized(lambda e: 0.5 + 2.0 * e).message
    assert "variance" in check_reparameterized(lambda e: 2.0 + 0.25 * e).message
    assert "inverse map" in check_reparameterized(lambda e: (e - 2.0) / 0.5).message
    assert "raised" in check_reparameterized(lambda e: e.nonexistent()).message
    assert "not attempted" in check_reparameterized(lambda e: None).message
