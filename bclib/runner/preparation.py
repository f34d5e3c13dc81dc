"""Before a run of a profile starts anything: the profile read and checked, the notebooks chosen, and only
then the resolved parameter file written.

Everything that can refuse a run (a parameter, the data or output folder, an ``--only`` that names no
notebook, ``--notebooks-at-once``) is checked before anything is written, so a refused command leaves the
previous run's ``params.yaml``, manifest and executed notebooks as they were.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from ..errors import UserError
from ..io import write_text_atomic
from ..layout import Layout
from ..params import Params, check_runnable, load_params
from ..paths import notebooks_dir as default_notebooks_dir
from .notebooks import discover


@dataclass(frozen=True)
class PreparedRun:
    params: Params  # as the resolved file gives them: what every job and notebook of the run reads
    resolved: Path  # outputs/<profile>/params.yaml
    params_file: Path  # the profile as given
    overrides: tuple[str, ...]
    notebooks_dir: Path
    notebooks: tuple[Path, ...]  # to execute, in number order (none for a jobs-only run)


def prepare_run(params_file: str | os.PathLike, overrides: Sequence[str] = (), only: Optional[Sequence[str]] = None,
                notebooks: bool = True, notebooks_dir: Optional[Path] = None, at_once: int = 1) -> PreparedRun:
    """Read and check the profile and the notebooks to run, then write the resolved parameters (overrides
    applied, paths absolute) to ``outputs/<profile>/params.yaml`` and read them back: every job and notebook
    reads that file, so their parameters, and so their job keys, are the scheduler's."""
    if at_once < 1:
        raise UserError(f"--notebooks-at-once must be at least 1, got {at_once}")
    params = load_params(params_file, overrides)
    check_runnable(params)
    folder = Path(notebooks_dir) if notebooks_dir else default_notebooks_dir(Path(params_file).resolve())
    chosen = tuple(discover(folder, only or params.run.notebooks)) if notebooks else ()
    resolved = write_text_atomic(Layout.of(params).params_file(), params.to_yaml())
    return PreparedRun(load_params(resolved), resolved, Path(params_file), tuple(overrides), folder, chosen)
