"""Notebooks are saved as a fresh Restart & Run All would leave them, and follow the course's rules."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_there_are_notebooks_and_the_readme_lists_them():
    assert NOTEBOOKS, "notebooks/ is empty"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for nb in NOTEBOOKS:
        assert nb.name in readme, f"README.md does not list {nb.name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_saved_after_run_all(path):
    nb = load(path)
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    counts = [c.get("execution_count") for c in code]
    assert counts == list(range(1, len(code) + 1)), (
        f"{path.name}: execution counts {counts} are not 1..n; run `python3 course.py regenerate`"
    )
    for c in code:
        for o in c.get("outputs", []):
            assert o.get("output_type") != "error", f"{path.name}: a stored output is an error"
            if o.get("name") == "stderr":
                text = "".join(o.get("text", ""))
                assert "Traceback" not in text and "Warning" not in text, f"{path.name}: stderr output: {text[:200]}"
    assert "widgets" not in nb.get("metadata", {}), f"{path.name}: drop metadata.widgets (regenerate strips it)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_course_rules(path):
    nb = load(path)
    src = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert not re.search(r"^\s*from\s+\S+\s+import\s+\*", src, re.M), f"{path.name}: no star imports"
    assert not re.search(r"\b(urlretrieve|wget|curl|from_pretrained|hf_hub_download|torch\.hub)\b", src), (
        f"{path.name}: nothing may be downloaded at run time"
    )
    n_md = sum(1 for c in nb["cells"] if c["cell_type"] == "markdown")
    n_code = sum(1 for c in nb["cells"] if c["cell_type"] == "code")
    md_chars = sum(len("".join(c["source"])) for c in nb["cells"] if c["cell_type"] == "markdown")
    code_chars = len(src)
    assert n_md >= n_code * 0.8 and md_chars >= code_chars, f"{path.name}: at least as much prose as code"
    long_cells = [
        i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and len("".join(c["source"]).splitlines()) > 15
    ]
    assert not long_cells, f"{path.name}: code cells {long_cells} are longer than 15 lines; move code into lessonlib"
    size = path.stat().st_size
    assert size < 3_000_000, f"{path.name} is {size / 1e6:.1f} MB; lower dpi or figure count"
