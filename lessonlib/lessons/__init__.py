"""One package per notebook, named like it: ``l01_change_of_variables`` serves 01_change_of_variables_1d.ipynb.

Each holds what its notebook shows and checks: ``widgets`` (LessonWidget subclasses and live figures),
``plots`` (functions returning a Figure), ``exercises`` (checkers) and, where the lesson computes
something of its own, ``experiments``. A lesson may import the presentation layer (``lessonlib.ui``)
and the core; its exercises and experiments never import its widgets or plots.
"""
