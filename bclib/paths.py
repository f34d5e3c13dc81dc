"""Where things live: the project a profile belongs to, and its standard folders.

Outputs follow the *profile file*, never the installed package: a profile in
``<project>/params/`` writes to ``<project>/outputs/<profile>/``, whichever
checkout bclib itself was installed from. A profile outside any project writes
under the current working directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional


def _is_project(folder: Path) -> bool:
    return (folder / "params").is_dir() and (folder / "notebooks").is_dir()


def project_of(path: Optional[Path]) -> Path:
    """The project holding ``path`` (the first folder above it with ``params/`` and ``notebooks/``),
    else the current working directory."""
    if path is not None:
        for folder in Path(path).resolve().parents:
            if _is_project(folder):
                return folder
    return Path.cwd()


def project_root() -> Path:
    """The project bclib's own source sits in (an editable install, as ``make`` does), else the
    current working directory. Used for the committed notebooks and the repository's own files;
    outputs use :func:`project_of` the profile instead."""
    candidate = Path(__file__).resolve().parents[1]
    return candidate if _is_project(candidate) else Path.cwd()


def notebooks_dir(params_file: Optional[Path] = None) -> Path:
    """The numbered notebooks of the profile's project, else of bclib's own checkout."""
    if params_file is not None:
        own = project_of(params_file) / "notebooks"
        if any(own.glob("[0-9][0-9]_*.ipynb")):
            return own
    return project_root() / "notebooks"
