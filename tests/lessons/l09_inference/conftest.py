"""Small, fast fits shared by notebook 09's plot and widget tests (a few steps: the shapes matter here, not the fit)."""

import pytest


@pytest.fixture(scope="module")
def quick_fits():
    from lessonlib.lessons.l09_inference.experiments import mode_fits

    return mode_fits(separations=(2.0, 4.0, 6.0), steps=3, n_score=200, nx=16, ny=8)
