"""Figures and tables for notebook 01: training curves, per-class scores, fakes over time, nearest pairs."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from PIL import Image

READING = ("{fid}, {kid}, precision, recall: in the features\n{features};\nwith untrained features (weights none) "
           "they rank\nsnapshots of this run only.\nSWD: in pixels (Laplacian-pyramid patches),\nno network: "
           "texture, sharpness and colour\nof small patches, comparable across runs.")
SCORE_KEYS = ("fid", "kid", "kid_std", "precision", "precision_std", "recall", "recall_std", "swd", "n_real",
              "n_fake", "pr_n")


def _plot(table: pd.DataFrame, ax, columns, title: str, **kwargs) -> None:
    present = [c for c in columns if c in table.columns and table[c].notna().any()]
    if present:
        table.plot(x="kimg", y=present, ax=ax, marker="o", **kwargs)
    else:
        ax.text(0.5, 0.5, "not recorded", ha="center", va="center", transform=ax.transAxes)
    ax.set_title(title)


def distance_names(records: Sequence[dict]) -> tuple[str, str]:
    """What the records' Frechet and kernel distances are called: FID and KID in InceptionV3 features only,
    "FD (<network>)" and "KD (<network>)" in any other (EfficientNet-Lite0's, an encoder's)."""
    names = [r["distance_name"] for r in records if r.get("distance_name")]
    if not names or names[-1] == "FID":
        return "FID", "KID"
    return names[-1], names[-1].replace("FD", "KD", 1)


def training_curves(records: Sequence[dict], class_names: Sequence[str] = ()):
    """Losses, gradient norms, augmentation probability, FID, KID, precision/recall and SWD against kimg."""
    table = pd.DataFrame(records)
    fig, axes = plt.subplots(2, 4, figsize=(17, 6.4))
    axes = axes.ravel()
    _plot(table, axes[0], ["loss_d", "loss_g"], "losses (critic, generator)")
    _plot(table, axes[1], ["grad_norm", "grad_norm_max", "penalty"], "critic input-gradient norm, penalty")
    _plot(table, axes[2], ["augment_p", "rt"], "augmentation p and r_t = E[sign D(real)]")
    fid, kid = distance_names(records)
    per_class = [f"fid_{c}" for c in class_names]
    _plot(table, axes[3], per_class + ["fid"], f"{fid} (per class; pooled)")
    _plot(table, axes[4], [f"kid_{c}" for c in class_names] + ["kid"], f"{kid} (per class; pooled)")
    _plot(table, axes[5], ["precision"] + [f"precision_{c}" for c in class_names],
          "precision (solid), recall (dashed)")
    _plot(table, axes[5], ["recall"] + [f"recall_{c}" for c in class_names],
          "precision (solid), recall (dashed)", linestyle="--")
    axes[5].set_ylim(-0.05, 1.05)
    _plot(table, axes[6], [f"swd_{c}" for c in class_names] + ["swd"],
          "SWD x 1e3 (pixel patches, no network)")
    axes[7].axis("off")
    features = str(table["features"].dropna().iloc[-1]) if "features" in table and table["features"].notna().any() \
        else "none"
    axes[7].text(0, 0.5, READING.format(features=features, fid=fid, kid=kid), fontsize=8, va="center", wrap=True,
                 transform=axes[7].transAxes)
    for ax in axes:
        ax.set_xlabel("kimg (thousands of real images shown)")
        if ax.get_legend() is not None and ax.axison:
            ax.legend(fontsize=7)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def per_class_scores(record: dict, class_names: Sequence[str]) -> pd.DataFrame:
    """One row per class (plus the class mean and the pooled row) of a snapshot record."""
    rows = []
    for c in class_names:
        if f"fid_{c}" in record:
            rows.append({"class": c, **{k: record.get(f"{k}_{c}") for k in SCORE_KEYS}})
    if "fid_class_mean" in record:
        rows.append({"class": "mean over classes", "fid": record["fid_class_mean"],
                     "kid": record.get("kid_class_mean")})
    if "fid" in record:
        rows.append({"class": "pooled (generated in the real class proportions)",
                     **{k: record.get(k) for k in SCORE_KEYS}})
    table = pd.DataFrame(rows).set_index("class")
    table.insert(0, "kimg", record.get("kimg"))
    return table


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
    for ax, image in zip(axes, [image for _, image in panels] + [real_rows]):
        # one label per row of the grid, at the row's centre (the grids stack one row per class)
        row_height = image.shape[0] / max(len(class_names), 1)
        ax.set_xticks([])
        ax.set_yticks([(i + 0.5) * row_height for i in range(len(class_names))], list(class_names), fontsize=8)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def closest_pairs(generated_u8: np.ndarray, training_u8: np.ndarray, table: pd.DataFrame, k: int = 6,
                  distance: str = "pixel_distance", nearest: str = "nearest_pixel", values: int = 32 * 32 * 3):
    """The k generated images closest to a training image, each above its nearest training image.

    One pair per training image (the closest generated image to it): six copies of the same tile would show
    one near-copy six times. Titles give the root-mean-square difference per pixel value (images in [0, 1],
    shrunk to 32 x 32, ``values`` numbers each): the Euclidean distance of the table divided by sqrt(values)."""
    rows = table.sort_values(distance).drop_duplicates(nearest).head(k)
    fig, axes = plt.subplots(2, len(rows), figsize=(1.6 * len(rows), 3.9), squeeze=False)
    for j, (_, row) in enumerate(rows.iterrows()):
        axes[0, j].imshow(generated_u8[int(row["generated"])])
        axes[0, j].set_title(f"rms {row[distance] / np.sqrt(values):.3f}", fontsize=8)
        axes[1, j].imshow(training_u8[int(row[nearest])])
    for ax in axes.ravel():
        ax.set_xticks([]), ax.set_yticks([])
    axes[0, 0].set_ylabel("generated", fontsize=8)
    axes[1, 0].set_ylabel("nearest real", fontsize=8)
    fig.suptitle("rms: root-mean-square pixel difference at 32 x 32, values in [0, 1] (0 = identical)", fontsize=8)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def sweep_figure(records: pd.DataFrame, kinds: Sequence[str], distance: str, scored_on: str):
    """Notebook 02's figure: each sweep point's FD/FID, KD/KID, precision and recall.

    Runs with several snapshots draw one curve per swept value against kimg (look for the value whose curve goes
    lowest and stays there). Runs of a single snapshot (the smoke profile's sweep) have no curve: then the
    scores are drawn against the swept value itself, one point each, so that the x axis says something."""
    from matplotlib.lines import Line2D

    kernel = distance.replace("FD", "KD", 1).replace("FID", "KID")
    curves = records.groupby(["kind", "value"])["kimg"].nunique().max() > 1
    fig, axes = plt.subplots(3, len(kinds), figsize=(5.5 * len(kinds), 9), squeeze=False,
                             sharex="col" if curves else False)
    for col, kind in enumerate(kinds):
        rows = records[records["kind"] == kind]
        if curves:
            for i, (value, run) in enumerate(rows.groupby("value")):
                axes[0, col].plot(run["kimg"], run["fid_ranked"], marker="o", label=f"{kind} {value:g}")
                axes[1, col].plot(run["kimg"], run["kid_ranked"], marker="o", label=f"{kind} {value:g}")
                axes[2, col].plot(run["kimg"], run["precision_ranked"], marker="o", color=f"C{i}")
                axes[2, col].plot(run["kimg"], run["recall_ranked"], marker="x", linestyle="--", color=f"C{i}")
            axes[2, col].set_xlabel("kimg (thousands of real images shown)")
            axes[0, col].legend(fontsize=8)
        else:
            last = rows.sort_values("kimg").groupby("value").tail(1).sort_values("value")
            positions = np.arange(len(last))
            for ax, column in zip(axes[:2, col], ("fid_ranked", "kid_ranked")):
                ax.plot(positions, last[column], marker="o", linestyle=":")
            axes[2, col].plot(positions, last["precision_ranked"], marker="o", linestyle=":", color="C0")
            axes[2, col].plot(positions, last["recall_ranked"], marker="x", linestyle="--", color="C1")
            for ax in axes[:, col]:
                ax.set_xticks(positions, [f"{v:g}" for v in last["value"]])
            kimg = last["kimg"].iloc[0] if len(last) else 0
            axes[2, col].set_xlabel(f"{'gamma' if kind == 'gamma' else 'batch size'} "
                                    f"(each run one snapshot, at {kimg:g} kimg)")
        for ax in axes[:2, col]:
            # From 0: a distance of several hundred drawn on a 1-unit axis makes noise look like a ranking.
            ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]), top=ax.get_ylim()[1] * 1.1 if ax.get_ylim()[1] > 0 else 1)
            ax.ticklabel_format(axis="y", useOffset=False, style="plain")
        axes[0, col].set_title(f"{kind} sweep, scored on {scored_on}")
        axes[0, col].set_ylabel(distance)
        axes[1, col].set_ylabel(kernel)
        axes[2, col].set_ylabel("precision / recall")
        axes[2, col].set_ylim(-0.05, 1.05)
        axes[2, col].legend(handles=[Line2D([], [], color="C0" if not curves else "grey", marker="o",
                                            label="precision"),
                                     Line2D([], [], color="C1" if not curves else "grey", marker="x",
                                            linestyle="--", label="recall")], fontsize=8)
    fig.suptitle("GAN scores of each sweep run" + (" by training length (kimg)" if curves else
                                                   ": where each setting ended"), fontsize=11)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig
