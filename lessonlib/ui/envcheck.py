"""The environment check run by notebooks/00_start_here.ipynb."""

from __future__ import annotations

import html
import re
import sys
from importlib import metadata
from pathlib import Path

__all__ = ["pinned_versions", "check_environment", "widget_check", "WidgetCheck"]

_REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements.txt"


def pinned_versions(path: Path = _REQUIREMENTS) -> dict[str, str]:
    """name -> pinned version, from requirements.txt; an installed lessonlib (no repository beside it,
    as on a hub) reads the same pins from its own requirements (pyproject.toml takes them from that file)."""
    lines = path.read_text().splitlines() if path.exists() else metadata.requires("lessonlib") or []
    pins = {}
    for line in lines:
        m = re.match(r"^\s*([A-Za-z0-9_.\-]+)==([^\s#]+)", line)
        if m:
            pins[m.group(1).lower()] = m.group(2)
    return pins


def check_environment(
    names: tuple[str, ...] = ("torch", "numpy", "matplotlib", "ipywidgets", "ipympl", "jupyterlab"),
) -> bool:
    """Print the versions the course depends on next to their pins; True when all match."""
    pins = pinned_versions()
    ok = sys.version_info >= (3, 11)
    print(f"Python {sys.version_info.major}.{sys.version_info.minor}  {'ok' if ok else 'too old: 3.11+ needed'}")
    for name in names:
        try:
            have = metadata.version(name).split("+")[0]  # 2.13.0+cpu is the CPU build of 2.13.0
        except metadata.PackageNotFoundError:
            have = "missing"
        want = pins.get(name, "?")
        good = have == want
        ok &= good
        print(f"{name:<11} {have:<8} {'ok' if good else f'expected {want}: run python3 course.py setup'}")
    import torch

    cpu_ok = torch.zeros(2).sum().item() == 0.0
    print(f"torch computes on the CPU: {'ok' if cpu_ok else 'FAILED'}")
    return ok and cpu_ok


class WidgetCheck:
    """A slider and a sentence it updates. Displayed, it is the live widget; a saved notebook also
    keeps a drawn still of it, for renderers without a kernel."""

    def __init__(self, value: int = 3) -> None:
        import ipywidgets as w

        self.slider = w.IntSlider(value=value, min=0, max=10, description="drag me")
        self.label = w.HTML()
        self.slider.observe(self._show, names="value")
        self._show()
        self.root = w.VBox([self.slider, self.label])

    def sentence(self) -> str:
        n = self.slider.value
        return f"The slider is at <b>{n}</b>; twice that is <b>{2 * n}</b>."

    def _show(self, change: object = None) -> None:
        self.label.value = self.sentence()

    def still(self) -> bytes:
        """A PNG drawing of the slider and its sentence as they are now."""
        from lessonlib.ui.figures import static_figure
        from lessonlib.ui.stills import figure_png

        s = self.slider
        fig, ax = static_figure(width=5.2, height=0.75)
        fig.set_layout_engine("none")
        ax.set_position((0, 0, 1, 1))
        ax.set_axis_off()
        ax.set_xlim(0, 5.2)
        ax.set_ylim(0, 0.75)
        frac = (s.value - s.min) / (s.max - s.min)
        x0, x1 = 0.9, 3.9
        ax.text(0.1, 0.55, s.description, va="center", fontsize=10)
        ax.plot([x0, x1], [0.55, 0.55], color="0.8", lw=4, solid_capstyle="round")
        ax.plot([x0, x0 + frac * (x1 - x0)], [0.55, 0.55], color="#2196f3", lw=4, solid_capstyle="round")
        ax.plot([x0 + frac * (x1 - x0)], [0.55], "o", ms=10, mfc="white", mec="0.5")
        ax.text(x1 + 0.2, 0.55, str(s.value), va="center", fontsize=10)
        ax.text(0.1, 0.2, html.unescape(re.sub(r"<[^>]+>", "", self.sentence())), va="center", fontsize=10)
        return figure_png(fig)

    def _repr_mimebundle_(self, **kwargs):
        from lessonlib.ui.stills import still_bundle

        data = self.root._repr_mimebundle_(**kwargs)
        data.update(
            still_bundle(
                self.still(),
                f"a slider at {self.slider.value} and the sentence it updates; run the notebook to drag it",
            )
        )
        return data


def widget_check() -> WidgetCheck:
    """A slider and a label it updates: if both show as controls, not text, widgets work."""
    return WidgetCheck()
