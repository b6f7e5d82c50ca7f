"""A ring flow trained briefly, shared by notebook 05's tests."""

import pytest
import torch

from lessonlib.flows import make_flow
from lessonlib.toy2d import TARGETS, target_sampler
from lessonlib.training import train

RING = TARGETS["gaussian_ring"]()


@pytest.fixture(scope="package")
def trained():
    """A 4-layer flow trained briefly on the ring, in float64 like the rest of the suite.

    Package fixtures are built before the function-level float64 fixture runs, so set it here too.
    """
    old, threads = torch.get_default_dtype(), torch.get_num_threads()
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)  # tiny matrices: extra threads only add contention
    try:
        flow = make_flow(2, 4)
        train(flow, target_sampler(RING), steps=150, lr=5e-3, batch_size=256)
    finally:
        torch.set_default_dtype(old)
        torch.set_num_threads(threads)
    return flow
