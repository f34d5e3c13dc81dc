"""The figures of the data audit (notebook 00): what the classes weigh and what the tissue looks like.

Each function returns a matplotlib figure labelled with ``provenance`` (what the images are: synthetic or
real, which archive); the notebook saves it with :func:`bclib.figures.save_figure`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from ..figures import label_provenance, sample_grid
from .images import load_rgb
from .index import DatasetIndex
from .layouts import BREAKHIS_MAGNIFICATIONS, BREAKHIS_SUBTYPES


def class_balance_figure(index: DatasetIndex, provenance: str):
    """Images per class, and per magnification for BreakHis (40X before 100X: by magnification, not
    alphabetically), as grouped bars with the legend beside them, never over a bar."""
    fig, ax = plt.subplots(figsize=(6, 3))
    breakhis = index.dataset == "breakhis"
    counts = index.frame.groupby(["magnification", "label"]).size().unstack("label") if breakhis \
        else index.frame.groupby("label").size().to_frame("images")
    if breakhis:
        counts = counts.loc[sorted(counts.index, key=lambda m: int(str(m).rstrip("X")))]
    counts.plot.bar(ax=ax, rot=0)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.set_ylabel("images")
    ax.set_title("Images per class" + (" and magnification" if breakhis else ""))
    label_provenance(fig, provenance)
    return fig


def samples_figure(index: DatasetIndex, seed: int, provenance: str):
    """One tile per subtype (rows) and magnification (columns) for BreakHis (the paper's Figures 2 and 3);
    four per class for a dataset without magnifications."""
    if index.dataset == "breakhis":
        fig = sample_grid(index.frame, "subtype", "magnification", list(BREAKHIS_SUBTYPES), BREAKHIS_MAGNIFICATIONS,
                          load_rgb, seed=seed)
    else:
        fig = sample_grid(index.frame.assign(any=""), "label", "any", index.class_names, [""], load_rgb, per_cell=4,
                          seed=seed)
    label_provenance(fig, provenance)
    return fig


def closeup_picks(index: DatasetIndex, seed: int) -> pd.DataFrame:
    """The tiles of :func:`closeup_figure`: two benign and two malignant at BreakHis's highest magnification,
    one per class elsewhere (drawn with ``seed``)."""
    if index.dataset == "breakhis":
        top = index.frame[index.frame["magnification"] == BREAKHIS_MAGNIFICATIONS[-1]]
        return pd.concat([top[top["label"] == label].sample(2, random_state=seed) for label in ("benign", "malignant")])
    return index.frame.groupby("label").sample(1, random_state=seed)


def closeup_figure(index: DatasetIndex, seed: int, provenance: str):
    """:func:`closeup_picks` at full resolution, each titled with its class, subtype and patient."""
    picks = closeup_picks(index, seed)
    fig, axes = plt.subplots(1, len(picks), figsize=(4 * len(picks), 3))
    for ax, (_, row) in zip(axes, picks.iterrows()):
        ax.imshow(load_rgb(row["path"]))
        ax.set_title(f"{row['label']} · {row.get('subtype', '') or ''}\npatient {row['patient'] or '-'}", fontsize=9)
        ax.axis("off")
    label_provenance(fig, provenance)
    return fig
