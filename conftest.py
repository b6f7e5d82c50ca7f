"""Root pytest configuration: applies to tests/ and to the notebooks run by nbval.

Notebook cells are compared in one of two ways (tools/nbcompare.py says why):

* exact cells (the default): strict nbval, every output byte for byte, figures included;
* cells tagged ``approx`` (machine-dependent: downstream of training): same kinds of output, same words,
  numbers within the cell's tolerance, figures present but not byte-compared.
"""

import os
import sys
from pathlib import Path
from types import MethodType

sys.path.insert(0, str(Path(__file__).resolve().parent / "tools"))

import nbcompare  # noqa: E402  (tools/ is put on the path just above)

# Notebook figures are rendered in the normal (not presenter) style under test.
os.environ.pop("LESSONLIB_PRESENTER", None)
# A claim that misses fails a test run (in every kernel started from here: nbval's, the hub's, JupyterLab's);
# in a learner's kernel it prints a note and the notebook goes on (lessonlib/claims.py).
os.environ["LESSONLIB_STRICT_CLAIMS"] = "1"


def _compare_approx(item, test, ref, skip_compare=None):
    """nbval's compare_outputs for an approx cell: tolerance on numbers, figures present, not byte-compared."""
    rtol, atol = nbcompare.tolerance(item.cell)
    problems = nbcompare.compare_approx(item.sanitize_outputs(ref), item.sanitize_outputs(test), rtol, atol)
    item.comparison_traceback = [
        "This cell is tagged approx (machine-dependent); its outputs were compared with a tolerance:",
        *problems,
    ]
    return not problems


def pytest_collection_modifyitems(session, config, items):
    """Make strict nbval compare figures of exact cells, and compare approx cells with a tolerance.

    nbval skips image/png by default, so a changed figure would pass unnoticed. The pinned matplotlib
    writes byte-identical PNGs for the same figure, so exact cells compare them. Fix a failure with
    `python3 course.py regenerate`.
    """
    for item in items:
        parent = getattr(item, "parent", None)
        skip = getattr(parent, "skip_compare", None)
        if skip is not None and "image/png" in skip:
            parent.skip_compare = tuple(k for k in skip if k != "image/png")
        cell = getattr(item, "cell", None)
        if cell is not None and nbcompare.is_approx(cell):
            item.compare_outputs = MethodType(_compare_approx, item)
