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
