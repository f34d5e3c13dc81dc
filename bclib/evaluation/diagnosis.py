"""Patient diagnosis: one decision per patient from the predictions on its images.

A pathologist diagnoses a patient, not a tile. Two rules turn image predictions
into a patient decision:

* ``mean`` - the class with the highest probability averaged over the patient's
  images (ties: the class listed first); for two classes with the run's decision
  threshold (``decision_threshold`` in ``run.json``, chosen on validation), the
  second class when its mean probability exceeds that threshold, the first otherwise;
* ``vote`` - the class predicted for most of the patient's images (majority
  vote on ``pred``); a tie between classes goes to the tied class with the
  higher mean probability (with a threshold: the class the ``mean`` rule decides),
  and without probabilities to the one listed first.

Patients are decided at the run's own operating point (issue #40): its images'
``pred`` column applies the threshold chosen on validation
(:mod:`bclib.train.decision`), and so does the ``mean`` rule when ``threshold`` is
passed, so a patient whose every image is called malignant is not called benign by a
0.5 cut on their mean. Without a threshold (``train.decision_threshold: argmax``, or
more than two classes) both rules use the most probable class.

Decisions are made per magnification (the images of one patient at one zoom, as
BreakHis papers train one model per magnification) and pooled over all of a
patient's images (magnification ``all``). A patient is keyed by (patient id,
true class), so a slide filed under two classes counts once under each.

The patient-level *accuracy* here is the share of patients whose decision is
right; BreakHis' patient-level recognition rate
(:func:`bclib.evaluation.scores.patient_level_rate`) is another thing: the
share of each patient's images that are right, averaged over patients.
Intervals for the accuracy are in :mod:`bclib.evaluation.uncertainty`.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd

from .scores import _indices

RULES = ("mean", "vote")
ALL = "all"
COLUMNS = ["patient", "magnification", "label", "decision", "rule", "images", "correct"]


def has_probabilities(predictions: pd.DataFrame, class_names: Sequence[str]) -> bool:
    return all(f"p_{c}" in predictions for c in class_names)


def decide(frame: pd.DataFrame, class_names: Sequence[str], keys: Sequence[str], rule: str,
           threshold: Optional[float] = None) -> pd.DataFrame:
    """One decision per (``keys``..., label) group of image rows under ``rule`` (``mean`` or ``vote``).

    Columns: the keys, ``label``, ``decision``, ``images``; groups in sorted order.
    The ``mean`` rule needs the ``p_<class>`` columns; ``vote`` counts ``pred``.
    ``threshold`` (two classes only; None: the most probable class) is the run's decision threshold on
    ``p(class_names[1])``: the mean rule decides ``class_names[1]`` when the mean exceeds it, as
    :func:`bclib.train.decision.decide` does for one image.
    """
    if rule not in RULES:
        raise ValueError(f"unknown decision rule {rule!r} (expected one of {', '.join(RULES)})")
    by = [*keys, "label"]
    with_p = has_probabilities(frame, class_names)
    if rule == "mean" and not with_p:
        raise ValueError("the mean-probability rule needs the p_<class> columns")
    # Groups as integer codes, counted with NumPy: the bootstrap calls this a thousand times per table.
    codes, groups = pd.MultiIndex.from_frame(frame[by]).factorize(sort=True)
    n_groups, n_classes = len(groups), len(class_names)
    sizes = np.bincount(codes, minlength=n_groups)
    if with_p:
        # pandas' group mean sums with Kahan compensation, so exact ties (0.1 + 0.2 against 0.3) stay ties
        # and go to the class listed first; a plain NumPy sum would let rounding break them.
        probabilities = pd.DataFrame(frame[[f"p_{c}" for c in class_names]].to_numpy(dtype=float))
        mean = probabilities.groupby(codes, sort=True).mean().to_numpy()
        if threshold is not None and n_classes == 2:
            # argmax over (threshold, mean p1): the second class exactly when its mean exceeds the threshold
            mean = np.column_stack([np.full(n_groups, float(threshold)), mean[:, 1]])
    else:
        mean = np.zeros((n_groups, n_classes))  # no probabilities: ties go to the class listed first
    if rule == "mean":
        choice = mean.argmax(axis=1)
    else:
        ballots = codes * n_classes + _indices(frame["pred"], class_names)
        votes = np.bincount(ballots, minlength=n_groups * n_classes).reshape(n_groups, n_classes)
        tied = votes == votes.max(axis=1, keepdims=True)
        choice = np.where(tied, mean, -np.inf).argmax(axis=1)
    out = groups.set_names(by).to_frame(index=False)  # factorize drops the level names
    out["decision"] = [class_names[i] for i in choice]
    out["images"] = sizes
    return out


def _with_patients(predictions: pd.DataFrame) -> pd.DataFrame:
    if "patient" not in predictions or not (predictions["patient"].astype(str) != "").any():
        raise ValueError("no patient ids: a patient diagnosis needs them")
    # Rows without a patient id (none in BreakHis test sets) cannot join any patient.
    return predictions[predictions["patient"].astype(str) != ""]


def _zoom(magnification) -> float:
    digits = str(magnification).upper().rstrip("X")
    return float(digits) if digits.replace(".", "", 1).isdigit() else float("inf")


def magnifications(predictions: pd.DataFrame) -> list[str]:
    """The magnifications present, by zoom (40X before 100X), then ``all``; only ``all`` without any."""
    if "magnification" not in predictions:
        return [ALL]
    present = {str(m) for m in predictions["magnification"] if str(m) != ""}
    return sorted(present, key=lambda m: (_zoom(m), m)) + [ALL]


def _at(predictions: pd.DataFrame, magnification: str) -> pd.DataFrame:
    if magnification == ALL:
        return predictions
    return predictions[predictions["magnification"].astype(str) == str(magnification)]


def _diagnose(named: pd.DataFrame, class_names: Sequence[str], rule: str, magnification: str,
              threshold: Optional[float] = None) -> pd.DataFrame:
    frame = _at(named, magnification)
    decided = decide(frame.assign(patient=frame["patient"].astype(str)), class_names, ["patient"], rule, threshold)
    decided.insert(1, "magnification", magnification)
    decided["rule"] = rule
    decided["correct"] = decided["label"] == decided["decision"]
    return decided[COLUMNS]


def patient_diagnoses(predictions: pd.DataFrame, class_names: Sequence[str], rules: Sequence[str] = RULES,
                      per_magnification: bool = True, threshold: Optional[float] = None) -> pd.DataFrame:
    """Patient decisions of a predictions table: one row per (rule, magnification, patient, true class).

    Columns ``patient``, ``magnification`` (a zoom such as ``40X``, or ``all`` for
    the pooled decision over all of the patient's images), ``label``,
    ``decision``, ``rule``, ``images`` and ``correct``. ``per_magnification=False``
    gives the pooled rows only. ``threshold``: the run's decision threshold (see :func:`decide`).
    """
    named = _with_patients(predictions)
    zooms = magnifications(named) if per_magnification else [ALL]
    parts = [_diagnose(named, class_names, rule, zoom, threshold) for rule in rules for zoom in zooms]
    return pd.concat(parts, ignore_index=True)


def patient_accuracy(predictions: pd.DataFrame, class_names: Sequence[str], rule: str = "mean",
                     magnification: str = ALL, threshold: Optional[float] = None) -> float:
    """Share of patients whose ``rule`` decision is their true class (at one magnification or ``all``).

    Patients are grouped by the ``patient`` column as it stands, so the cluster
    bootstrap's relabelled copies count as separate patients.
    """
    decided = _diagnose(_with_patients(predictions), class_names, rule, magnification, threshold)
    if decided.empty:
        raise ValueError(f"no patient has images at magnification {magnification}")
    return float(decided["correct"].mean())
