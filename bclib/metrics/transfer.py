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
stratified cross-validation on its own training set, so that only the training images differ between rows.
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
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

C_GRID = (1e-2, 1e-1, 1.0)
DIRECTIONS = (("TRTR (reference)", "real training images", "real test images"),
              ("TSTR", "generated images", "real test images"),
              ("TRTS", "real training images", "generated images"))


def _fitted(features: np.ndarray, labels: np.ndarray, seed: int):
    """Logistic regression on standardised features, C by stratified cross-validation (balanced accuracy)."""
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, class_weight="balanced",
                                                               random_state=seed))
    folds = int(min(3, np.bincount(labels).min()))
    if folds < 2:  # a class with one image: no cross-validation possible, the middle of the grid
        return probe.set_params(logisticregression__C=1e-1).fit(features, labels)
    search = GridSearchCV(probe, {"logisticregression__C": list(C_GRID)}, scoring="balanced_accuracy",
                          cv=StratifiedKFold(folds, shuffle=True, random_state=seed))
    return search.fit(features, labels).best_estimator_


def transfer_scores(real_train: tuple, real_test: tuple, generated: tuple, classes: Sequence[str],
                    seed: int = 0) -> pd.DataFrame:
    """TRTR, TSTR and TRTS (module docstring) as one table: balanced accuracy, accuracy and the recall of
    each class. Each argument is ``(features, labels)``, labels as class indices into ``classes``. A row
    whose training set lacks a class is left empty (its classifier could never answer that class)."""
    sets = {"real training images": real_train, "real test images": real_test, "generated images": generated}
    sets = {name: (np.asarray(x, np.float64), np.asarray(y, int)) for name, (x, y) in sets.items()}
    rows, classifiers = [], {}  # one classifier per training set: TRTR and TRTS share the real one
    for direction, train_on, test_on in DIRECTIONS:
        (train_x, train_y), (test_x, test_y) = sets[train_on], sets[test_on]
        row = {"direction": direction, "trained on": train_on, "tested on": test_on,
               "n_train": len(train_y), "n_test": len(test_y)}
        if len(np.unique(train_y)) == len(classes) and len(test_y):
            if train_on not in classifiers:
                classifiers[train_on] = _fitted(train_x, train_y, seed)
            predicted = classifiers[train_on].predict(test_x)
            recalls = recall_score(test_y, predicted, labels=range(len(classes)), average=None, zero_division=np.nan)
            with warnings.catch_warnings():  # a test set without some class (generated images of one class):
                warnings.simplefilter("ignore", UserWarning)  # the empty recall column already says so
                balanced = balanced_accuracy_score(test_y, predicted)
            row |= {"balanced_accuracy": float(balanced),
                    "accuracy": float(accuracy_score(test_y, predicted)),
                    **{f"recall_{name}": float(r) for name, r in zip(classes, recalls)}}
        rows.append(row)
    return pd.DataFrame(rows).set_index("direction")
