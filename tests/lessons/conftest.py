"""Shared by the lessons' tests: figures are ipympl canvases, as in the notebooks (``%matplotlib widget``),
and widgets built with ``make_widget`` have their figures closed when the test ends."""

import matplotlib
import pytest

matplotlib.use("module://ipympl.backend_nbagg")


@pytest.fixture
def make_widget():
    """make_widget(cls, *args) builds a lesson widget whose figure is closed when the test ends."""
    made = []

    def make(cls, *args, **kwargs):
        made.append(cls(*args, **kwargs))
        return made[-1]

    yield make
    import matplotlib.pyplot as plt

    for widget in made:
        plt.close(widget.fig)
