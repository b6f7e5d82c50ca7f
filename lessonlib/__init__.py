"""lessonlib: the maths, flows, plots, widgets and exercise checkers behind the normalizing-flows course.

Import what you need from its modules, for example::

    from lessonlib.flows import Flow, standard_normal
    from lessonlib.bijectors import Affine, Chain
"""

__version__ = "0.1.0"
