"""Point scores of a predictions table: the paper's per-class table, headline measures, patient-level rates.

Inputs are plain arrays or the ``predictions.csv`` tables written by
``bclib.train`` (columns path, patient, magnification, label, pred, p_<class>).
Counts and scores come from scikit-learn; the only ratios computed here are the
false-positive and true-negative rates, which scikit-learn has no function for.
Every headline measure is computed by :func:`statistic`, the same function the
bootstrap in :mod:`bclib.evaluation.uncertainty` resamples.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from sklearn.metrics import (
    balanced_accuracy_score,
    cohen_kappa_score,
    matthews_corrcoef,
    multilabel_confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)

from ..data.layouts import BREAKHIS_MAGNIFICATIONS

TABLE_COLUMNS = ["TP", "TN", "FP", "FN", "Precision", "Recall", "FPR", "TNR", "F1", "Kappa", "MCC"]
MEASURES = ("accuracy", "balanced_accuracy", "roc_auc", "patient_level_rate")


def _indices(values, class_names: Sequence[str]) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype.kind in "iu":
        return values.astype(int)
    lookup = {name: i for i, name in enumerate(class_names)}
    return np.array([lookup[v] for v in values])


def per_class_table(y_true, y_pred, class_names: Sequence[str]) -> pd.DataFrame:
    """One row per class (one-vs-rest) and an ``Average`` row (macro mean), as in the paper's Tables 11-12.

    ``y_true``/``y_pred`` are class names or indices. A class that is never
    predicted gets precision 0 (scikit-learn's ``zero_division=0``), not an error.
    """
    true, pred = _indices(y_true, class_names), _indices(y_pred, class_names)
    labels = list(range(len(class_names)))
    matrices = multilabel_confusion_matrix(true, pred, labels=labels)  # [[TN, FP], [FN, TP]] per class
    precision, recall, f1, _ = precision_recall_fscore_support(true, pred, labels=labels, zero_division=0)
    rows = []
    for k, name in enumerate(class_names):
        (tn, fp), (fn, tp) = matrices[k]
        one_true, one_pred = true == k, pred == k
        rows.append({
            "TP": tp, "TN": tn, "FP": fp, "FN": fn,
            "Precision": precision[k], "Recall": recall[k],
            "FPR": fp / (fp + tn) if fp + tn else 0.0, "TNR": tn / (tn + fp) if tn + fp else 0.0,
            "F1": f1[k],
            "Kappa": cohen_kappa_score(one_true, one_pred) if len(set(one_true) | set(one_pred)) > 1 else 0.0,
            "MCC": matthews_corrcoef(one_true, one_pred),
        })
    table = pd.DataFrame(rows, index=list(class_names), columns=TABLE_COLUMNS)
    average = table[TABLE_COLUMNS[4:]].mean()
    table.loc["Average"] = [np.nan] * 4 + list(average)
    return table


def _named(predictions: pd.DataFrame) -> pd.DataFrame:
    if "patient" not in predictions:
        raise ValueError("no patient ids: the patient-level rate needs them")
    named = predictions[predictions["patient"].astype(str) != ""]
    if named.empty:
        raise ValueError("no patient ids: the patient-level rate needs them")
    return named


def patient_level_rate(predictions: pd.DataFrame) -> float:
    """BreakHis' patient-level recognition rate: per patient the share of its images right, averaged over patients.

    Rows are grouped by the ``patient`` column as it stands, so a bootstrap that
    draws a patient twice must give the copies different ids (it does, see
    :func:`bclib.evaluation.uncertainty.resample_clusters`).
    """
    named = _named(predictions)
    correct = named["label"] == named["pred"]
    return float(correct.groupby(named["patient"]).mean().mean())


def patient_level_rates(predictions: pd.DataFrame) -> pd.DataFrame:
    """The patient-level recognition rate per magnification (Spanhol et al. 2016) and over all images.

    One row per magnification (and ``all``): ``patients``, ``images`` and ``rate``.
    Without a magnification column only the ``all`` row is returned.
    """
    named = _named(predictions)
    rows = []
    if "magnification" in named:
        for mag, part in named[named["magnification"].astype(str) != ""].groupby("magnification", sort=False):
            rows.append({"magnification": mag, "patients": part["patient"].nunique(), "images": len(part),
                         "rate": patient_level_rate(part)})
    order = {m: i for i, m in enumerate(BREAKHIS_MAGNIFICATIONS)}
    rows.sort(key=lambda r: (order.get(r["magnification"], 99), str(r["magnification"])))
    rows.append({"magnification": "all", "patients": named["patient"].nunique(), "images": len(named),
                 "rate": patient_level_rate(named)})
    return pd.DataFrame(rows).set_index("magnification")


class Measure:
    """One headline measure (:data:`MEASURES`) as a function of a predictions table (ValueError where it is
    undefined), and the same measure on many resamples of that table at once (:meth:`over_units`).

    ROC AUC is binary (score of the second class) or, with more classes, the macro one-vs-rest AUC; it
    needs every class in the sample.
    """

    def __init__(self, name: str, classes: Sequence[str]):
        if name not in MEASURES:
            raise ValueError(f"unknown measure {name!r} (expected one of {', '.join(MEASURES)})")
        self.name, self.classes = name, list(classes)

    def __call__(self, frame: pd.DataFrame) -> float:
        if self.name == "patient_level_rate":
            return patient_level_rate(frame)
        true, pred = _indices(frame["label"], self.classes), _indices(frame["pred"], self.classes)
        if self.name == "accuracy":
            return float(np.mean(true == pred))
        if self.name == "balanced_accuracy":
            return float(balanced_accuracy_score(true, pred))
        if len(np.unique(true)) < len(self.classes):
            raise ValueError("ROC AUC needs every class in the sample")
        scores = frame[[f"p_{c}" for c in self.classes]].to_numpy()
        return float(roc_auc_score(true, scores[:, 1]) if len(self.classes) == 2
                     else roc_auc_score(true, scores, multi_class="ovr", average="macro"))

    def over_units(self, frame: pd.DataFrame, unit_of_row: np.ndarray, units_are_patients: bool):
        """The measure on many cluster resamples of ``frame`` at once, or None where only :meth:`__call__` can.

        A resample is given by how often each unit (cluster of rows, ``unit_of_row``) was drawn, a unit
        drawn twice counting as two patients (as :func:`bclib.evaluation.uncertainty.resample_clusters`
        relabels them). Returns ``values(counts)``: ``counts`` an array (draws x units), the result one
        value per draw, NaN where the measure is undefined (no row drawn; ROC AUC without every class).
        Equal to calling the measure on each resampled table up to rounding (pinned by a test); it
        exists because the effect tables call it hundreds of thousands of times. None for the
        patient-level rate when the units are not patients (copies of an image keep their patient)
        and for a multi-class ROC AUC whose probabilities do not sum to 1 (scikit-learn refuses those).
        """
        unit_of_row = np.asarray(unit_of_row, int)
        true, pred = _indices(frame["label"], self.classes), _indices(frame["pred"], self.classes)
        correct = (true == pred).astype(float)
        k = len(self.classes)
        if self.name == "patient_level_rate":
            if not units_are_patients:
                return None
            n_units = unit_of_row.max() + 1
            rate = np.bincount(unit_of_row, correct, n_units) / np.maximum(np.bincount(unit_of_row, None, n_units), 1)
            return lambda counts: _ratio(counts @ rate, counts.sum(axis=1))
        if self.name == "accuracy":
            def accuracy(counts):
                weights = counts[:, unit_of_row]
                return _ratio(weights @ correct, weights.sum(axis=1))
            return accuracy
        member = np.eye(k)[true]  # rows x classes
        if self.name == "balanced_accuracy":
            def balanced(counts):
                weights = counts[:, unit_of_row]
                totals, hits = weights @ member, weights @ (member * correct[:, None])
                present = totals > 0
                recall = np.divide(hits, totals, out=np.zeros_like(hits), where=present)
                return _ratio(recall.sum(axis=1), present.sum(axis=1))
            return balanced
        scores = frame[[f"p_{c}" for c in self.classes]].to_numpy(float)
        if k > 2 and not np.allclose(scores.sum(axis=1), 1):
            return None
        columns = [1] if k == 2 else range(k)

        def auc(counts):
            weights = counts[:, unit_of_row]
            values = np.mean([_weighted_auc(weights, member[:, c], scores[:, c]) for c in columns], axis=0)
            return np.where(((weights @ member) > 0).all(axis=1), values, np.nan)
        return auc


def _ratio(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    return np.divide(top, bottom, out=np.full(np.shape(top), np.nan), where=np.asarray(bottom) > 0)


def _weighted_auc(weights: np.ndarray, positive: np.ndarray, score: np.ndarray) -> np.ndarray:
    """ROC AUC of ``score`` for ``positive`` rows (1/0) under each row of ``weights`` (draws x rows): the
    weighted Mann-Whitney statistic, ties counted half, which is the area scikit-learn's ROC curve
    encloses. NaN where a draw has no positive or no negative weight."""
    _, level = np.unique(score, return_inverse=True)  # tied scores share a level, levels ascending
    indicator = csr_matrix((np.ones(len(score)), (np.arange(len(score)), level)))  # rows x levels
    positives, negatives = (weights * positive) @ indicator, (weights * (1 - positive)) @ indicator
    below = np.cumsum(negatives, axis=1) - negatives
    pairs = positives.sum(axis=1) * negatives.sum(axis=1)
    return _ratio((positives * (below + 0.5 * negatives)).sum(axis=1), pairs)


def statistic(name: str, classes: Sequence[str]) -> Measure:
    """One headline measure as a function of a predictions table (ValueError where it is undefined):
    a :class:`Measure`. ``name`` is one of :data:`MEASURES`."""
    return Measure(name, classes)


def has_patients(predictions: pd.DataFrame) -> bool:
    return "patient" in predictions and bool((predictions["patient"].astype(str) != "").any())


def headline_metrics(predictions: pd.DataFrame, class_names: Sequence[str]) -> dict:
    """Accuracy, balanced accuracy, ROC AUC (binary; macro one-vs-rest for more classes), patient-level rate.

    ROC AUC is left out when the test set lacks a class; the patient-level rate
    when there are no patient ids.
    """
    out = {"n_images": int(len(predictions))}
    for name in MEASURES:
        if name == "patient_level_rate" and not has_patients(predictions):
            continue
        try:
            out[name] = statistic(name, class_names)(predictions)
        except ValueError:
            if name != "roc_auc":
                raise
    if has_patients(predictions):
        out["n_patients"] = int(predictions["patient"].nunique())
    return out
