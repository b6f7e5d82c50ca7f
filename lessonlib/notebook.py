"""One call at the top of every notebook: reproducible numbers and the course's figure style."""

from __future__ import annotations

import random

import numpy as np

from lessonlib.style import Style, use_style

__all__ = ["setup"]


def setup(seed: int = 0, presenter: bool | None = None, threads: int = 1) -> Style:
    """Seed every generator, fix print precision, pin torch to ``threads`` threads, apply the style.

    One thread keeps floating-point sums in the same order on every machine, so printed numbers
    and training curves are reproducible; the course's models are small enough that it costs little.
    Returns the Style in force (presenter mode enlarges figures and controls).
    """
    random.seed(seed)
    np.random.seed(seed)
    np.set_printoptions(precision=4, suppress=True)
    try:
        import torch
    except ImportError:  # the numpy-only notebooks work without torch
        pass
    else:
        torch.manual_seed(seed)
        torch.set_num_threads(threads)
        torch.set_printoptions(precision=4, sci_mode=False)
    return use_style(presenter)
