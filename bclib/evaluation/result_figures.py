"""The report's figures: confusion matrices, ROC curves, reliability diagrams, real beside generated images,
Grad-CAM.

Each function returns a matplotlib figure with the provenance footer (synthetic
data, untrained weights) when given one; notebooks save them with
:func:`bclib.figures.save_figure`.
"""

from __future__ import annotations

from typing import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from sklearn.metrics import auc, confusion_matrix, roc_curve
from sklearn.preprocessing import label_binarize

from ..figures import label_provenance


def _zoom(magnification) -> float:
    """'40X' -> 40.0, so that magnifications sort by zoom rather than as text."""
    digits = str(magnification).upper().rstrip("X")
    return float(digits) if digits.replace(".", "", 1).isdigit() else float("inf")


def confusion_matrices(predictions: pd.DataFrame, classes: Sequence[str], provenance: str = "", title: str = ""):
    """Counts of (true, predicted) overall and, where magnifications are known, per magnification (Figure 7).

    Each cell is coloured by its share of the true class (its row), on one 0-1 scale with one colour bar for
    every panel: panels of different sizes stay comparable, and the diagonal reads as per-class recall.
    """
    groups = [("all images", predictions)]
    if "magnification" in predictions and (predictions["magnification"].astype(str) != "").all():
        by_zoom = predictions.groupby("magnification", sort=False)
        groups += sorted(by_zoom, key=lambda item: _zoom(item[0]))
    n_classes = len(classes)
    side = max(2.6, 0.55 * n_classes + 1.4)
    fig, axes = plt.subplots(1, len(groups) + 1, figsize=(side * len(groups) + 0.9, side + 0.5), squeeze=False,
                             gridspec_kw={"width_ratios": [1] * len(groups) + [0.06]})
    for ax, (name, frame) in zip(axes[0], groups):
        counts = confusion_matrix(frame["label"], frame["pred"], labels=list(classes))
        shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        sns.heatmap(shares, annot=counts, fmt="d", vmin=0.0, vmax=1.0, cmap="Blues", ax=ax, square=True,
                    cbar=ax is axes[0, 0], cbar_ax=axes[0, -1] if ax is axes[0, 0] else None,
                    cbar_kws={"label": "share of the true class"},
                    xticklabels=classes, yticklabels=classes if ax is axes[0, 0] else False)
        ax.set_title(f"{name} (n={len(frame)})", fontsize=9)
        ax.set_xlabel("predicted")
    axes[0, 0].set_ylabel("true")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    label_provenance(fig, provenance)
    return fig


def roc_curves(named: dict[str, pd.DataFrame], classes: Sequence[str], provenance: str = ""):
    """ROC curve per run (Figures 8-9). Two classes: the second class is positive. More: micro-averaged one-vs-rest."""
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    for name, frame in named.items():
        scores = frame[[f"p_{c}" for c in classes]].to_numpy()
        if len(classes) == 2:
            truth, score = (frame["label"] == classes[1]).to_numpy(), scores[:, 1]
        else:
            truth, score = label_binarize(frame["label"], classes=list(classes)).ravel(), scores.ravel()
        if truth.min() == truth.max():
            continue  # one class only: no curve
        fpr, tpr, _ = roc_curve(truth, score)
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.set_title("ROC, " + (f"positive class '{classes[1]}'" if len(classes) == 2 else "micro-average one-vs-rest"),
                 fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    label_provenance(fig, provenance)
    return fig


def real_beside_generated(real_paths: Sequence[str], generated_paths: Sequence[str],
                          loader: Callable[[str], np.ndarray], provenance: str = ""):
    """Two rows: training images of a class above cWGAN images of the same class (Figure 10)."""
    n = max(1, min(len(real_paths), len(generated_paths)))
    fig, axes = plt.subplots(2, n, figsize=(1.7 * n, 3.8), squeeze=False)
    for row, (label, paths) in enumerate((("real", real_paths), ("generated", generated_paths))):
        for k in range(n):
            ax = axes[row, k]
            ax.set_xticks([]), ax.set_yticks([])
            if k < len(paths):
                ax.imshow(loader(paths[k]))
        axes[row, 0].set_ylabel(label)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    label_provenance(fig, provenance)
    return fig


def gradcam_figure(images: np.ndarray, heatmaps: np.ndarray, titles: Sequence[str], row_label: str,
                   provenance: str = ""):
    """Test images (top) and their Grad-CAM overlays (bottom), with the heatmap's colour scale: each map is
    divided by its own peak, so 1 marks the image's strongest evidence for the predicted class."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    from .gradcam import overlay

    n = len(images)
    fig, axes = plt.subplots(2, n + 1, figsize=(1.9 * n + 0.8, 4.2), squeeze=False,
                             gridspec_kw={"width_ratios": [1] * n + [0.08]})
    for k in range(n):
        for row, picture in enumerate((images[k].astype(np.uint8), overlay(images[k], heatmaps[k]))):
            axes[row, k].imshow(picture)
            axes[row, k].set_xticks([]), axes[row, k].set_yticks([])
        axes[0, k].set_title(titles[k], fontsize=7)
    axes[0, 0].set_ylabel("image")
    axes[1, 0].set_ylabel(f"Grad-CAM\n{row_label}", fontsize=8)
    axes[0, -1].axis("off")
    bar = fig.colorbar(ScalarMappable(Normalize(0, 1), colormaps["jet"]), cax=axes[1, -1])
    bar.set_label("evidence / peak", fontsize=7)
    bar.ax.tick_params(labelsize=6)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    label_provenance(fig, provenance)
    return fig


def reliability_diagram(named: dict[str, pd.DataFrame], provenance: str = "", title: str = ""):
    """Accuracy against mean confidence per bin, one line per table of :func:`.calibration.reliability_table`
    (e.g. raw and temperature-scaled), with the diagonal of perfect calibration and the ECE in the legend.

    Below, the share of images per bin: a large gap in a nearly empty bin weighs little in the ECE.
    """
    from .calibration import ece_from_table

    fig, (ax, counts) = plt.subplots(2, 1, figsize=(5.0, 5.6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="perfect calibration")
    for k, (name, table) in enumerate(named.items()):
        filled = table[table["count"] > 0]
        ax.plot(filled["confidence"], filled["accuracy"], marker="o", markersize=4,
                label=f"{name} (ECE {ece_from_table(table):.3f})")
        # Bars side by side within each bin, so that several tables stay readable.
        share = (table["upper"] - table["lower"]).to_numpy() / len(named)
        counts.bar(table["lower"] + share * (k + 0.5), table["count"] / max(table["count"].sum(), 1), width=share,
                   alpha=0.7, label=name)
    ax.set_xlim(0, 1), ax.set_ylim(0, 1.02)
    ax.set_ylabel("accuracy")
    ax.set_title(title or "reliability diagram (top-class confidence)", fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    counts.set_xlabel("confidence")
    counts.set_ylabel("share of images", fontsize=8)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    label_provenance(fig, provenance)
    return fig
