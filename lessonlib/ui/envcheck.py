"""The environment check run by notebooks/00_start_here.ipynb.

It never stops a notebook for a version that differs: it says what differs and what to do. It raises
only for what breaks the course: Python older than 3.11, or torch, numpy, matplotlib, ipywidgets or
ipympl missing, or torch failing to compute.
"""

from __future__ import annotations

import html
import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

__all__ = ["pinned_versions", "supported_ranges", "check_environment", "widget_check", "WidgetCheck"]

_REQUIREMENTS = Path(__file__).resolve().parents[2] / "requirements.txt"
#: Without these the course cannot run at all.
NEEDED = ("torch", "numpy", "matplotlib", "ipywidgets", "ipympl")
#: Shown too, but the course runs (with a note) when they are missing or differ.
SHOWN = ("anywidget", "jupyterlab")


def pinned_versions(path: Path = _REQUIREMENTS) -> dict[str, str]:
    """name -> the version requirements.txt pins (the set the course is tested with); empty where the
    file is not beside lessonlib (an installed copy, as on a hub)."""
    pins = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        m = re.match(r"^\s*([A-Za-z0-9_.\-]+)==([^\s#]+)", line)
        if m:
            pins[m.group(1).lower()] = m.group(2)
    return pins


def supported_ranges() -> dict[str, Requirement]:
    """name -> the range of versions lessonlib declares it works with (pyproject.toml's dependencies,
    read back from the installed package's metadata), the ``lab`` extra included."""
    out = {}
    for line in metadata.requires("lessonlib") or []:
        req = Requirement(line)
        out[req.name.lower()] = req
    return out


def _installed(name: str) -> str | None:
    try:
        return metadata.version(name).split("+")[0]  # 2.13.0+cpu is the CPU build of 2.13.0
    except metadata.PackageNotFoundError:
        return None


def _verdict(name: str, have: str | None, pin: str | None, req: Requirement | None) -> tuple[bool, str]:
    """(in range or not needed, what to print after the version) for one package."""
    if have is None:
        if name in NEEDED:
            return False, "MISSING: the course needs it"
        return True, "not in this kernel's environment (fine when the server runs elsewhere, as on a hub)"
    if pin == have:
        return True, "ok (the tested version)"
    if req is not None and not req.specifier.contains(Version(have), prereleases=True):
        return False, f"outside the range the course supports ({req.specifier})"
    tested = f"; tested with {pin}" if pin else ""
    return True, f"ok (supported: {req.specifier}{tested})" if req is not None else f"ok{tested}"


def check_environment() -> bool:
    """Print, for each package the course uses, its version against the tested pin and the supported range,
    and what to do about any outside that range. True when all are inside. Never raises for a version;
    raises RuntimeError only when the course cannot run (old Python, a needed package missing, torch broken)."""
    pins, ranges = pinned_versions(), _ranges()
    broken, outside = [], []
    if sys.version_info < (3, 11):  # noqa: UP036 - a hub's kernel may run an older Python than lessonlib asks for
        broken.append(f"Python 3.11 or newer (this is {sys.version.split()[0]})")
    python = f"{sys.version_info.major}.{sys.version_info.minor}"  # not the patch level: this cell's output is exact
    print(f"{'Python':<11} {python:<8} {'ok' if not broken else 'TOO OLD: 3.11 or newer is needed'}")
    for name in NEEDED + SHOWN:
        have = _installed(name)
        ok, text = _verdict(name, have, pins.get(name), ranges.get(name))
        print(f"{name:<11} {have or '-':<8} {text}")
        if have is None and name in NEEDED:
            broken.append(name)
        elif not ok:
            outside.append(name)
    if "torch" not in broken:
        import torch

        computes = torch.zeros(2).sum().item() == 0.0
        print(f"torch computes on the CPU: {'ok' if computes else 'FAILED'}")
        if not computes:
            broken.append("a working torch")
    if broken:
        raise RuntimeError(
            f"The course cannot run without {', '.join(broken)}. On your own computer, run `python3 course.py setup` "
            "in a terminal and restart the kernel; on a hub, ask its administrator to install the course's "
            "requirements.txt."
        )
    if outside:
        print(
            f"\n{', '.join(outside)}: outside the range the course supports. The notebooks may still run; if one "
            "breaks, on your own computer run `python3 course.py setup` in a terminal (it installs the tested "
            "versions into .venv) and restart the kernel; on a hub, ask for versions in the ranges above."
        )
    return not outside


def _ranges() -> dict[str, Requirement]:
    try:
        return supported_ranges()
    except metadata.PackageNotFoundError:  # lessonlib imported from a folder, not installed: no ranges known
        return {}


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
