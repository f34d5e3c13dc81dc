"""Figures for notebook 01: training curves, fakes over time, nearest-neighbour pairs."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from PIL import Image


def training_curves(records: Sequence[dict]):
    """Critic and generator losses, penalty and gradient norm against kimg."""
    table = pd.DataFrame(records)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    table.plot(x="kimg", y=["loss_d", "wasserstein"], ax=axes[0], marker="o")
    axes[0].set_title("critic")
    table.plot(x="kimg", y=["loss_g"], ax=axes[1], marker="o", color="C2")
    axes[1].set_title("generator")
    table.plot(x="kimg", y=["penalty", "grad_norm"], ax=axes[2], marker="o")
    axes[2].set_title("penalty and gradient norm")
    for ax in axes:
        ax.set_xlabel("kimg (thousands of real images shown)")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def fakes_over_time(out_dir: Path, records: Sequence[dict], real_rows: np.ndarray, class_names: Sequence[str],
                    max_snapshots: int = 4):
    """The fixed-latent grids of a few snapshots (one row per class) above real images of each class."""
    chosen = list(records)[:: max(1, int(np.ceil(len(records) / max_snapshots)))][-max_snapshots:]
    if records and chosen[-1] is not records[-1]:
        chosen = chosen[1:] + [records[-1]]
    panels = [(f"generated, {r['kimg']:.2f} kimg", np.asarray(Image.open(out_dir / r["fakes"]))) for r in chosen]
    fig, axes = plt.subplots(len(panels) + 1, 1, figsize=(8, 1.35 * len(class_names) * (len(panels) + 1) + 0.5))
    axes = np.atleast_1d(axes)
    for ax, (title, image) in zip(axes, panels):
        ax.imshow(image)
        ax.set_title(title, fontsize=9)
    axes[-1].imshow(real_rows)
    axes[-1].set_title("real training images (same classes, same row order)", fontsize=9)
    for ax in axes:
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_ylabel("\n".join(class_names), fontsize=8)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def closest_pairs(generated_u8: np.ndarray, training_u8: np.ndarray, table: pd.DataFrame, k: int = 6,
                  distance: str = "pixel_distance", nearest: str = "nearest_pixel"):
    """The k generated images closest to a training image, each above its nearest training image."""
    rows = table.nsmallest(k, distance)
    fig, axes = plt.subplots(2, len(rows), figsize=(1.6 * len(rows), 3.6), squeeze=False)
    for j, (_, row) in enumerate(rows.iterrows()):
        axes[0, j].imshow(generated_u8[int(row["generated"])])
        axes[0, j].set_title(f"d={row[distance]:.2f}", fontsize=8)
        axes[1, j].imshow(training_u8[int(row[nearest])])
    for ax in axes.ravel():
        ax.set_xticks([]), ax.set_yticks([])
    axes[0, 0].set_ylabel("generated", fontsize=8)
    axes[1, 0].set_ylabel("nearest real", fontsize=8)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig
