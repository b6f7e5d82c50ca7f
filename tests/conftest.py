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
