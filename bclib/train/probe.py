"""The linear probe: a scikit-learn logistic regression on frozen embeddings, regularised on validation.

A linear probe is how foundation encoders are compared (eva, the encoders' own papers): the
embeddings are standardised, a logistic regression is fitted on the training images for each
strength on a log grid, and the strength with the lowest validation log loss is kept (validation
only: the test set never takes part in a choice). The fitted probe is then folded into one softmax
layer, so the run's ``model.keras`` predicts exactly what the probe predicts and every tool that
reads a saved model (``bclib predict``, TTA, Grad-CAM, the report) works on it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

# Inverse regularisation strengths tried (scikit-learn's C): 1e-4 (almost the class prior) to 1e2.
C_GRID = tuple(float(c) for c in np.logspace(-4, 2, 13))


@dataclass(frozen=True)
class Probe:
    """A fitted probe as the kernel and bias of one softmax layer, and how it was chosen."""

    kernel: np.ndarray  # (features, classes)
    bias: np.ndarray  # (classes,)
    C: float
    val_log_loss: dict[float, float]  # C -> validation log loss, every point of the grid

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        logits = np.asarray(features, np.float64) @ self.kernel + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)


def _fit(train_x, train_y, C: float, sample_weight, seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000, random_state=seed))
    return pipeline.fit(train_x, train_y, logisticregression__sample_weight=sample_weight)


def _as_softmax_layer(pipeline, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """The standardisation and the regression as one affine map before a softmax over all classes.

    scikit-learn's two-class regression scores only the second class (p = sigmoid(w.x + b)); a softmax
    over (0, w.x + b) gives the same p. Classes absent from the training labels get a logit of -inf
    in effect (a very negative bias), as the regression never predicts them.
    """
    scaler, regression = pipeline.named_steps["standardscaler"], pipeline.named_steps["logisticregression"]
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    coef, intercept = regression.coef_, regression.intercept_
    if len(regression.classes_) == 2:
        coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.array([0.0, intercept[0]])
    kernel = np.zeros((coef.shape[1], n_classes))
    bias = np.full(n_classes, -1e4)
    for row, cls in enumerate(regression.classes_):
        kernel[:, cls] = coef[row] / scale
        bias[cls] = intercept[row] - float(np.dot(coef[row], scaler.mean_ / scale))
    return kernel, bias


def fit_probe(train_x: np.ndarray, train_y: np.ndarray, val_x: np.ndarray, val_y: np.ndarray, n_classes: int,
              class_weight: Optional[dict] = None, seed: int = 0) -> Probe:
    """The probe whose C gives the lowest validation log loss (ties: the stronger regularisation)."""
    from sklearn.metrics import log_loss

    weights = None if class_weight is None else np.array([class_weight[int(c)] for c in train_y])
    val_weights = None if class_weight is None else np.array([class_weight[int(c)] for c in val_y])
    losses, fitted = {}, {}
    for C in C_GRID:
        pipeline = _fit(train_x, train_y, C, weights, seed)
        kernel, bias = _as_softmax_layer(pipeline, n_classes)
        candidate = Probe(kernel, bias, C, {})
        losses[C] = float(log_loss(val_y, candidate.probabilities(val_x), labels=list(range(n_classes)),
                                   sample_weight=val_weights))
        fitted[C] = (kernel, bias)
    best = min(C_GRID, key=lambda c: (round(losses[c], 9), c))
    return Probe(*fitted[best], best, losses)
