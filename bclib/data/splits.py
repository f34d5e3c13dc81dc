"""Train / validation / test splits, seeded and deterministic.

Three protocols:

``patient`` (default)
    Patient-disjoint and stratified by class, built with scikit-learn's
    :class:`~sklearn.model_selection.StratifiedGroupKFold` with the patient as
    the group: every image of a patient lands in the same part, so the test
    score measures generalisation to *new patients*. Overlap is impossible by
    construction. BACH publishes no patient ids, so there each image is its own
    group (the split is then image-level, and says so).
``folds``
    BreakHis' ``Folds.csv`` (five patient-wise train/test folds): fold *k*'s
    test rows are the test part; validation patients are carved out of its
    training rows the same way as above. A fold whose train and test rows share
    a patient is refused (the file is trusted for membership, not for disjointness).
    Without ``Folds.csv`` (BACH, or a BreakHis copy without it) the data are cut
    into :data:`FALLBACK_FOLDS` patient-grouped folds by StratifiedGroupKFold
    (stratified by label, grouped by patient, shuffled with the seed): fold *k*
    is the test part, so every patient is tested in exactly one fold, and
    validation is drawn from the remaining patients as above.
``image``
    The paper's protocol: images are split at random, stratified by class,
    ignoring patients. Images of one patient end up in both training and test,
    which inflates scores; bclib keeps it to measure that inflation. With
    ``paper_proportions`` the per-class fractions of the paper's Table 2 are used.
"""

from __future__ import annotations

import warnings
from typing import Optional

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, train_test_split

from ..errors import UserError
from .index import DatasetIndex

PARTS = ("train", "val", "test")
FALLBACK_FOLDS = 5  # folds cut when there is no Folds.csv (the field's 5-fold protocol)

# Paper, Table 2: images per class in (train, val, test).
PAPER_TABLE2 = {
    "breakhis": {"benign": (1924, 481, 75), "malignant": (4274, 1070, 85)},
    "bach": {c: (70, 20, 10) for c in ("normal", "benign", "in_situ", "invasive")},
}


def _groups(frame: pd.DataFrame) -> np.ndarray:
    patients = frame["patient"].astype(str).to_numpy()
    return np.where(patients != "", patients, "image:" + frame["relpath"].astype(str).to_numpy())


def _hold_out_groups(labels: np.ndarray, groups: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of a held-out share of the groups, stratified by label.

    Among the k folds of StratifiedGroupKFold (k = round(1/fraction)) the first
    one that contains every class is taken, so small sets still get each class
    in the held-out part when that is possible at all.
    """
    n_groups = len(np.unique(groups))
    largest_class = max(len(np.unique(groups[labels == c])) for c in np.unique(labels))
    # scikit-learn needs k <= groups of the largest class; a small set gets a larger held-out share.
    k = min(int(round(1 / fraction)), n_groups, largest_class)
    if k < 2:
        raise UserError("cannot split: too few patients (or images, where no patient ids exist) per class")
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    classes = set(labels)
    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "least populated class has only n members"
        for _, held in splitter.split(np.zeros(len(labels)), labels, groups):
            mask = np.zeros(len(labels), dtype=bool)
            mask[held] = True
            if set(labels[mask]) == classes and set(labels[~mask]) == classes:
                return mask
            best = mask if best is None else best
    return best


def patient_split(frame: pd.DataFrame, seed: int, val_fraction: float, test_fraction: float) -> pd.Series:
    labels = frame["label"].to_numpy()
    groups = _groups(frame)
    part = np.full(len(frame), "train", dtype=object)
    test = _hold_out_groups(labels, groups, test_fraction, seed)
    part[test] = "test"
    rest = np.flatnonzero(~test)
    val = _hold_out_groups(labels[rest], groups[rest], val_fraction, seed + 1)
    part[rest[val]] = "val"
    return pd.Series(part, index=frame.index, name="part")


def _fold_overlap(frame: pd.DataFrame, part: pd.Series) -> list[str]:
    """Patients with images in both the train and the test rows of a fold (sorted)."""
    patients = frame["patient"].astype(str).to_numpy()
    parts = part.to_numpy()
    named = patients != ""
    train, test = set(patients[named & (parts == "train")]), set(patients[named & (parts == "test")])
    return sorted(train & test)


def grouped_folds(frame: pd.DataFrame, seed: int, n_folds: int = FALLBACK_FOLDS) -> np.ndarray:
    """Fold number (1..n_folds) of each row: patient-grouped, label-stratified, shuffled with ``seed``."""
    labels, groups = frame["label"].to_numpy(), _groups(frame)
    largest_class = max(len(np.unique(groups[labels == c])) for c in np.unique(labels))
    if largest_class < n_folds:  # scikit-learn needs n_folds groups in at least one class
        raise UserError(f"cannot cut {n_folds} folds: the largest class has {largest_class} patients (or images, "
                        "where no patient ids exist)")
    fold_of = np.zeros(len(frame), dtype=int)
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "least populated class has only n members"
        for k, (_, test) in enumerate(splitter.split(np.zeros(len(frame)), labels, groups), start=1):
            fold_of[test] = k
    return fold_of


def _with_validation(frame: pd.DataFrame, part: pd.Series, seed: int, val_fraction: float) -> pd.Series:
    train = np.flatnonzero(part.to_numpy() == "train")
    if len(train):
        sub = frame.iloc[train]
        val = _hold_out_groups(sub["label"].to_numpy(), _groups(sub), val_fraction, seed)
        part.iloc[train[val]] = "val"
    return part.rename("part")


def folds_split(index: DatasetIndex, frame: pd.DataFrame, fold: int, seed: int, val_fraction: float) -> pd.Series:
    if index.folds is None:  # no Folds.csv: StratifiedGroupKFold folds of the patients
        if not 1 <= fold <= FALLBACK_FOLDS:
            raise UserError(f"fold {fold}: without Folds.csv there are folds 1-{FALLBACK_FOLDS}")
        fold_of = grouped_folds(frame, seed)
        part = pd.Series(np.where(fold_of == fold, "test", "train"), index=frame.index, dtype=object)
        return _with_validation(frame, part, seed + 1, val_fraction)
    rows = index.folds[index.folds["fold"] == fold]
    if rows.empty:
        raise UserError(f"{index.root}: Folds.csv has no rows for fold {fold}")
    grp = dict(zip(rows["path"], rows["grp"]))
    part = frame["path"].map(grp).map({"train": "train", "test": "test"})
    part = part.fillna("unused").astype(object)
    shared = _fold_overlap(frame, part)
    if shared:
        example = ", ".join(shared[:3]) + (", ..." if len(shared) > 3 else "")
        raise UserError(f"{index.root}: Folds.csv fold {fold} is not patient-disjoint: {len(shared)} patient(s) "
                        f"have images in both its train and test rows ({example})")
    return _with_validation(frame, part, seed, val_fraction)


def image_split(frame: pd.DataFrame, seed: int, val_fraction: float, test_fraction: float,
                dataset: str = "", paper_proportions: bool = False) -> pd.Series:
    part = pd.Series("train", index=frame.index, name="part", dtype=object)
    if paper_proportions:
        table = PAPER_TABLE2.get(dataset)
        if table is None:
            raise UserError(f"paper_proportions: no Table 2 proportions for dataset '{dataset}'")
        rng = np.random.default_rng(seed)
        for label, rows in frame.groupby("label").groups.items():
            n_train, n_val, n_test = table[label]
            order = rng.permutation(np.asarray(rows))
            n = len(order)
            k_test = max(1, int(round(n * n_test / (n_train + n_val + n_test))))
            k_val = max(1, int(round((n - k_test) * n_val / (n_train + n_val))))
            part.loc[order[:k_test]] = "test"
            part.loc[order[k_test:k_test + k_val]] = "val"
        return part
    labels = frame["label"].to_numpy()
    idx = np.arange(len(frame))
    rest, test = train_test_split(idx, test_size=test_fraction, stratify=labels, random_state=seed)
    train, val = train_test_split(rest, test_size=val_fraction, stratify=labels[rest], random_state=seed + 1)
    part.iloc[test] = "test"
    part.iloc[val] = "val"
    return part


def make_split(
    index: DatasetIndex,
    method: str = "patient",
    seed: int = 0,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    fold: int = 1,
    paper_proportions: bool = False,
    magnifications: Optional[list[str]] = None,
) -> pd.DataFrame:
    """The index's frame with a ``part`` column (train / val / test; ``unused`` for rows a fold leaves out).

    ``magnifications`` keeps only those BreakHis magnifications (before splitting).
    """
    frame = index.frame
    if magnifications:
        frame = frame[frame["magnification"].isin(magnifications)]
        if frame.empty:
            raise UserError(f"{index.root}: no images at magnification(s) {', '.join(magnifications)}")
    frame = frame.reset_index(drop=True)
    if method == "patient":
        part = patient_split(frame, seed, val_fraction, test_fraction)
    elif method == "folds":
        part = folds_split(index, frame, fold, seed, val_fraction)
    elif method == "image":
        part = image_split(frame, seed, val_fraction, test_fraction, index.dataset, paper_proportions)
    else:
        raise UserError(f"unknown split '{method}' (expected patient, folds or image)")
    return frame.assign(part=part.to_numpy())


def split_from_params(index: DatasetIndex, params) -> pd.DataFrame:
    """``make_split`` with the settings of a validated :class:`~bclib.params.Params`."""
    data = params.data
    return make_split(index, data.split, params.seed, data.val_fraction, data.test_fraction,
                      data.fold, data.paper_proportions, data.magnifications)


def patient_overlap(split: pd.DataFrame) -> dict[str, set]:
    """Patients shared between parts, e.g. ``{"train&test": {...}}``; empty sets when disjoint."""
    named = split[split["patient"].astype(str) != ""]
    sets = {p: set(named.loc[named["part"] == p, "patient"]) for p in PARTS}
    return {f"{a}&{b}": sets[a] & sets[b] for i, a in enumerate(PARTS) for b in PARTS[i + 1:]}
