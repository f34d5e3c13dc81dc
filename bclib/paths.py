"""Where things live: the project root and the standard output folders."""

from __future__ import annotations

from pathlib import Path


def project_root() -> Path:
    """The repository root (the folder holding ``pyproject.toml`` and ``notebooks/``).

    bclib is installed in editable mode by ``make``, so the package sits inside
    the repository. For a non-editable install the current folder is used.
    """
    candidate = Path(__file__).resolve().parents[1]
    if (candidate / "pyproject.toml").is_file() and (candidate / "notebooks").is_dir():
        return candidate
    return Path.cwd()


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def params_dir() -> Path:
    return project_root() / "params"
