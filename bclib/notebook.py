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

from .layout import Layout
from .params import Params, load_params


@dataclass
class Session:
    params: Params
    output_dir: Path
    figures_dir: Path
    tables_dir: Path


def setup(params_path: str | Path) -> Session:
    params = load_params(params_path)
    layout = Layout.of(params)
    out, figures, tables = layout.root, layout.figures(), layout.tables()
    for folder in (out, figures, tables):
        folder.mkdir(parents=True, exist_ok=True)
    random.seed(params.seed)
    np.random.seed(params.seed)
    import seaborn as sns

    sns.set_theme(context="notebook", style="white")
    import pandas as pd

    # Tables whole: pandas would otherwise cut wide ones to "3 rows x 33 columns" with "..." in the middle.
    pd.set_option("display.max_columns", None)
    pd.set_option("display.width", 200)
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


def save_table(table, name: str, session: Session, provenance: str) -> Path:
    """Write a DataFrame as ``<output>/tables/<name>.csv`` atomically, headed by ``provenance`` (the data and
    weights behind it) and the date, commit, processor and TensorFlow set-up (:mod:`bclib.tablefile`)."""
    from .tablefile import write_table

    return write_table(table, session.tables_dir / f"{name}.csv", provenance)


def readable(table, digits: int = 3):
    """A table as a student should read it: numbers rounded to ``digits``, empty cells blank (not NaN or
    None), a Series as a two-column table (no 'dtype: object' line), every column shown (see :func:`setup`).
    ``None`` (a table the run had nothing to put in) shows nothing."""
    import pandas as pd

    if table is None:
        return None
    if isinstance(table, dict):
        table = pd.Series(table)
    if isinstance(table, pd.Series):
        table = table.rename_axis("item").to_frame("value")
    rounded = table.copy()
    for column in rounded.columns:
        values = rounded[column]
        if pd.api.types.is_float_dtype(values):
            rounded[column] = values.round(digits)
        elif values.dtype == object:
            rounded[column] = values.map(lambda v: round(v, digits) if isinstance(v, float) else v)
    return rounded.astype(object).where(rounded.notna(), "")
