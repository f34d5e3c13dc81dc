"""How much an image-level split flatters a model, shown with a model that can only memorise.

The trained-network comparison (:func:`bclib.evaluation.run_tables.leakage_table`) is
one run per split on a few test patients: its interval is too wide to teach from
on the embedded data. This module shows the mechanism directly, on features that
carry it and at a cost that allows many repetitions:

* each image is described by colour statistics (per-channel mean, standard
  deviation and 10/50/90th percentiles): the staining of a slide, which differs
  between patients more than between the two classes;
* a 1-nearest-neighbour classifier labels a test image with the label of the most
  similar training image. If another image of the same patient is in training,
  that neighbour is usually it, and its label is right because a patient has one
  label: the classifier recognises the patient, not the disease;
* the comparison is repeated over ``repeats`` random patient-disjoint and
  image-level splits of the same images (same test fraction), and the gap
  (image minus patient split) gets a t interval with Nadeau and Bengio's (2003)
  correction for the overlap between repeated random splits: the naive variance
  of the mean, ``s^2 / J``, becomes ``s^2 (1/J + n_test/n_train)``, because the
  ``J`` repetitions share most of their training data and are not independent.

Everything is NumPy and scikit-learn (no TensorFlow), so the numbers are the same
on every processor.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

PERCENTILES = (10, 50, 90)
# Fewer named patients than this and a patient-disjoint split has too few groups to draw 30 different splits
# from (and BACH, which publishes no patient ids, has none at all).
MIN_PATIENTS = 10
NO_PATIENTS = ("Skipped: this dataset does not name a patient for every image (BACH publishes no patient ids), "
               "so there is no patient-disjoint split to set against an image-level one.")


def colour_statistics(images_u8: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, 15): per channel, the mean, standard deviation and 10/50/90th percentiles."""
    pixels = images_u8.reshape(len(images_u8), -1, images_u8.shape[-1]).astype(np.float64) / 255.0
    percentiles = np.percentile(pixels, PERCENTILES, axis=1).transpose(1, 0, 2).reshape(len(pixels), -1)
    return np.concatenate([pixels.mean(axis=1), pixels.std(axis=1), percentiles], axis=1)


def nearest_neighbour():
    """The memorising classifier: 1-nearest neighbour on standardised features."""
    return make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=1))


def repeated_split_gap(features: np.ndarray, labels: np.ndarray, patients: np.ndarray, repeats: int = 30,
                       test_fraction: float = 0.2, seed: int = 0, classifier=nearest_neighbour) -> pd.DataFrame:
    """One row per repetition: balanced accuracy on a patient-disjoint and on an image-level split drawn with
    the same seed and test fraction, and their gap (image minus patient)."""
    rows = []
    for r in range(repeats):
        row = {"repeat": r}
        for split, splitter in (("patient", GroupShuffleSplit(1, test_size=test_fraction, random_state=seed + r)),
                                ("image", ShuffleSplit(1, test_size=test_fraction, random_state=seed + r))):
            groups = patients if split == "patient" else None  # an image-level split ignores the patients
            train, test = next(splitter.split(features, labels, groups))
            fitted = classifier().fit(features[train], labels[train])
            row[f"{split}_split"] = balanced_accuracy_score(labels[test], fitted.predict(features[test]))
            row[f"n_test_{split}"], row[f"n_train_{split}"] = len(test), len(train)
        rows.append(row)
    table = pd.DataFrame(rows)
    table["gap"] = table["image_split"] - table["patient_split"]
    return table


def corrected_interval(gaps, n_train: int, n_test: int, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean gap and its interval over repeated random splits (Nadeau & Bengio 2003, corrected resampled t).

    ``n_train``/``n_test``: images in the training and test parts of one repetition."""
    gaps = np.asarray(gaps, dtype=float)
    if len(gaps) < 2:
        raise ValueError("a repeated-split interval needs at least two repetitions")
    mean, variance = gaps.mean(), gaps.var(ddof=1)
    half = stats.t.ppf(0.5 + confidence / 2, df=len(gaps) - 1) * np.sqrt(variance * (1 / len(gaps) + n_test / n_train))
    return float(mean), float(mean - half), float(mean + half)


def split_leakage_summary(table: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """One row: mean balanced accuracy under each split and the gap with its corrected interval."""
    gap, low, high = corrected_interval(table["gap"], int(table["n_train_image"].median()),
                                        int(table["n_test_image"].median()), confidence)
    return pd.DataFrame([{
        "classifier": "1-nearest neighbour on colour statistics",
        "repeats": len(table),
        "patient split": round(float(table["patient_split"].mean()), 3),
        "image split": round(float(table["image_split"].mean()), 3),
        "gap": round(gap, 3), "low": round(low, 3), "high": round(high, 3),
        "interval above 0": bool(low > 0),
    }])


def split_leakage_from_params(params, repeats: int = 30, image_size: int = 64) -> pd.DataFrame | None:
    """:func:`repeated_split_gap` on every image of the profile's dataset (colour statistics at ``image_size``
    pixels; the labels are the profile's classes, the groups its patients).

    ``None`` (see :data:`NO_PATIENTS`) when an image has no patient or fewer than :data:`MIN_PATIENTS` are named:
    the comparison needs patients to keep apart."""
    from pathlib import Path

    from ..data.index import index_from_params
    from ..metrics.features import folder_arrays

    frame = index_from_params(params).frame
    patients = frame["patient"].astype(str)
    if (patients == "").any() or patients.nunique() < MIN_PATIENTS:
        return None
    images, _ = folder_arrays([Path(p) for p in frame["path"]], image_size)
    return repeated_split_gap(colour_statistics(images), frame["label_index"].to_numpy(), frame["patient"].to_numpy(),
                              repeats=repeats, test_fraction=params.data.test_fraction, seed=params.seed)


def split_leakage_figure(table: pd.DataFrame, provenance: str = ""):
    """Each repetition's balanced accuracy under the two splits, joined by a line: the lines rise when the
    image split lets the classifier recognise patients."""
    import matplotlib.pyplot as plt

    from ..figures import label_provenance

    fig, ax = plt.subplots(figsize=(4.2, 3.6))
    for row in table.itertuples():
        ax.plot([0, 1], [row.patient_split, row.image_split], color="#9999cc", alpha=0.6, lw=1)
    ax.scatter(np.zeros(len(table)), table["patient_split"], color="#3b5b92", zorder=3, s=14)
    ax.scatter(np.ones(len(table)), table["image_split"], color="#c0392b", zorder=3, s=14)
    ax.set_xticks([0, 1], ["patient-disjoint split", "image-level split"])
    ax.set_xlim(-0.4, 1.4)
    ax.set_ylabel("balanced accuracy (1-NN on colour statistics)")
    ax.set_title(f"{len(table)} random splits of each kind", fontsize=10)
    fig.tight_layout()
    label_provenance(fig, provenance)
    return fig
