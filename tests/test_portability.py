"""The test command passes on any CPU, and still fails when a notebook is stale or wrong.

* exact cells are compared byte for byte, figures included (an exact output that changes fails);
* approx cells (tag ``approx``) are compared with a tolerance, figures present but not byte-compared;
* the outputs' record of what they were computed from catches an edited code cell or a changed
  lessonlib module without re-executing anything;
* trained numbers are kept by claims: a missed claim fails a test run, and in a learner's kernel prints a
  note and lets the notebook go on.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import fingerprint  # noqa: E402
import nbcompare  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


# --- the comparison of approx cells ---------------------------------------------------------------


def _stream(text):
    return nbformat.from_dict({"output_type": "stream", "name": "stdout", "text": text})


def test_approx_numbers_within_tolerance_pass_and_beyond_it_fail():
    stored = [_stream("KL gap 0.44 ± 0.02 nats after 500 steps\n")]
    assert nbcompare.compare_approx(stored, [_stream("KL gap 0.39 ± 0.01 nats after 500 steps\n")], 0.25, 0.05) == []
    far = nbcompare.compare_approx(stored, [_stream("KL gap 0.90 ± 0.02 nats after 500 steps\n")], 0.25, 0.05)
    assert far and "0.90" in far[0] and "0.44" in far[0]


def test_approx_words_must_match():
    stored = [_stream("the flow found 2 clusters\n")]
    problems = nbcompare.compare_approx(stored, [_stream("the flow found 2 blobs\n")], 0.25, 0.05)
    assert problems and "beyond its numbers" in problems[0]


def test_approx_figures_must_exist_but_are_not_byte_compared():
    fig = lambda png: nbformat.from_dict(  # noqa: E731
        {
            "output_type": "display_data",
            "metadata": {},
            "data": {"image/png": png, "text/plain": "<Figure size 640x480 with 1 Axes>"},
        }
    )
    assert nbcompare.compare_approx([fig("AAAA")], [fig("BBBB")], 0.25, 0.05) == []
    missing = nbcompare.compare_approx([fig("AAAA")], [_stream("no figure\n")], 0.25, 0.05)
    assert missing and "image/png" in missing[0]


def test_exact_comparison_is_byte_for_byte():
    assert nbcompare.compare_exact([_stream("0.1000\n")], [_stream("0.1000\n")]) == []
    assert nbcompare.compare_exact([_stream("0.1000\n")], [_stream("0.1001\n")])


def test_cell_tolerance_comes_from_metadata():
    cell = new_code_cell("x", metadata={"tags": ["approx"], "approx": {"rtol": 0.1, "atol": 0.001}})
    assert nbcompare.is_approx(cell) and nbcompare.tolerance(cell) == (0.1, 0.001)
    assert not nbcompare.is_approx(new_code_cell("x"))


# --- the same rules inside strict nbval, on a small notebook ----------------------------------------

CELLS = {
    "exact_same": ("print(0.5)", [], None),
    "exact_changed": ("print(0.5)", [], "0.6\n"),
    "approx_close": ("print(0.5)", ["approx"], "0.55\n"),
    "approx_far": ("print(0.5)", ["approx"], "0.95\n"),
    "approx_new_figure": ("import matplotlib.pyplot as plt\n_ = plt.plot([1, 2, 4]); plt.show()", ["approx"], None),
    "exact_new_figure": ("import matplotlib.pyplot as plt\n_ = plt.plot([1, 2, 4]); plt.show()", [], None),
}
EXPECTED = {
    "exact_same": True,
    "exact_changed": False,
    "approx_close": True,
    "approx_far": False,
    "approx_new_figure": True,
    "exact_new_figure": False,
}


@pytest.fixture(scope="module")
def nbval_results(tmp_path_factory):
    """Run strict nbval, with the course's conftest, on a regenerated notebook whose stored outputs were then altered."""
    folder = tmp_path_factory.mktemp("nbval")
    shutil.copy(ROOT / "conftest.py", folder / "conftest.py")
    (folder / "tools").mkdir()
    shutil.copy(ROOT / "tools" / "nbcompare.py", folder / "tools" / "nbcompare.py")
    (folder / "pytest.ini").write_text("[pytest]\n")
    nb = new_notebook(cells=[new_code_cell(src, metadata={"tags": tags}) for src, tags, _ in CELLS.values()])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "cells.ipynb"
    nbformat.write(nb, path)
    subprocess.run([sys.executable, str(ROOT / "tools" / "regenerate.py"), str(path)], check=True, capture_output=True)
    nb = nbformat.read(path, as_version=4)
    for cell, (src, _, stored_text) in zip(nb.cells, CELLS.values()):
        if stored_text is not None:
            cell.outputs[0].text = stored_text
        cell.source = src.replace("[1, 2, 4]", "[1, 2, 3]")  # the figure cells now draw something else
    nbformat.write(nb, path)
    cmd = [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env", path.name]
    out = subprocess.run(cmd, cwd=folder, capture_output=True, text=True).stdout
    return {int(m.group(1)): m.group(2) == "PASSED" for m in re.finditer(r"::Cell (\d+) (PASSED|FAILED)", out)}, out


@pytest.mark.parametrize("name", list(CELLS))
def test_nbval_compares_each_kind_of_cell_as_documented(nbval_results, name):
    results, log = nbval_results
    index = list(CELLS).index(name)
    assert index in results, log[-2000:]
    assert results[index] == EXPECTED[name], f"{name}: expected {'pass' if EXPECTED[name] else 'fail'}\n{log[-3000:]}"


# --- stale outputs, caught without re-executing -------------------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_outputs_are_current(path):
    problems = fingerprint.stale(json.loads(path.read_text(encoding="utf-8")))
    assert not problems, f"{path.name}: " + "; ".join(problems) + ". Run `python3 course.py regenerate`."


def _copy_course(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "lessonlib", tmp_path / "lessonlib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "data", tmp_path / "data")
    return tmp_path


def _stamped(path: Path, root: Path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    fingerprint.stamp(nb, root)
    assert fingerprint.stale(nb, root) == []
    return nb


def test_an_edited_code_cell_makes_the_notebook_stale(tmp_path):
    root = _copy_course(tmp_path)
    nb = _stamped(NOTEBOOKS[1], root)
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["source"] = "".join(code["source"]) + "\nprint('changed')"
    assert "code cells changed" in fingerprint.stale(nb, root)


def test_an_edited_markdown_cell_does_not(tmp_path):
    root = _copy_course(tmp_path)
    nb = _stamped(NOTEBOOKS[1], root)
    nb["cells"].append(dict(new_markdown_cell("A new paragraph.")))
    assert fingerprint.stale(nb, root) == []


def test_a_changed_lessonlib_module_makes_only_its_importers_stale(tmp_path):
    root = _copy_course(tmp_path)
    by_name = {p.name[:2]: _stamped(p, root) for p in NOTEBOOKS}
    uses = {k: fingerprint.computed_from(nb, root) for k, nb in by_name.items()}
    importers = {k for k, found in uses.items() if "lessonlib/coupling.py" in found}
    assert importers and importers != set(uses), "coupling.py should be used by some notebooks, not all"
    module = root / "lessonlib" / "coupling.py"
    module.write_text(module.read_text(encoding="utf-8") + "\n# a change\n", encoding="utf-8")
    for key, nb in by_name.items():
        problems = fingerprint.stale(nb, root)
        assert (problems == ["lessonlib/coupling.py changed"]) == (key in importers), (key, problems)


def test_a_changed_data_file_makes_its_readers_stale(tmp_path):
    root = _copy_course(tmp_path)
    readers = [
        p for p in NOTEBOOKS if "data/old_faithful.csv" in fingerprint.computed_from(json.loads(p.read_text()), root)
    ]
    assert readers, "some notebook reads Old Faithful"
    nb = _stamped(readers[0], root)
    with open(root / "data" / "old_faithful.csv", "a", encoding="utf-8") as f:
        f.write("1.0,50\n")
    assert fingerprint.stale(nb, root) == ["data/old_faithful.csv changed"]


def test_line_endings_do_not_matter(tmp_path):
    root = _copy_course(tmp_path)
    nb = _stamped(NOTEBOOKS[1], root)
    for path in (root / "lessonlib").rglob("*.py"):
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert fingerprint.stale(nb, root) == []


def test_a_column_that_realigns_is_not_a_change_of_words():
    stored = [_stream("layer 8 log-det         -0.0373         0.0206\n")]
    new = [_stream("layer 8 log-det         -0.0375        -0.0206\n")]
    assert nbcompare.compare_approx(stored, new, 0.25, 0.05) == []


# --- a trained claim that becomes false fails the run ------------------------------------------

SIGN_ERROR = """
import lessonlib.monotone1d as _m
_inverse = _m.MonotoneMixture._inverse_and_log_det
def _sign_error_in_training(self, x):
    z, log_det = _inverse(self, x)
    return (z, -log_det) if x.shape[0] == 272 else (z, log_det)  # only the full-batch training steps see it
_m.MonotoneMixture._inverse_and_log_det = _sign_error_in_training
"""


def test_training_claims_catch_a_sign_error(tmp_path):
    """Trained numbers are compared with a tolerance, not exactly, so a training bug must be caught by the
    notebook's own claims: notebook 03, with the log-det's sign flipped in the training steps only (every
    closed-form check before training still passes), stops at a claim about the trained model."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = ROOT / "notebooks" / "03_log_likelihood_and_nll_training.ipynb"
    nb = nbformat.read(path, as_version=4)
    first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells.insert(first + 1, new_code_cell(SIGN_ERROR))
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    with pytest.raises(CellExecutionError) as failure:
        client.execute()
    message = re.sub(r"\x1b\[[0-9;]*m", "", str(failure.value))
    assert "claim " in message and "does not hold" in message, message[-2000:]
    failed_cell = next(c for c in nb.cells if any(o.get("output_type") == "error" for o in c.get("outputs", [])))
    assert "train(" in failed_cell.source or "result" in failed_cell.source, failed_cell.source


# --- a claim that misses: a note for a learner, a failure under the test command -----------------------

MISSED = ('claim("final NLL, nats", result.losses[-1], low=0.93, high=0.95)', "low=1.93, high=1.95")


def _run_with_a_missed_claim(tmp_path: Path):
    """Notebook 03 with one claim's bounds moved past its value, run top to bottom in a fresh kernel."""
    from nbclient import NotebookClient

    nb = nbformat.read(ROOT / "notebooks" / "03_log_likelihood_and_nll_training.ipynb", as_version=4)
    (cell,) = [c for c in nb.cells if MISSED[0] in c.source]
    cell.source = cell.source.replace(MISSED[0], MISSED[0].replace("low=0.93, high=0.95", MISSED[1]))
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    return nb, cell, client


def test_a_missed_claim_shows_its_note_and_the_notebook_runs_to_its_end(tmp_path, monkeypatch):
    monkeypatch.delenv("LESSONLIB_STRICT_CLAIMS")  # a learner's kernel
    nb, cell, client = _run_with_a_missed_claim(tmp_path)
    client.execute()
    note = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout")
    assert "final NLL, nats: the text relies on a value between 1.93 and 1.95; this run got 0.93" in note
    assert "The notebook goes on." in note
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[-1].execution_count == len(code)  # every cell ran
    assert not [o for c in code for o in c.outputs if o.get("output_type") == "error"]


def test_under_the_test_command_the_same_claim_fails_the_run(tmp_path):
    from nbclient.exceptions import CellExecutionError

    assert os.environ["LESSONLIB_STRICT_CLAIMS"] == "1"  # set by the root conftest.py for every kernel
    _, _, client = _run_with_a_missed_claim(tmp_path)
    with pytest.raises(CellExecutionError, match="claim 'final NLL, nats' does not hold"):
        client.execute()


def test_the_slides_check_names_the_cell_that_stopped_a_notebook(tmp_path):
    """`course.py present NB --check` runs the notebook first and names the cell, never waits in silence."""
    import present

    nb, cell, _ = _run_with_a_missed_claim(tmp_path)
    path = tmp_path / "03_missed.ipynb"
    nbformat.write(nb, path)
    problem = present.run_through(path)
    index = nb.cells.index(cell)
    assert problem and problem.startswith(f"03_missed.ipynb stopped at cell {index} ("), problem
    assert "AssertionError: claim 'final NLL, nats' does not hold" in problem


def test_a_print_sent_in_two_stream_messages_compares_as_one():
    """A busy kernel may send one print as two stream messages; nbval coalesces them, and so does nbcompare."""
    stored = [_stream("largest error 2.4e-06\n")]
    split = [_stream("largest error 2.4e-06"), _stream("\n")]
    assert nbcompare.compare_approx(stored, split, 0.25, 0.05) == []
    assert nbcompare.compare_exact(stored, split) == []


def test_the_claims_table_replaces_the_rows_of_the_notebooks_run_and_keeps_the_others(tmp_path, monkeypatch):
    import spread

    monkeypatch.setattr(spread, "TABLE", tmp_path / "claims.md")
    monkeypatch.setattr(spread, "ROOT", tmp_path)

    def runs(*values, low=0.0):
        return {
            ("native", k): {"claims": [{"name": "gap", "value": v, "low": low, "high": None}]}
            for k, v in enumerate(values)
        }

    settings = list(spread.SEED_SETTINGS)
    spread.write_table({Path("03_a.ipynb"): runs(1.0, 2.0), Path("05_b.ipynb"): runs(0.5, 0.7)}, 10, settings)
    spread.write_table({Path("05_b.ipynb"): runs(0.9, -1.0)}, 10, settings)  # 05 again: one run misses
    rows = [line for line in (tmp_path / "claims.md").read_text().splitlines() if line.startswith("| 0")]
    assert [r.split("|")[1].strip() for r in rows] == ["03", "05"]
    assert "| 1 .. 2 |" in rows[0] and "0 of 2" in rows[0]
    assert "| -1 .. 0.9 |" in rows[1] and "1 of 2" in rows[1]
