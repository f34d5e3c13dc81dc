"""Point the compendium at its public repository: `make repository URL=https://github.com/OWNER/NAME`.

The address lives in one place, ``[project.urls] Repository`` in pyproject.toml;
this rewrites it there and in every notebook's Colab badge and first cell (the
py:percent twins; ``make sync`` then pairs the .ipynb files), which
tests/test_environment.py checks agree with it.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(url: str) -> int:
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url):
        print(f"set_repository: expected https://github.com/OWNER/NAME, got {url!r}", file=sys.stderr)
        return 2
    pyproject = ROOT / "pyproject.toml"
    old = tomllib.loads(pyproject.read_text())["project"]["urls"]["Repository"]
    old_slug, new_slug = old.removeprefix("https://github.com/"), url.removeprefix("https://github.com/")
    pyproject.write_text(pyproject.read_text().replace(f'Repository = "{old}"', f'Repository = "{url}"'))
    for script in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")):
        text = script.read_text()
        text = text.replace(f"colab.research.google.com/github/{old_slug}/",
                            f"colab.research.google.com/github/{new_slug}/")
        script.write_text(text.replace(f'"{old}"', f'"{url}"'))
    print(f"repository: {old} -> {url}; now run `make sync`")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ""))
