"""The environment check run by notebooks/00_start_here.ipynb."""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

__all__ = ["pinned_versions", "check_environment", "widget_check"]

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


def check_environment(names: tuple[str, ...] = ("torch", "numpy", "matplotlib", "ipywidgets", "ipympl", "jupyterlab")) -> bool:
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


def widget_check():
    """A slider and a label it updates: if both show as controls, not text, widgets work."""
    import ipywidgets as w

    slider = w.IntSlider(value=3, min=0, max=10, description="drag me")
    label = w.HTML()

    def show(change=None):
        label.value = f"The slider is at <b>{slider.value}</b>; twice that is <b>{2 * slider.value}</b>."

    slider.observe(show, names="value")
    show()
    return w.VBox([slider, label])
