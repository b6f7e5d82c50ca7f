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


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """One torch thread, as lessonlib.ui.notebook.setup() pins in the notebooks.

    The course's tensors are tiny: with several threads each op pays for synchronisation, and on a
    busy 2-core machine the property suite ran 20-30 times slower than with one thread.
    """
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(autouse=True, scope="module")
def _close_figures_after_each_module():
    """Widget tests keep module-scoped widgets (and their pyplot figures) alive for the whole module;
    closing everything when the module is done keeps pyplot's registry from piling up figures."""
    yield
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
