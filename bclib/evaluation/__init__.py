"""Scoring predictions: the paper's per-class table, headline measures, patient-level rate, uncertainty.

All inputs are plain arrays or the ``predictions.csv`` tables written by
``bclib.train`` (columns path, patient, magnification, label, pred, p_<class>).
Counts and scores come from scikit-learn; the only ratios computed here are the
false-positive and true-negative rates, which scikit-learn has no function for.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np
import pandas as pd
from scipy.stats import binomtest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    cohen_kappa_score,
    matthews_corrcoef,
    multilabel_confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)

TABLE_COLUMNS = ["TP", "TN", "FP", "FN", "Precision", "Recall", "FPR", "TNR", "F1", "Kappa", "MCC"]


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


def patient_level_rate(predictions: pd.DataFrame) -> float:
    """BreakHis' patient-level recognition rate: per patient the share of its images right, averaged over patients."""
    named = predictions[predictions["patient"].astype(str) != ""]
    if named.empty:
        raise ValueError("no patient ids: the patient-level rate needs them")
    correct = named["label"] == named["pred"]
    return float(correct.groupby(named["patient"]).mean().mean())


def headline_metrics(predictions: pd.DataFrame, class_names: Sequence[str]) -> dict:
    """Accuracy, balanced accuracy, ROC AUC (binary; macro one-vs-rest for more classes), patient-level rate."""
    true = _indices(predictions["label"], class_names)
    pred = _indices(predictions["pred"], class_names)
    scores = predictions[[f"p_{c}" for c in class_names]].to_numpy()
    out = {"n_images": int(len(predictions)), "accuracy": float(accuracy_score(true, pred)),
           "balanced_accuracy": float(balanced_accuracy_score(true, pred))}
    if len(np.unique(true)) == len(class_names):
        if len(class_names) == 2:
            out["roc_auc"] = float(roc_auc_score(true, scores[:, 1]))
        else:
            out["roc_auc"] = float(roc_auc_score(true, scores, multi_class="ovr", average="macro"))
    if "patient" in predictions and (predictions["patient"].astype(str) != "").any():
        out["patient_level_rate"] = patient_level_rate(predictions)
        out["n_patients"] = int(predictions["patient"].nunique())
    return out


def bootstrap_interval(predictions: pd.DataFrame, statistic: Callable[[pd.DataFrame], float],
                       n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0,
                       group: Optional[str] = "patient") -> tuple[float, float, float]:
    """(estimate, low, high): percentile bootstrap, resampling whole patients when ``group`` ids exist."""
    estimate = float(statistic(predictions))
    rng = np.random.default_rng(seed)
    if group and group in predictions and (predictions[group].astype(str) != "").all():
        keys = predictions[group].to_numpy()
        clusters = [np.flatnonzero(keys == k) for k in pd.unique(keys)]
    else:
        clusters = [np.array([i]) for i in range(len(predictions))]
    values = []
    for _ in range(n_resamples):
        picked = rng.integers(0, len(clusters), len(clusters))
        rows = np.concatenate([clusters[i] for i in picked])
        try:
            values.append(float(statistic(predictions.iloc[rows])))
        except ValueError:  # e.g. a resample with one class only for ROC AUC
            continue
    alpha = (1 - confidence) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha]) if values else (np.nan, np.nan)
    return estimate, float(low), float(high)


def mcnemar_test(correct_a, correct_b) -> dict:
    """Exact McNemar test between two classifiers scored on the same images."""
    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    n = only_a + only_b
    p_value = binomtest(only_a, n, 0.5).pvalue if n else 1.0
    return {"only_a_correct": only_a, "only_b_correct": only_b, "p_value": float(p_value)}
