"""A small trained ablation shared by notebook 10's experiment, plot and widget tests (few steps: the shapes and
the bookkeeping matter here, not the fit)."""

import pytest


@pytest.fixture(scope="session")
def quick_study():
    from lessonlib.lessons.l08_images.experiments import load_digit_tensors
    from lessonlib.lessons.l10_image_flows.experiments import ablation

    return ablation(load_digit_tensors(), seeds=(0, 1), steps=20)
