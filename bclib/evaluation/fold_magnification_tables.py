"""Tables of the two experiment protocols of issue #15: cross-validation folds and magnifications.

* :func:`fold_table` - one row per run of a ``data.folds`` experiment (fold, model,
  variant, seed: accuracy, balanced accuracy, patient-level rate) and, per
  (model, variant), a summary row with the mean and standard deviation across folds;
* :func:`magnification_table` - the BreakHis papers' layout: one row per model
  (model, variant, seed), the four magnifications side by side, each with the test
  accuracy and its patient-bootstrap interval and the patient-level recognition rate.

Runs are :class:`bclib.evaluation.loading.Run` objects (see ``load_run``); every
number is recomputed from their predictions. Which fold or magnification a run
belongs to is read from its ``run.json`` (``fold``, ``magnifications``,
``magnification_protocol``; older records: their ``params``).
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd

from ..data.layouts import BREAKHIS_MAGNIFICATIONS as MAGNIFICATIONS
from .loading import Run
from .scores import has_patients, headline_metrics, patient_level_rate, statistic
from .uncertainty import bootstrap_interval

FOLD_MEASURES = ("accuracy", "balanced_accuracy", "patient_level_rate")
SUMMARY = "mean ± sd"  # the fold column of summary rows


def run_fold(run: Run) -> Optional[int]:
    """The fold of ``split: folds`` a run tested on (None for other splits)."""
    if run.record.get("fold") is not None:
        return int(run.record["fold"])
    data = run.record.get("params", {}).get("data", {})
    return int(data["fold"]) if data.get("split") in ("folds", "cv") and "fold" in data else None


def _fold_rows(runs: Sequence[Run]) -> pd.DataFrame:
    rows = []
    for run in runs:
        measured = headline_metrics(run.predictions, run.classes)
        rows.append({"fold": run_fold(run), "model": run.record["model"], "variant": run.record["variant"],
                     "seed": run.record["seed"], "n_test": measured["n_images"],
                     **{m: measured.get(m, np.nan) for m in FOLD_MEASURES}})
    return pd.DataFrame(rows, columns=["fold", "model", "variant", "seed", "n_test", *FOLD_MEASURES])


def fold_table(runs: Sequence[Run]) -> pd.DataFrame:
    """Per-fold rows and, per (model, variant), a ``mean ± sd`` row across folds.

    Per-fold rows hold each run's accuracy, balanced accuracy and patient-level rate
    (NaN without patient ids); their ``<measure>_sd`` columns are NaN. A summary
    row (``fold`` = ``"mean ± sd"``, ``seed`` empty, ``n_test`` the images over all
    folds) first averages the seeds of each fold, then gives the mean over folds in
    ``<measure>`` and the sample standard deviation (ddof 1; 0 for one fold) in
    ``<measure>_sd``; ``folds`` counts the folds. Runs without a fold are refused.
    """
    per_run = _fold_rows(runs)
    if per_run["fold"].isna().any():
        names = [r.name for r in runs if run_fold(r) is None]
        raise ValueError(f"runs without a fold (not split: folds): {', '.join(names[:3])}")
    sd_columns = [f"{m}_sd" for m in FOLD_MEASURES]
    per_run = per_run.assign(folds=np.nan, **{c: np.nan for c in sd_columns})
    parts = []
    for (model, variant), rows in per_run.groupby(["model", "variant"], sort=False):
        rows = rows.sort_values(["fold", "seed"])
        per_fold = rows.groupby("fold")[list(FOLD_MEASURES)].mean()
        summary = {"fold": SUMMARY, "model": model, "variant": variant, "seed": None,
                   "n_test": int(rows.groupby("fold")["n_test"].first().sum()), "folds": len(per_fold)}
        for m in FOLD_MEASURES:
            values = per_fold[m].dropna()
            summary[m] = float(values.mean()) if len(values) else np.nan
            summary[f"{m}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else (0.0 if len(values) else np.nan)
        parts.append(pd.concat([rows.astype({"fold": object}), pd.DataFrame([summary])], ignore_index=True))
    columns = ["fold", "model", "variant", "seed", "n_test", "folds", *FOLD_MEASURES, *sd_columns]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def shown_fold_table(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """:func:`fold_table` for reading: summary rows as ``mean ± sd`` text, per-fold rows rounded."""
    shown = table.drop(columns=[f"{m}_sd" for m in FOLD_MEASURES])
    for m in FOLD_MEASURES:
        shown[m] = [("" if pd.isna(v) else f"{v:.{digits}f} ± {sd:.{digits}f}") if fold == SUMMARY
                    else ("" if pd.isna(v) else f"{v:.{digits}f}")
                    for fold, v, sd in zip(table["fold"], table[m], table[f"{m}_sd"])]
    return shown


def _magnification_of(run: Run) -> str:
    return "per magnification" if run.record.get("magnification_protocol") == "per_magnification" else "independent"


def magnification_table(runs: Sequence[Run], n_resamples: int = 1000, confidence: float = 0.95,
                        seed: int = 0) -> pd.DataFrame:
    """One row per run's model (protocol, fold, model, variant, seed), the magnifications side by side.

    For each magnification m present in the runs' test predictions: ``<m>_accuracy``
    with ``<m>_accuracy_low`` / ``_high`` (percentile interval of the patient
    bootstrap, :func:`bclib.evaluation.uncertainty.bootstrap_interval`),
    ``<m>_patient_level_rate`` (NaN without patient ids) and ``<m>_images``. A
    ``per_magnification`` run fills its own magnification; an ``independent`` run
    (one model for all) is scored on each magnification's share of its test
    images. Runs of one row that share a magnification are refused. Show the
    intervals with :func:`bclib.evaluation.diagnostic_tables.with_intervals`.
    """
    rows: dict[tuple, dict] = {}
    for run in runs:
        fold = run_fold(run)
        key = (_magnification_of(run), fold, run.record["model"], run.record["variant"], run.record["seed"])
        row = rows.setdefault(key, dict(zip(("protocol", "fold", "model", "variant", "seed"), key)))
        accuracy = statistic("accuracy", run.classes)
        for mag, part in run.predictions.groupby(run.predictions["magnification"].astype(str), sort=False):
            if mag not in MAGNIFICATIONS:
                continue
            if f"{mag}_accuracy" in row:
                raise ValueError(f"two runs of {key} score magnification {mag}")
            estimate, low, high = bootstrap_interval(part, accuracy, n_resamples, confidence, seed)
            rate = patient_level_rate(part) if has_patients(part) else np.nan
            row.update({f"{mag}_accuracy": estimate, f"{mag}_accuracy_low": low, f"{mag}_accuracy_high": high,
                        f"{mag}_patient_level_rate": rate, f"{mag}_images": len(part)})
    present = [m for m in MAGNIFICATIONS if any(f"{m}_accuracy" in r for r in rows.values())]
    columns = ["protocol", "fold", "model", "variant", "seed"] + [
        f"{m}_{c}" for m in present for c in ("accuracy", "accuracy_low", "accuracy_high", "patient_level_rate",
                                              "images")]
    return pd.DataFrame(list(rows.values()), columns=columns)
