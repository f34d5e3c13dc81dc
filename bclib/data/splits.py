"""Train / validation / test splits, seeded and deterministic.

Four protocols:

``patient`` (default)
    Patient-disjoint and stratified by class, built with scikit-learn's
    :class:`~sklearn.model_selection.StratifiedGroupKFold` with the patient as
    the group: every image of a patient lands in the same part, so the test
    score measures generalisation to *new patients*. Every class (with
    ``data.task: subtype``, every subtype) that has at least three patients gets
    at least one patient in each part; a class with fewer is named in the
    split's notes. BACH publishes no patient ids; its patient-aware division as
    published by kaiko-ai/eva (``bclib/reference/bach_patient_split.yaml``) is
    used: eva's held-out photos are the test part, and validation is drawn by
    image from the others (the notes say what that can and cannot guarantee).
``folds``
    BreakHis' published folds (``Folds.csv`` or ``dsfold1.txt`` ... ``dsfold5.txt``,
    :mod:`bclib.data.folds`): fold *k*'s test rows are the test part;
    validation patients are carved out of its training rows as above. Refused
    when no folds file was found. A patient that the archive files twice
    (14-13412, under ductal and lobular carcinoma) can have one folder on each
    side of a published fold; ``fold_policy`` ``strict`` (default) sets its
    training images aside, ``published`` keeps the fold as published; the notes
    say which. Any other patient on both sides means a damaged folds file and is
    refused.
``cv``
    bclib's own folds: :data:`CV_FOLDS` patient-grouped folds by
    StratifiedGroupKFold (stratified by label, grouped by patient, shuffled
    with the seed): fold *k* is the test part, so every patient is tested in
    exactly one fold, and validation is drawn from the remaining patients.
``image``
    The paper's protocol: images are split at random, stratified by class,
    ignoring patients. Images of one patient end up in both training and test,
    which inflates scores; bclib keeps it to measure that inflation. With
    ``paper_proportions`` the per-class fractions of the paper's Table 2 are used.

:func:`make_split` returns the index's frame with a ``part`` column; what a reader must know
about the split (a patient set aside, a subtype too small for every part) is in
``split.attrs["notes"]`` (:func:`split_notes`).

``magnifications`` filters *after* the split: the patients (or images, for ``image``) are divided once,
on every magnification, and the rows at the other magnifications are dropped afterwards, so the models
of ``magnification_protocol: per_magnification`` share their validation and test patients and the
magnification table compares paired models. Filtering first let each magnification's images reshape the
patient groups, and each magnification's model got other test patients.
"""

from __future__ import annotations

import os
import re
import warnings
from typing import Optional

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, train_test_split

from ..errors import UserError
from ..reference import bach_published_sides
from .index import DatasetIndex

PARTS = ("train", "val", "test")
CV_FOLDS = 5  # bclib's own patient-grouped folds (split: cv), as many as the field's protocol
MIN_PATIENTS_PER_PART = 3  # a class with this many patients gets one in each of train, val and test

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


def patient_split(frame: pd.DataFrame, seed: int, val_fraction: float, test_fraction: float,
                  notes: Optional[list] = None) -> pd.Series:
    labels = frame["label"].to_numpy()
    groups = _groups(frame)
    part = np.full(len(frame), "train", dtype=object)
    test = _hold_out_groups(labels, groups, test_fraction, seed)
    part[test] = "test"
    rest = np.flatnonzero(~test)
    val = _hold_out_groups(labels[rest], groups[rest], val_fraction, seed + 1)
    part[rest[val]] = "val"
    _cover_every_class(part, labels, groups, [] if notes is None else notes)
    return pd.Series(part, index=frame.index, name="part")


def _cover_every_class(part: np.ndarray, labels: np.ndarray, groups: np.ndarray, notes: list) -> None:
    """Move whole patients (in place) so that every class with enough patients is in every part.

    StratifiedGroupKFold balances shares, but with three to five patients in a class (phyllodes
    tumour, lobular carcinoma) a part can get none. The part holding most of the class's
    patients gives up its smallest one. Classes with fewer than MIN_PATIENTS_PER_PART patients
    are named in ``notes``.
    """
    for _ in range(2):  # a moved patient with two labels can disturb a class already handled
        for klass in sorted(set(labels)):
            members = labels == klass
            held = {p: sorted(set(groups[members & (part == p)])) for p in PARTS}
            empty = [p for p in ("test", "val", "train") if not held[p]]
            if not empty or len(set(groups[members])) < MIN_PATIENTS_PER_PART:
                continue
            donor = max(PARTS, key=lambda p: len(held[p]))
            sizes = {g: int((groups == g).sum()) for g in held[donor]}
            part[groups == min(sorted(sizes), key=sizes.get)] = empty[0]
    for klass in sorted(set(labels)):
        n = len(set(groups[labels == klass]))
        where = sorted({str(p) for p in part[labels == klass]} - {"unused"})
        if n < MIN_PATIENTS_PER_PART and set(where) != set(PARTS):
            notes.append(f"class {klass} has {n} patient(s): it cannot be in training, validation and test at "
                         f"once (it is in: {', '.join(where)})")


def bach_patient_split(frame: pd.DataFrame, seed: int, val_fraction: float, notes: list) -> pd.Series:
    """BACH split by eva's patient-aware division: its held-out photos are the test part.

    Validation is drawn by image (stratified) from eva's other photos, because no patient ids
    are published inside one side; test patients are never among the training photos.
    """
    sides = bach_published_sides()
    side = []
    for folder, path in zip(frame["subtype"], frame["path"]):
        match = re.match(r"^[A-Za-z]+0*(\d+)$", os.path.splitext(os.path.basename(path))[0])
        side.append(sides.get(folder, {}).get(int(match[1])) if match else None)
    unplaced = [p for p, s in zip(frame["relpath"], side) if s is None]
    if unplaced:
        raise UserError(f"{len(unplaced)} BACH image(s) are not named like the published photos (b001 ... n100 in "
                        f"their class folders), so the patient-aware split cannot place them (e.g. {unplaced[0]}); "
                        "rename them, or use split: image")
    side = np.array(side, dtype=object)
    part = np.where(side == "held_out", "test", "train").astype(object)
    rest = np.flatnonzero(part == "train")
    labels = frame["label"].to_numpy()
    images = ("image:" + frame["relpath"].astype(str)).to_numpy()
    part[rest[_hold_out_groups(labels[rest], images[rest], val_fraction, seed + 1)]] = "val"
    notes.append(f"BACH patient-aware split (kaiko-ai/eva's division): the {int((part == 'test').sum())} photos eva "
                 "holds out are the test part, with no patient of the training photos; validation is drawn by image "
                 "from the other photos, so it may share patients with training")
    return pd.Series(part, index=frame.index, name="part")


def _fold_overlap(frame: pd.DataFrame, part: pd.Series) -> list[str]:
    """Patients with images in both the train and the test rows of a fold (sorted)."""
    patients = frame["patient"].astype(str).to_numpy()
    parts = part.to_numpy()
    named = patients != ""
    train, test = set(patients[named & (parts == "train")]), set(patients[named & (parts == "test")])
    return sorted(train & test)


def grouped_folds(frame: pd.DataFrame, seed: int, n_folds: int = CV_FOLDS) -> np.ndarray:
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


def cv_split(frame: pd.DataFrame, fold: int, seed: int, val_fraction: float) -> pd.Series:
    """bclib's own fold ``fold`` of CV_FOLDS patient-grouped folds: test part, validation from the rest."""
    if not 1 <= fold <= CV_FOLDS:
        raise UserError(f"fold {fold}: split cv has folds 1-{CV_FOLDS}")
    fold_of = grouped_folds(frame, seed)
    part = pd.Series(np.where(fold_of == fold, "test", "train"), index=frame.index, dtype=object)
    return _with_validation(frame, part, seed + 1, val_fraction)


def _filed_twice(frame: pd.DataFrame, part: pd.Series, patient: str) -> bool:
    """Whether ``patient``'s training and test rows come from different folders (subtypes) of the archive."""
    rows = frame["patient"] == patient
    train = set(frame.loc[rows & (part == "train"), "subtype"])
    test = set(frame.loc[rows & (part == "test"), "subtype"])
    return bool(train) and bool(test) and not train & test


def folds_split(index: DatasetIndex, frame: pd.DataFrame, fold: int, seed: int, val_fraction: float,
                policy: str = "strict", notes: Optional[list] = None) -> pd.Series:
    """Fold ``fold`` of the published folds; see the module docstring for ``policy``."""
    notes = [] if notes is None else notes
    if index.folds is None:
        raise UserError(f"{index.root}: split folds needs the published folds (Folds.csv or dsfold1.txt ... "
                        "dsfold5.txt at, below or above the root) and none was found; split: cv cuts bclib's own "
                        "patient-grouped folds")
    rows = index.folds[index.folds["fold"] == fold]
    if rows.empty:
        present = ", ".join(str(int(k)) for k in sorted(index.folds["fold"].dropna().unique())) or "none"
        raise UserError(f"{index.root}: {index.folds_source} has no rows for fold {fold} (folds present: {present})")
    part = frame["path"].map(dict(zip(rows["path"], rows["grp"]))).map({"train": "train", "test": "test"})
    part = part.fillna("unused").astype(object)
    shared = _fold_overlap(frame, part)
    damaged = [p for p in shared if not _filed_twice(frame, part, p)]
    if damaged:
        example = ", ".join(damaged[:3]) + (", ..." if len(damaged) > 3 else "")
        raise UserError(f"{index.root}: {index.folds_source} fold {fold} is not patient-disjoint: {len(damaged)} "
                        f"patient(s) have images of one folder in both its train and test rows ({example})")
    for patient in shared:
        in_train = (frame["patient"] == patient) & (part == "train")
        n_train, n_test = int(in_train.sum()), int(((frame["patient"] == patient) & (part == "test")).sum())
        if policy == "strict":
            part[in_train] = "unused"
            notes.append(f"fold {fold}: patient {patient} is filed twice and the published fold puts one folder in "
                         f"training, the other in test; fold_policy strict set its {n_train} training images "
                         f"aside (the {n_test} test images stay, as published)")
        else:
            notes.append(f"fold {fold}: patient {patient} is on both sides, as published ({n_train} training, "
                         f"{n_test} test images; fold_policy published): the test part is not fully "
                         "patient-disjoint")
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
    fold_policy: str = "strict",
) -> pd.DataFrame:
    """The index's frame with a ``part`` column (train / val / test; ``unused`` for rows a fold leaves out).

    ``magnifications`` keeps only those BreakHis magnifications, *after* splitting: the patients are split
    once, on the images of every magnification, so every magnification's model (``magnification_protocol:
    per_magnification``) is validated and tested on the same patients and the magnification table compares
    paired models (issue #40). What a reader must know about the split is in ``attrs["notes"]``
    (:func:`split_notes`).
    """
    frame = index.frame
    if magnifications and not frame["magnification"].isin(magnifications).any():
        raise UserError(f"{index.root}: no images at magnification(s) {', '.join(magnifications)}")
    frame = frame.reset_index(drop=True)
    notes: list[str] = []
    if method == "patient" and index.dataset == "bach":
        part = bach_patient_split(frame, seed, val_fraction, notes)
    elif method == "patient":
        part = patient_split(frame, seed, val_fraction, test_fraction, notes)
    elif method == "folds":
        part = folds_split(index, frame, fold, seed, val_fraction, fold_policy, notes)
    elif method == "cv":
        part = cv_split(frame, fold, seed, val_fraction)
    elif method == "image":
        part = image_split(frame, seed, val_fraction, test_fraction, index.dataset, paper_proportions)
    else:
        raise UserError(f"unknown split '{method}' (expected patient, folds, cv or image)")
    split = frame.assign(part=part.to_numpy())
    if magnifications:  # split first, then keep the magnifications: the same patients in every part
        split = split[split["magnification"].isin(magnifications)].reset_index(drop=True)
        notes.append("patients split on the images of every magnification, then data.magnifications kept: every "
                     "magnification's model has the same validation and test patients (image counts in the other "
                     "notes are over every magnification)")
    if method in ("cv", "image") and not index.has_patients:
        notes.append(f"split {method} on {index.dataset}: no patient ids, so each image is its own group "
                     "(an image-level split)")
    split.attrs["notes"] = notes
    return split


def split_notes(split: pd.DataFrame) -> list[str]:
    """What :func:`make_split` said about ``split`` (empty when nothing needs saying)."""
    return list(split.attrs.get("notes", []))


def split_from_params(index: DatasetIndex, params) -> pd.DataFrame:
    """``make_split`` with the settings of a validated :class:`~bclib.params.Params`."""
    data = params.data
    return make_split(index, data.split, params.seed, data.val_fraction, data.test_fraction,
                      data.fold, data.paper_proportions, data.magnifications, data.fold_policy)


def patient_overlap(split: pd.DataFrame) -> dict[str, set]:
    """Patients shared between parts, e.g. ``{"train&test": {...}}``; empty sets when disjoint."""
    named = split[split["patient"].astype(str) != ""]
    sets = {p: set(named.loc[named["part"] == p, "patient"]) for p in PARTS}
    return {f"{a}&{b}": sets[a] & sets[b] for i, a in enumerate(PARTS) for b in PARTS[i + 1:]}
