"""The versions the course declares (pyproject.toml's ranges) and the oldest set those ranges admit."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def declared() -> list[Requirement]:
    """lessonlib's dependencies and its ``lab`` extra, as pyproject.toml states them."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    return [Requirement(line) for line in lines]


def lower_end(req: Requirement) -> str:
    """The version after ``>=`` in a requirement (every declared range has one)."""
    (low,) = [s.version for s in req.specifier if s.operator == ">="]
    return low


def oldest_set() -> list[str]:
    """``name==version`` for the lower end of every declared range: what the oldest-versions hub test installs.
    torch's lower end is written as a release (2.13 -> 2.13.0), the version whose CPU wheel is on hand."""
    out = []
    for req in declared():
        low = lower_end(req)
        out.append(f"{req.name}=={low}.0" if low.count(".") == 1 else f"{req.name}=={low}")
    return out
