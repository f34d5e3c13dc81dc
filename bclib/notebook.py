"""The setup every notebook's first code cell calls.

Keeps notebook cells thin: it loads and validates the parameters, creates
the output folders, fixes seeds, sets a plotting style, and tells the reader
in one line what data and weights the numbers below come from.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .params import Params, load_params


@dataclass
class Session:
    params: Params
    output_dir: Path
    figures_dir: Path
    tables_dir: Path


def setup(params_path: str | Path) -> Session:
    params = load_params(params_path)
    out = params.output_dir
    figures, tables = out / "figures", out / "tables"
    for folder in (out, figures, tables):
        folder.mkdir(parents=True, exist_ok=True)
    random.seed(params.seed)
    np.random.seed(params.seed)
    import seaborn as sns

    sns.set_theme(context="notebook", style="white")
    _compact_inline_figures()
    return Session(params, out, figures, tables)


def _compact_inline_figures() -> None:
    """Show figures inline as JPEG: tissue textures make PNGs of several MB in the committed notebooks.

    The PNG files written by ``save_figure`` are unaffected.
    """
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # not inside IPython
        return
    if get_ipython() is not None:
        set_matplotlib_formats("jpeg", pil_kwargs={"quality": 80})


def save_table(table, name: str, session: Session) -> Path:
    """Write a DataFrame as ``<output>/tables/<name>.csv`` atomically."""
    from .io import atomic_path

    target = session.tables_dir / f"{name}.csv"
    with atomic_path(target) as tmp:
        table.to_csv(tmp)
    return target
