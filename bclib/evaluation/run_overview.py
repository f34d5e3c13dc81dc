"""What notebooks 03 and 04 show of the classifier runs they trained: a row per run, accuracy over seeds,
the line that says what the numbers were made from, and the learning curves.

``jobs`` are the experiment's classifier jobs (:mod:`bclib.experiment.classifier_jobs`); only their
``out_dir``, ``model`` and ``name`` are read, and only runs that finished are shown.
"""

from __future__ import annotations

import json
from typing import Optional, Sequence

import matplotlib.pyplot as plt
import pandas as pd

from ..figures import label_provenance


def collect_runs(jobs: Sequence) -> pd.DataFrame:
    """One row per finished job: model, variant, seed, test accuracy, sizes, provenance."""
    rows = []
    for job in jobs:
        path = job.out_dir / "run.json"
        if path.is_file():
            record = json.loads(path.read_text())
            rows.append({k: record[k] for k in ("model", "variant", "seed", "test_accuracy", "n_train",
                                                "n_train_generated", "n_test", "epochs_run", "untrained_backbone",
                                                "synthetic_data", "wall_s")}
                        | {"fold": record.get("fold"), "n_train_extra": record.get("n_train_extra", 0),
                           "output": str(job.out_dir)})
    return pd.DataFrame(rows)


def accuracy_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy per model and variant: mean and standard deviation over seeds."""
    grouped = runs.groupby(["model", "variant"])["test_accuracy"]
    table = pd.DataFrame({"seeds": grouped.size(), "accuracy_mean": grouped.mean(), "accuracy_std": grouped.std()})
    return table.fillna({"accuracy_std": 0.0}).round(3)


def learning_curves(jobs: Sequence, provenance: str = ""):
    """Training and validation loss and accuracy per epoch for every finished job (the paper's Figures 5-6).

    One column per model (a panel with ten runs cannot be read), loss above accuracy; one colour per variant
    and seed, solid for training and dashed for validation. Each accuracy panel carries the validation set's
    majority-class share (dotted): a validation curve at or below it has learnt nothing a constant answer would
    not give. A linear probe is fitted once, so its run is a single marked point at epoch 1.
    """
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    done = [j for j in jobs if (j.out_dir / "history.csv").is_file()]
    models = list(dict.fromkeys(j.model for j in done)) or ["(no finished run)"]
    fig, axes = plt.subplots(2, len(models), figsize=(3.4 * len(models) + 1.5, 6.2), squeeze=False, sharex="col")
    palette = plt.get_cmap("tab10")
    for column, model in enumerate(models):
        runs = [j for j in done if j.model == model]
        for i, job in enumerate(runs):
            history = pd.read_csv(job.out_dir / "history.csv")
            colour, marker = palette(i % palette.N), "o" if len(history) == 1 else None
            for ax, metric in zip(axes[:, column], ("loss", "accuracy")):
                ax.plot(history["epoch"], history[metric], color=colour, marker=marker,
                        label=job.name.split("/", 1)[-1])
                ax.plot(history["epoch"], history[f"val_{metric}"], color=colour, marker=marker, linestyle="--")
        majority = _validation_majority(runs)
        if majority is not None:
            axes[1, column].axhline(majority, color="black", linestyle=":", linewidth=1)
        axes[0, column].set_title(model, fontsize=10)
        axes[1, column].set_xlabel("epoch")
        axes[1, column].xaxis.set_major_locator(MaxNLocator(integer=True))  # a probe's single epoch: no 0.96..1.04
        if runs:
            axes[1, column].legend(fontsize=6, loc="lower right", title="variant / seed", title_fontsize=6)
    axes[0, 0].set_ylabel("loss")
    axes[1, 0].set_ylabel("accuracy")
    fig.legend(handles=[Line2D([], [], color="grey", label="training"),
                        Line2D([], [], color="grey", linestyle="--", label="validation"),
                        Line2D([], [], color="black", linestyle=":", label="validation majority-class share")],
               fontsize=7, loc="upper center", ncol=3, bbox_to_anchor=(0.5, 1.02))
    fig.tight_layout(rect=(0, 0.02, 1, 0.96))
    label_provenance(fig, provenance)
    return fig


def _validation_majority(jobs: Sequence) -> Optional[float]:
    """The share of the largest class among the validation images of the first of ``jobs`` that saved them
    (the runs of one model share their validation split)."""
    for job in jobs:
        path = job.out_dir / "val_predictions.csv"
        if path.is_file():
            return float(pd.read_csv(path, usecols=["label"])["label"].value_counts(normalize=True).max())
    return None


def run_provenance(runs: pd.DataFrame, split: str) -> str:
    data = "SYNTHETIC data" if runs["synthetic_data"].all() else "real data"
    weights = "UNTRAINED backbones (weights: none)" if runs["untrained_backbone"].any() else "ImageNet backbones"
    return f"{data} | {weights} | {split} split"
