"""What a student reads in the committed notebooks: no NaN, None, raw reprs or tables cut by pandas."""

import json
import re

import pytest

from bclib.paths import project_root

NOTEBOOKS = sorted((project_root() / "notebooks").glob("0*.ipynb"))
FORBIDDEN = {
    "NaN": re.compile(r"(?<![A-Za-z])(NaN|nan)(?![A-Za-z])"),
    "None": re.compile(r"(?<![A-Za-z`'\"])None(?![A-Za-z`'\"])"),
    "dtype": re.compile(r"dtype: "),
    "truncated table": re.compile(r"\d+ rows [x×] \d+ columns|<td>\.\.\.</td>|^\.\.\.\s", re.M),
}


def _outputs(notebook):
    for number, cell in enumerate(json.loads(notebook.read_text())["cells"]):
        for output in cell.get("outputs", []):
            texts = [output.get("text", "")] + [output.get("data", {}).get(kind, "")
                                                for kind in ("text/plain", "text/html", "text/markdown")]
            for text in texts:
                yield number, "".join(text) if isinstance(text, list) else text


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_outputs_read_cleanly(notebook):
    found = [f"cell {number}: {name}: ...{text[max(0, m.start() - 60):m.end() + 20]!r}"
             for number, text in _outputs(notebook) for name, pattern in FORBIDDEN.items()
             for m in [pattern.search(text)] if m]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_notebook_opens_with_objectives_and_ends_with_exercises(notebook):
    cells = [c for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "markdown"]
    opening = "".join(cells[0]["source"])
    assert "Learning objectives" in opening and "Run time" in opening and "Reads" in opening and "Writes" in opening
    assert "glossary" in opening.lower()
    closing = "".join(cells[-1]["source"])
    assert "Exercises" in closing


def test_the_report_notebook_narrates_and_the_library_computes():
    """Issue #39: notebook 05's cells call bclib.evaluation.report_sections, each at most 10 code lines (the
    opening Colab cell, one snippet shared by every notebook and tested on its own, aside)."""
    cells = [c for c in json.loads((project_root() / "notebooks" / "05_results_report.ipynb").read_text())["cells"]
             if c["cell_type"] == "code" and "google.colab" not in "".join(c["source"])]
    long = {number: n for number, cell in enumerate(cells)
            for n in [sum(1 for line in "".join(cell["source"]).splitlines()
                          if line.strip() and not line.strip().startswith("#"))] if n > 10}
    assert not long, f"code cells over 10 lines (cell: lines): {long}"
