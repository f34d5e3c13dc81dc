"""A linear probe: logistic regression on frozen embeddings, its regularisation chosen on validation.

The usual way a foundation encoder is scored (DINOv2's linear evaluation, the pathology
benchmarks): the encoder stays fixed, a linear classifier is fitted on its embeddings of the
training images. Here:

* the embeddings are standardised with the training split's mean and standard deviation (an L2
  penalty is only comparable across encoders when the features share a scale);
* ``C`` (inverse L2 strength) is taken from :data:`C_GRID`, one value per decade from 1e-4 to 1e4;
  for each, the probe is fitted on train and scored on validation by log loss (it rewards calibrated
  probabilities and has no ties between near-equal fits, unlike accuracy); the smallest loss wins,
  a tie going to the smaller ``C``;
* the chosen probe is the one fitted on the training split alone: validation chooses, it does not
  train, and the test split is never looked at.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

C_GRID = tuple(float(c) for c in np.logspace(-4, 4, 9))


@dataclass(frozen=True)
class LinearProbe:
    c: float
    validation_loss: dict[float, float]  # every C tried -> its validation log loss
    model: object  # the fitted scikit-learn pipeline (scaler, logistic regression)

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        """(n, classes) class probabilities, columns in the order of ``self.model.classes_``."""
        return self.model.predict_proba(np.asarray(embeddings, "float64"))


def _fit(c: float, embeddings: np.ndarray, labels: np.ndarray, seed: int):
    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000, random_state=seed))
    return model.fit(embeddings, labels)


def fit_linear_probe(train: tuple[np.ndarray, np.ndarray], validation: tuple[np.ndarray, np.ndarray],
                     grid: tuple[float, ...] = C_GRID, seed: int = 0) -> LinearProbe:
    """The probe for ``train`` = (embeddings, labels) with C chosen on ``validation``."""
    train_x, train_y = np.asarray(train[0], "float64"), np.asarray(train[1])
    val_x, val_y = np.asarray(validation[0], "float64"), np.asarray(validation[1])
    fitted, losses = {}, {}
    for c in sorted(grid):
        fitted[c] = _fit(c, train_x, train_y, seed)
        losses[c] = float(log_loss(val_y, fitted[c].predict_proba(val_x), labels=fitted[c].classes_))
    best = min(losses, key=lambda c: (losses[c], c))
    return LinearProbe(c=best, validation_loss=losses, model=fitted[best])
