"""Copy the demo's results from the committed notebook 05 into README.md.

The block between the README's ``<!-- results:start -->`` and ``<!-- results:end -->``
markers is the Markdown output of notebook 05's cell tagged ``readme-numbers``
(``bclib.evaluation.summary.readme_block``, computed from the tables that run
saved). Run it after ``make refresh-notebooks``; ``tests/test_readme.py`` fails
while the two disagree.

    python tools/update_readme.py           # rewrite README.md
    python tools/update_readme.py --check   # exit 1 if README.md is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "05_results_report.ipynb"
README = ROOT / "README.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"
TAG = "readme-numbers"


def notebook_block(notebook: Path = NOTEBOOK) -> str:
    """The Markdown output of the notebook's ``readme-numbers`` cell."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    tagged = [c for c in cells if TAG in c.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise SystemExit(f"{notebook}: expected one cell tagged {TAG!r}, found {len(tagged)}")
    for output in tagged[0].get("outputs", []):
        text = output.get("data", {}).get("text/markdown")
        if text:
            return "".join(text).strip() + "\n"
    raise SystemExit(f"{notebook}: the {TAG!r} cell has no Markdown output: execute the notebook first")


def readme_block(readme: Path = README) -> str:
    text = readme.read_text(encoding="utf-8")
    if text.count(START) != 1 or text.count(END) != 1:
        raise SystemExit(f"{readme}: expected one {START} and one {END} marker")
    return text.split(START, 1)[1].split(END, 1)[0].strip() + "\n"


def updated(readme_text: str, block: str) -> str:
    head, rest = readme_text.split(START, 1)
    return f"{head}{START}\n{block.strip()}\n{END}{rest.split(END, 1)[1]}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md differs from the notebook")
    args = parser.parse_args(argv)
    block = notebook_block()
    if args.check:
        if readme_block() != block:
            print("README.md's results differ from notebooks/05_results_report.ipynb: run tools/update_readme.py",
                  file=sys.stderr)
            return 1
        return 0
    README.write_text(updated(README.read_text(encoding="utf-8"), block), encoding="utf-8")
    print(f"README.md: results copied from {NOTEBOOK.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
