"""The times the README and notebook 00 state for each notebook come from one measure, kept true here.

A notebook's time is its prose at READING_WPM words a minute, plus minutes for each exercise and each
widget, plus a minute to run it, rounded up to 5 minutes. When a notebook grows or shrinks, this test
names the new time to write in both tables.
"""

import json
import math
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CORE = ("01", "02", "03", "04", "05")

READING_WPM = 150  # a careful pace for technical prose with formulas (plain prose reads at about 250)
EXERCISE_MIN = 4  # try, read the checker's answer, try again
WIDGET_MIN = 2  # move each control and watch
RUN_MIN = 1  # Run All: under a minute for every notebook (benchmarks/report.py)
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def measured_minutes(path: Path) -> int:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    prose = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    words = len(re.sub(r"</?[A-Za-z][^<>]*>", " ", prose).split())
    exercises = len(re.findall(r"^#+ .*\bExercise\b", prose, re.M))
    widgets = sum(
        any(WIDGET_MIME in o.get("data", {}) for o in c.get("outputs", [])) for c in cells if c["cell_type"] == "code"
    )
    minutes = words / READING_WPM + EXERCISE_MIN * exercises + WIDGET_MIN * widgets + RUN_MIN
    return 5 * math.ceil(minutes / 5)


def stated_minutes(text: str, name: str, want: int) -> int:
    rows = [line for line in text.splitlines() if line.startswith("|") and f"`{name}`" in line]
    assert len(rows) == 1, (
        f"one table row should name `{name}` and end with its time, `| {want} min |`; found {len(rows)}"
    )
    (minutes,) = re.findall(r"\|\s*(\d+) min\s*\|\s*$", rows[0])
    return int(minutes)


def notebook_00_text() -> str:
    cells = json.loads((ROOT / "notebooks" / "00_start_here.ipynb").read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem[:2] for p in NOTEBOOKS])
@pytest.mark.parametrize("where", ["README.md", "00's course map"])
def test_each_stated_time_is_the_measured_one(path, where):
    text = (ROOT / "README.md").read_text(encoding="utf-8") if where == "README.md" else notebook_00_text()
    want = measured_minutes(path)
    assert stated_minutes(text, path.name, want) == want, f"{where}: write {want} min for {path.name}"


@pytest.mark.parametrize("where", ["README.md", "00's course map"])
def test_the_core_path_total_is_the_sum_of_its_notebooks(where):
    text = (ROOT / "README.md").read_text(encoding="utf-8") if where == "README.md" else notebook_00_text()
    total = sum(measured_minutes(p) for p in NOTEBOOKS if p.name[:2] in CORE)
    (row,) = [line for line in text.splitlines() if line.startswith("|") and "core path, 01-05" in line]
    assert f"{total} min" in row, f"{where}: the core path takes {total} min"


def test_the_measure_counts_what_it_says():
    path = next(p for p in NOTEBOOKS if p.name.startswith("01"))
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    prose = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert len(re.findall(r"^#+ .*\bExercise\b", prose, re.M)) >= 1  # the exercises are headings
    assert 5 <= measured_minutes(path) <= 90


def test_a_missing_row_is_told_the_time_to_write():
    with pytest.raises(AssertionError, match=r"name `99_new.ipynb` and end with its time, `\| 10 min \|`; found 0"):
        stated_minutes("| 01 | `01_a.ipynb` | x | 35 min |", "99_new.ipynb", 10)
    assert stated_minutes("| 99 | `99_new.ipynb` | x | 10 min |", "99_new.ipynb", 10) == 10
