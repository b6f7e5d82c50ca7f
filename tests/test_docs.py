"""The README stays short and for its readers, and every document's links lead somewhere."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
GENERATED = re.compile(r"<!-- (\S+):begin.*?<!-- \1:end -->", re.S)


def test_the_readme_has_at_most_2000_words_with_its_generated_summary():
    words = len((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert words <= 2000, f"README.md has {words} words; move what is for authors or maintainers to docs/"


@pytest.mark.parametrize("path", DOCUMENTS, ids=[p.name for p in DOCUMENTS])
def test_every_relative_link_and_image_exists(path):
    text = path.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    missing = [t for t in targets if "://" not in t and not (path.parent / t).exists()]
    assert not missing, f"{path.name} links to files that do not exist: {missing}"


@pytest.mark.parametrize("path", DOCUMENTS, ids=[p.name for p in DOCUMENTS])
def test_no_document_keeps_a_diary(path):
    """History lives in commit messages: no dated runs or before/after stories outside the generated tables."""
    text = GENERATED.sub("", path.read_text(encoding="utf-8"))
    found = re.findall(r"\b20\d\d-\d\d-\d\d\b|\(before: |\bin an earlier run\b|\bused to\b", text, re.I)
    assert not found, f"{path.name}: {found}"


def test_every_notebook_with_claims_has_its_spread_in_claims_md():
    """docs/claims.md is written by `python3 course.py spread --seeds 10 NOTEBOOK`: a notebook that keeps numbers
    from training with claim(...) has its rows there, and no row belongs to a notebook that is gone."""
    table = (ROOT / "docs" / "claims.md").read_text(encoding="utf-8")
    rows = [line.split("|")[1].strip() for line in table.splitlines() if re.match(r"\| \d\d \|", line)]
    with_claims = {
        p.name[:2] for p in (ROOT / "notebooks").glob("*.ipynb") if "claim(" in p.read_text(encoding="utf-8")
    }
    missing = sorted(with_claims - set(rows))
    assert not missing, f"notebooks {missing} make claims but have no rows in docs/claims.md: run the spread tool"
    assert set(rows) <= with_claims, (
        f"docs/claims.md has rows of notebooks without claims: {sorted(set(rows) - with_claims)}"
    )
