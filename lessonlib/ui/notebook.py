"""One call at the top of every notebook: reproducible numbers and the course's figure style."""

from __future__ import annotations

import os
import random

import numpy as np

from lessonlib.ui.stills import install as install_stills
from lessonlib.ui.style import Style, show_presenter_css, use_style

__all__ = ["setup"]


def setup(seed: int = 0, presenter: bool | None = None, threads: int | None = None) -> Style:
    """Seed every generator, fix print precision, pin torch to ``threads`` threads, apply the style.

    One thread (the default; LESSONLIB_THREADS overrides it) keeps floating-point sums in the same order
    from run to run on one machine, and the course's models are small enough that it costs little.
    Other CPUs still round differently: numbers downstream of training are kept by claims with margins.
    Returns the Style in force. Presenter mode (``presenter=True`` or LESSONLIB_PRESENTER=1) enlarges
    figures, fonts and, through a stylesheet shown by this cell, widget controls.
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
        torch.set_num_threads(threads or int(os.environ.get("LESSONLIB_THREADS", "1")))
        torch.set_printoptions(precision=4, sci_mode=False)
    install_stills()  # the saved notebook keeps training figures and progress bars in their final state
    style = use_style(presenter)
    if style.presenter:  # bigger widget controls too (CSS); in normal mode setup() shows nothing
        show_presenter_css()
    return style
