"""Root pytest configuration: applies to tests/ and to the notebooks run by nbval."""

import os

# Notebook figures are rendered in the normal (not presenter) style under test.
os.environ.pop("LESSONLIB_PRESENTER", None)


def pytest_collection_modifyitems(session, config, items):
    """Make strict nbval compare figures too.

    nbval skips image/png by default, so a stale figure (code changed, outputs not regenerated)
    would pass unnoticed. The pinned matplotlib writes byte-identical PNGs for the same figure,
    so comparing them catches stale figures. Fix a failure with `python3 course.py regenerate`.
    """
    for item in items:
        parent = getattr(item, "parent", None)
        skip = getattr(parent, "skip_compare", None)
        if skip is not None and "image/png" in skip:
            parent.skip_compare = tuple(k for k in skip if k != "image/png")
