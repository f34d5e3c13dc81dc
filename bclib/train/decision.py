"""From class probabilities to a decision: the most probable class, or a two-class threshold set on validation.

With two classes and a skewed training set, an untrained or weak model's probabilities can rank the
images well (a high AUC) while sitting on the majority side of 0.5 for nearly every image. A threshold
chosen on the validation images (the one that maximises balanced accuracy there; ties go to the one
nearest 0.5) moves the decision without touching the test set. The chosen value is recorded in each
run's ``run.json`` (``decision_threshold``) and applied wherever that run's probabilities become
classes: its prediction files, test-time augmentation and ``bclib predict``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Sequence

import numpy as np


def decide(probabilities: np.ndarray, classes: Sequence[str], threshold: Optional[float] = None) -> list[str]:
    """The predicted class of each row: ``classes[1]`` when its probability exceeds ``threshold`` (two
    classes only), otherwise the most probable class."""
    p = np.asarray(probabilities)
    if threshold is None or len(classes) != 2:
        return [classes[i] for i in p.argmax(axis=1)]
    return [classes[1] if v > threshold else classes[0] for v in p[:, 1]]


def validation_threshold(probabilities: np.ndarray, labels: Sequence[str], classes: Sequence[str]) -> float:
    """The threshold on ``p(classes[1])`` with the highest balanced accuracy on these (validation) rows,
    among the midpoints between their distinct probabilities; ties: the one nearest 0.5. Two classes only."""
    from sklearn.metrics import balanced_accuracy_score

    if len(classes) != 2:
        raise ValueError(f"a decision threshold needs two classes, got {len(classes)}")
    positive = np.asarray(labels) == classes[1]
    if positive.all() or not positive.any():
        return 0.5  # one class in validation: nothing to balance
    values = np.unique(np.asarray(probabilities)[:, 1])
    candidates = np.concatenate([[0.0], (values[1:] + values[:-1]) / 2, [1.0]])
    above = np.asarray(probabilities)[:, 1][None, :] > candidates[:, None]  # one row per candidate threshold
    scores = np.array([balanced_accuracy_score(positive, row) for row in above])
    best = np.flatnonzero(scores == scores.max())
    return float(candidates[best[np.argmin(np.abs(candidates[best] - 0.5))]])


def run_threshold(model_path: str | Path) -> Optional[float]:
    """The decision threshold recorded in the ``run.json`` beside a saved model (None: most probable class)."""
    record = Path(model_path).with_name("run.json")
    return json.loads(record.read_text()).get("decision_threshold") if record.is_file() else None
