"""Kernel-side widget latency: control change plus a full redraw, for every lesson widget.

    python -m benchmarks.widget_latency [N_VALUES] [REPEATS]     prints one JSON line per widget

Finds every ``LessonWidget`` subclass defined in a lesson's ``lessonlib/lessons/*/widgets.py``. A widget whose
constructor needs arguments gets them from ``FACTORIES``; one that is in neither is reported as
skipped, so a new widget shows up in the table instead of being silently left out. For every
control, every value of ``sweep_values`` (the control's whole range) is set, and the time until the
widget's new frame is encoded and sent is one latency. The canvas is first put in the state ipympl
is in once JupyterLab shows it (the front end has said "initialized", so ``syncing_data_url`` is
False, and it has drawn the figure once); the widget then redraws as it does for a learner: a blit
of its animated artists, or a full draw when an axis limit changed. Were a widget only to request a
draw (``draw_idle``), the full draw is done and counted here. The first full pass is a warm-up and
is not counted; the share of blits is reported.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _layer_walker():
    import torch

    from lessonlib.flows import make_flow
    from lessonlib.lessons.l05_stacking.widgets import LayerWalker
    from lessonlib.toy2d import two_moons

    flow = make_flow(2, 6, hidden=(64, 64), seed=0)
    data = two_moons().sample(1000, torch.Generator().manual_seed(0)).to(torch.get_default_dtype())
    return LayerWalker(flow, data)


def _training_control():
    from lessonlib.lessons.l05_stacking.widgets import TrainingControl
    from lessonlib.toy2d import two_moons

    return TrainingControl(two_moons())


def _nll_explorer():
    import torch

    from lessonlib.data import load_old_faithful
    from lessonlib.lessons.l03_likelihood.widgets import NLLExplorer

    return NLLExplorer(torch.as_tensor(load_old_faithful()[:, :1]))  # as notebook 03: eruption durations


def _latent_explorer():
    import torch

    from lessonlib.lessons.l08_images.experiments import image_flow, load_digit_tensors
    from lessonlib.lessons.l08_images.widgets import LatentExplorer

    digits = load_digit_tensors()  # the notebook's flow, untrained: the same cost per redraw
    eps = torch.randn(8, 64, generator=torch.Generator().manual_seed(4))
    return LatentExplorer(image_flow(n_layers=8, hidden=128), digits.test[0], digits.test[1], eps)


@functools.cache
def _mode_fits():
    """Notebook 09's five separations, fitted once per process (the fits are frozen; widgets only read them)."""
    from lessonlib.lessons.l09_inference.experiments import mode_fits

    return tuple(mode_fits(steps=20))  # the redraw cost does not depend on the fit


def _mode_explorer():
    from lessonlib.lessons.l09_inference.widgets import ModeExplorer

    return ModeExplorer(_mode_fits())


def _scale_explorer():
    import torch

    from lessonlib.images import PixelLogit
    from lessonlib.lessons.l10_image_flows.widgets import ScaleExplorer
    from lessonlib.multiscale import make_image_flow

    # notebook 10's multi-scale flow, untrained: the same cost per redraw
    flow = make_image_flow((1, 8, 8), levels=3, steps=3, hidden=(64, 64), last=PixelLogit(17), dtype=torch.float32)
    return ScaleExplorer(flow, torch.randn(8, 64, generator=torch.Generator().manual_seed(4)))


#: class name -> factory, for widgets whose constructor needs arguments
FACTORIES: dict[str, Callable[[], Any]] = {
    "LayerWalker": _layer_walker,
    "TrainingControl": _training_control,
    "NLLExplorer": _nll_explorer,
    "LatentExplorer": _latent_explorer,
    "ModeExplorer": _mode_explorer,
    "ScaleExplorer": _scale_explorer,
}


def discover() -> list[tuple[str, type]]:
    """(module name, class) for every LessonWidget subclass defined in a lesson's widgets module,
    lessonlib/lessons/<lesson>/widgets.py."""
    from lessonlib.ui.widgetkit import LessonWidget

    found = []
    for path in sorted((ROOT / "lessonlib" / "lessons").glob("*/widgets.py")):
        module = importlib.import_module(f"lessonlib.lessons.{path.parent.name}.widgets")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, LessonWidget) and cls is not LessonWidget and cls.__module__ == module.__name__:
                found.append((module.__name__, cls))
    return found


def notebooks_using(class_name: str) -> list[str]:
    """Notebook files whose code mentions the class (where the widget is shown)."""
    out = []
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        if class_name in nb.read_text(encoding="utf-8"):
            out.append(nb.name)
    return out


def construct(cls: type) -> Any:
    if cls.__name__ in FACTORIES:
        return FACTORIES[cls.__name__]()
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    needed = [
        p.name
        for p in params
        if p.default is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if needed:
        raise TypeError(f"needs arguments {needed}; add a factory to benchmarks/widget_latency.py FACTORIES")
    return cls()


def measure(widget: Any, n_values: int, repeats: int) -> tuple[list[float], list[float], dict[str, int], list[str]]:
    """Latencies in ms of (set one control, full draw) over the sweep: wall clock and process CPU
    time (the CPU time stays meaningful when other programs load the machine); and any problems seen."""
    times: list[float] = []
    cpu: list[float] = []
    paths: dict[str, int] = {}
    problems: set[str] = set()
    canvas = widget.fig.canvas
    canvas.syncing_data_url = False  # what ipympl sets when the browser view says "initialized"
    canvas.draw()  # the view's first frame
    for rep in range(repeats + 1):  # rep 0 is the warm-up
        for _, control, v in widget.sweep_changes(n_values):
            t0, c0 = time.perf_counter(), time.process_time()
            control.value = v
            path = getattr(widget, "last_redraw", "idle")
            if path not in ("blit", "full"):
                canvas.draw()  # only requested: do the draw the browser would ask for
            dt, dc = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
            if rep:
                times.append(dt)
                cpu.append(dc)
                paths[path] = paths.get(path, 0) + 1
            if widget.problem and widget.problem.startswith("unexpected"):
                problems.add(widget.problem)
    widget.reset()
    return times, cpu, paths, sorted(problems)


def percentile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def main(argv: list[str]) -> int:
    import matplotlib

    matplotlib.use("module://ipympl.backend_nbagg")  # the backend learners use (%matplotlib widget)
    from lessonlib.ui.notebook import setup

    n_values = int(argv[0]) if argv else 12
    repeats = int(argv[1]) if len(argv) > 1 else 2
    setup(seed=0)
    for module, cls in discover():
        row: dict[str, Any] = {"widget": cls.__name__, "module": module, "notebooks": notebooks_using(cls.__name__)}
        try:
            w = construct(cls)
            if getattr(w, "fig", None) is None:
                raise TypeError("has no figure to draw")
            times, cpu, paths, problems = measure(w, n_values, repeats)
            if not times:
                raise TypeError("no control could be swept")
            row.update(
                status="ok",
                n=len(times),
                median_ms=statistics.median(times),
                p90_ms=percentile(times, 0.9),
                cpu_median_ms=statistics.median(cpu),
                cpu_p90_ms=percentile(cpu, 0.9),
                controls=list(w.controls),
                redraws=paths,
                problems=problems,
            )
            import matplotlib.pyplot as plt

            plt.close(w.fig)
        except Exception as e:  # report the widget as not measured, keep going
            row.update(status="skipped", error=f"{type(e).__name__}: {e}")
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
