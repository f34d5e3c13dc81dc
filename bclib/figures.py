"""Figures: one saving helper and the plots the notebooks share.

Every figure drawn from synthetic data or untrained weights carries a footer
saying so (:func:`label_provenance`), and :func:`save_figure` writes PNGs
atomically into ``<output_dir>/figures/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .io import atomic_path
from .layout import Layout


def label_provenance(fig, text: Optional[str]) -> None:
    """Write ``text`` (e.g. 'SYNTHETIC data') small below the figure (figures are saved with
    ``bbox_inches="tight"``, which takes it in), where it cannot cover tick labels."""
    if text:
        # below everything drawn so far (x labels included), in figure coordinates
        lowest = fig.get_tightbbox(fig.canvas.get_renderer()).y0 / fig.get_figheight()
        fig.text(0.5, min(lowest, 0.0) - 0.01, text, ha="center", va="top", fontsize=8, color="#a00000")


def save_figure(fig, name: str, output_dir: str | Path, dpi: int = 110) -> Path:
    """Save ``fig`` as ``<output_dir>/figures/<name>.png`` (write, then rename)."""
    target = Layout(output_dir).figure(name)
    with atomic_path(target) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    return target


def sample_grid(frame: pd.DataFrame, rows: str, columns: str, row_order, column_order,
                loader, per_cell: int = 1, seed: int = 0, thumb: int = 160):
    """A grid of example images: one row per value of ``rows``, one column per value of ``columns``.

    ``loader(path) -> uint8 array``. Empty cells (no image of that kind) stay blank.
    """
    rng = np.random.default_rng(seed)
    n_rows, n_cols = len(row_order), len(column_order) * per_cell
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.9 * n_cols, 1.45 * n_rows + 0.4), squeeze=False)
    for i, r in enumerate(row_order):
        for j, c in enumerate(column_order):
            pool = frame[(frame[rows] == r) & (frame[columns] == c)]
            picks = pool.iloc[rng.permutation(len(pool))[:per_cell]] if len(pool) else pool
            for k in range(per_cell):
                ax = axes[i, j * per_cell + k]
                ax.set_xticks([]), ax.set_yticks([])
                if k < len(picks):
                    ax.imshow(loader(picks.iloc[k]["path"]))
                if i == 0 and k == 0:
                    ax.set_title(str(c), fontsize=9)
                if j == 0 and k == 0:
                    ax.set_ylabel(str(r).replace("_", "\n"), fontsize=8)
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    return fig
