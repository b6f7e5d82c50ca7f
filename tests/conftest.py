"""Shared test set-up for tests/: deterministic hypothesis runs, float64 by default."""

import pytest
from hypothesis import settings

settings.register_profile("course", deadline=None, derandomize=True, max_examples=25, print_blob=True)
settings.load_profile("course")


@pytest.fixture(autouse=True)
def _float64_default():
    import torch

    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def pytest_configure(config):
    """One torch thread, as lessonlib.ui.notebook.setup() pins in the notebooks, from before collection on
    (some test modules build widgets and train small flows when they are imported).

    The course's tensors are tiny: with several threads each op pays for synchronisation, and with two
    test processes on a busy 2-core machine a small training ran 10 times slower with two threads than
    with one (0.32 s against 3.2 s for notebook 09's mode fits of 3 steps, at load 6.8).
    """
    import torch

    torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="module")
def _close_figures_after_each_module():
    """Widget tests keep module-scoped widgets (and their pyplot figures) alive for the whole module;
    closing everything when the module is done keeps pyplot's registry from piling up figures."""
    yield
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
