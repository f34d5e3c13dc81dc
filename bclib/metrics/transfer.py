"""Do generated images carry their class? Classifiers trained on one kind of image and tested on the other.

FID, KID, precision and recall say how close generated images are to real ones, not whether an image
generated *as* class k looks like class k, which is what a classifier trained on them needs. The standard
check (Esteban et al. 2017, "train on synthetic, test on real"; Shmelkov et al. 2018) is a classifier:

* **TSTR** - trained on generated images (labelled with the class they were generated as), tested on the
  real test images. Near the reference below: the generated images carry the class information a real
  training set does. Near chance: they do not, whatever their FID.
* **TRTS** - trained on real training images, tested on generated ones: does a real-trained classifier
  recognise the class each image was generated as? High with low TSTR suggests images that look like one
  typical example of each class and little else (low variety).
* **TRTR** - trained on real training images, tested on real test images: the reference both are read
  against, in the same feature space and with the same classifier.

All three use one classifier, a logistic regression on standardised features, its regularisation chosen by
stratified cross-validation on its own training set (folds grouped by patient where the caller gives the real
images' patients: images of one patient in two folds would reward a C that memorises patients), so that only
the training images differ between rows.

TRTR trains on the whole real training split, TSTR on a few generated images per class: part of any gap is
only the size of the training set. **TRTR, size-matched** is the fair reference for TSTR: the real training
images subsampled to the generated set's count per class, repeated (``repeats`` draws; mean and standard
deviation), so that TSTR and it differ in the kind of image only.
The features are the caller's (notebook 01 uses the FID feature network of the profile), so with untrained
features the numbers inherit their caveat.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score, recall_score
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

C_GRID = (1e-2, 1e-1, 1.0)
DIRECTIONS = (("TRTR (reference)", "real training images", "real test images"),
              ("TSTR", "generated images", "real test images"),
              ("TRTS", "real training images", "generated images"))


def _fitted(features: np.ndarray, labels: np.ndarray, seed: int, groups=None):
    """Logistic regression on standardised features, C by stratified cross-validation (balanced accuracy);
    with ``groups`` (patients), no group is split between folds."""
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, class_weight="balanced",
                                                               random_state=seed))
    if groups is not None:
        per_class = [len(np.unique(np.asarray(groups)[labels == k])) for k in np.unique(labels)]
        folds = int(min(3, min(per_class)))
        cv = StratifiedGroupKFold(folds, shuffle=True, random_state=seed) if folds >= 2 else None
    else:
        folds = int(min(3, np.bincount(labels).min()))
        cv = StratifiedKFold(folds, shuffle=True, random_state=seed) if folds >= 2 else None
    if cv is None:  # a class with one image (or patient): no cross-validation possible, the middle of the grid
        return probe.set_params(logisticregression__C=1e-1).fit(features, labels)
    search = GridSearchCV(probe, {"logisticregression__C": list(C_GRID)}, scoring="balanced_accuracy", cv=cv)
    return search.fit(features, labels, groups=groups).best_estimator_


def transfer_scores(real_train: tuple, real_test: tuple, generated: tuple, classes: Sequence[str],
                    seed: int = 0, train_groups=None, repeats: int = 10) -> pd.DataFrame:
    """TRTR, TSTR, TRTS and the size-matched TRTR (module docstring) as one table: balanced accuracy, accuracy
    and the recall of each class. Each argument is ``(features, labels)``, labels as class indices into
    ``classes``; ``train_groups``: the real training images' patients (C chosen on patient-grouped folds). A row
    whose training set lacks a class is left empty (its classifier could never answer that class)."""
    sets = {"real training images": real_train, "real test images": real_test, "generated images": generated}
    sets = {name: (np.asarray(x, np.float64), np.asarray(y, int)) for name, (x, y) in sets.items()}
    groups = {"real training images": None if train_groups is None else np.asarray(train_groups)}
    rows, classifiers = [], {}  # one classifier per training set: TRTR and TRTS share the real one
    for direction, train_on, test_on in DIRECTIONS:
        (train_x, train_y), (test_x, test_y) = sets[train_on], sets[test_on]
        row = {"direction": direction, "trained on": train_on, "tested on": test_on,
               "n_train": len(train_y), "n_test": len(test_y)}
        if len(np.unique(train_y)) == len(classes) and len(test_y):
            if train_on not in classifiers:
                classifiers[train_on] = _fitted(train_x, train_y, seed, groups.get(train_on))
            predicted = classifiers[train_on].predict(test_x)
            recalls = recall_score(test_y, predicted, labels=range(len(classes)), average=None, zero_division=np.nan)
            with warnings.catch_warnings():  # a test set without some class (generated images of one class):
                warnings.simplefilter("ignore", UserWarning)  # the empty recall column already says so
                balanced = balanced_accuracy_score(test_y, predicted)
            row |= {"balanced_accuracy": float(balanced),
                    "accuracy": float(accuracy_score(test_y, predicted)),
                    **{f"recall_{name}": float(r) for name, r in zip(classes, recalls)}}
        rows.append(row)
    rows.insert(1, _size_matched(sets, groups["real training images"], classes, seed, repeats))
    return pd.DataFrame(rows).set_index("direction")


def _size_matched(sets: dict, groups, classes: Sequence[str], seed: int, repeats: int) -> dict:
    """TRTR with as many real training images per class as there are generated ones, over ``repeats`` draws."""
    (train_x, train_y), (test_x, test_y) = sets["real training images"], sets["real test images"]
    wanted = np.bincount(sets["generated images"][1], minlength=len(classes))
    row = {"direction": "TRTR, size-matched (reference for TSTR)", "trained on": "real training images, "
           "as many per class as generated", "tested on": "real test images", "n_train": int(wanted.sum()),
           "n_test": len(test_y)}
    if not len(test_y) or (wanted == 0).any() or len(np.unique(train_y)) < len(classes):
        return row
    rng, balanced, accuracy = np.random.default_rng(seed), [], []
    for _ in range(repeats):
        picked = np.concatenate([rng.choice(np.flatnonzero(train_y == k), min(n, int((train_y == k).sum())),
                                            replace=False) for k, n in enumerate(wanted)])
        fitted = _fitted(train_x[picked], train_y[picked], seed, None if groups is None else groups[picked])
        predicted = fitted.predict(test_x)
        balanced.append(balanced_accuracy_score(test_y, predicted))
        accuracy.append(accuracy_score(test_y, predicted))
    return row | {"balanced_accuracy": float(np.mean(balanced)), "accuracy": float(np.mean(accuracy)),
                  "balanced_accuracy_sd": float(np.std(balanced, ddof=1)) if repeats > 1 else np.nan,
                  "repeats": repeats}
