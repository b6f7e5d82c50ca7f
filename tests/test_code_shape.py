"""Shape rules for the code of lessonlib, tools and benchmarks: short functions, no borrowed private names,
one plotting convention, widgets where discovery finds them."""

import ast
import importlib
import inspect
import typing
from pathlib import Path

import pytest
from matplotlib.figure import Figure

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("lessonlib", "tools", "benchmarks")
MAX_LINES = 60


def sources(folders=FOLDERS) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def long_functions(tree: ast.AST, limit: int = MAX_LINES) -> list[str]:
    """Functions and methods (nested ones too) longer than ``limit`` lines, decorators and docstring included."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            if node.end_lineno - start + 1 > limit:
                out.append(f"{node.name} ({node.end_lineno - start + 1} lines, line {start})")
    return out


def private_definitions(tree: ast.AST) -> set[str]:
    """Private names a module defines: top-level names, methods, class attributes and self._x attributes."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def borrowed_private_names(tree: ast.AST, own: set[str], others: set[str]) -> list[str]:
    """``from x import _name`` from a project module, and ``obj._name`` where only another project module defines _name."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FOLDERS:
            out += [f"imports {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
        elif isinstance(node, ast.Attribute) and node.attr in others - own:
            if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                out.append(f"uses .{node.attr} (line {node.lineno})")
    return out


def test_no_function_is_longer_than_60_lines():
    found = {str(p.relative_to(ROOT)): long_functions(ast.parse(p.read_text())) for p in sources()}
    assert {k: v for k, v in found.items() if v} == {}


def test_no_module_borrows_another_modules_private_names():
    trees = {p: ast.parse(p.read_text()) for p in sources()}
    defined = {p: private_definitions(t) for p, t in trees.items()}
    found = {}
    for p, tree in trees.items():
        others = set().union(*(names for q, names in defined.items() if q != p))
        problems = borrowed_private_names(tree, defined[p], others)
        if problems:
            found[str(p.relative_to(ROOT))] = problems
    assert found == {}


def test_the_checks_above_can_fail():
    long = "def f():\n" + "    x = 1\n" * MAX_LINES
    assert long_functions(ast.parse(long)) == [f"f ({MAX_LINES + 1} lines, line 1)"]
    assert long_functions(ast.parse("def f():\n" + "    x = 1\n" * (MAX_LINES - 1))) == []
    borrower = ast.parse("from lessonlib.bijectors import _randomise\ny = layer._params(x, 0)\nz = self._params\n")
    assert borrowed_private_names(borrower, set(), {"_params"}) == [
        "imports lessonlib.bijectors._randomise",
        "uses ._params (line 2)",
    ]


def lesson_modules(part: str) -> list:
    return [
        importlib.import_module(f"lessonlib.lessons.{p.parent.name}.{part}")
        for p in sorted((ROOT / "lessonlib" / "lessons").glob(f"*/{part}.py"))
    ]


@pytest.mark.parametrize("module", lesson_modules("plots"), ids=lambda m: m.__name__)
def test_every_plot_function_returns_a_figure(module):
    plots = [
        f
        for name, f in inspect.getmembers(module, inspect.isfunction)
        if name.startswith("plot_") and f.__module__ == module.__name__
    ]
    assert plots, f"{module.__name__} has no plot_* function"
    for f in plots:
        assert typing.get_type_hints(f)["return"] is Figure, f"{module.__name__}.{f.__name__} must return a Figure"


def test_lesson_widgets_live_in_a_lessons_widgets_module():
    from lessonlib.ui.widgetkit import LessonWidget

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    lesson_modules("widgets")  # import them all
    homes = {c.__module__ for c in subclasses(LessonWidget) if c.__module__.startswith("lessonlib")}
    assert homes and all(h.startswith("lessonlib.lessons.") and h.endswith(".widgets") for h in homes), homes
