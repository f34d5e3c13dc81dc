"""Notebook 05's protocol tables: patient diagnosis, calibration and test-time augmentation of chosen runs.

Each function takes the runs to show (a ``{label: Run}`` dict such as
``{"proposed": ..., "best baseline": ...}``, or a list of runs, labelled by
their names) and recomputes every number from the run's files:

* :func:`patient_diagnosis_table` - image-level accuracy beside the patient-level
  diagnostic accuracy of the ``mean`` and ``vote`` rules
  (:mod:`.diagnosis`), each with a patient-bootstrap interval, pooled and per
  magnification;
* :func:`calibration_table` - the test ECE before and after temperature scaling,
  the temperature fitted on the run's ``val_predictions.csv`` only (:mod:`.calibration`);
* :func:`tta_table` - test accuracy and balanced accuracy without and with
  test-time augmentation over the dihedral views that are symmetries of the tiles (:mod:`.tta`).

Which runs to pass is the caller's choice, made on validation
(:func:`bclib.evaluation.selection.choose_on_validation`); nothing here looks at
test scores to choose anything.
"""

from __future__ import annotations

from typing import Callable, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from .calibration import (
    N_BINS,
    apply_temperature,
    expected_calibration_error,
    fit_temperature,
    probability_columns,
    reliability_table,
    temperature_nll,
)
from .diagnosis import RULES, has_probabilities
from .loading import Run
from .scores import has_patients, statistic
from .uncertainty import bootstrap_interval, patient_accuracy_table

NO_PATIENTS = "no patient ids (BACH): each image is its own unit, no patient diagnosis"
NO_VALIDATION = "no val_predictions.csv (run trained before they were written): temperature not fitted"


def _labelled(runs) -> list[tuple[str, Run]]:
    """(label, run) pairs from a ``{label: Run}`` mapping (None values skipped) or a list of runs."""
    if isinstance(runs, Run):
        runs = [runs]
    items = runs.items() if isinstance(runs, Mapping) else ((r.name, r) for r in runs)
    return [(label, run) for label, run in items if run is not None]


def _image_accuracy(frame: pd.DataFrame) -> float:
    return float((frame["label"] == frame["pred"]).mean())


def _diagnosis_rows(label: str, run: Run, rules: Sequence[str], n_resamples: int, confidence: float,
                    seed: int) -> list[dict]:
    base = {"run": label, "name": run.name}
    if not has_patients(run.predictions):
        estimate, low, high = bootstrap_interval(run.predictions, _image_accuracy, n_resamples, confidence, seed)
        row = base | {"magnification": "all", "images": len(run.predictions), "patients": np.nan,
                      "image_accuracy": estimate, "image_accuracy_low": low, "image_accuracy_high": high}
        return [row | {f"{r}_rule{s}": np.nan for r in rules for s in ("", "_low", "_high")} | {"note": NO_PATIENTS}]
    usable = [r for r in rules if r != "mean" or has_probabilities(run.predictions, run.classes)]
    long = patient_accuracy_table(run.predictions, run.classes, usable, n_resamples, confidence, seed,
                                  run.record.get("decision_threshold"))  # the images' operating point
    rows = []
    for zoom, part in long.groupby("magnification", sort=False):
        first = part.iloc[0]
        row = base | {"magnification": zoom, "images": int(first["images"]), "patients": int(first["patients"]),
                      "image_accuracy": first["image_accuracy"], "image_accuracy_low": first["image_low"],
                      "image_accuracy_high": first["image_high"]}
        for rule in rules:
            line = part[part["rule"] == rule]
            values = line[["patient_accuracy", "patient_low", "patient_high"]].iloc[0] if len(line) else [np.nan] * 3
            row |= dict(zip((f"{rule}_rule", f"{rule}_rule_low", f"{rule}_rule_high"), values))
        rows.append(row | {"note": "" if usable == list(rules) else "no p_<class> columns: mean rule undefined"})
    return rows


def patient_diagnosis_table(runs, rules: Sequence[str] = RULES, n_resamples: int = 1000, confidence: float = 0.95,
                            seed: int = 0) -> pd.DataFrame:
    """Per run and magnification (then ``all``): image-level accuracy beside patient-level diagnostic accuracy.

    Columns ``run`` (label), ``name``, ``magnification``, ``images``, ``patients``,
    ``image_accuracy`` and ``<rule>_rule`` for each rule (share of patients whose
    decision is right), each with ``_low`` / ``_high``: a percentile interval from
    resampling patients (on the images at that magnification). Runs without
    patient ids (BACH) get the pooled image-level row only, with a ``note``.
    """
    rows = [row for label, run in _labelled(runs)
            for row in _diagnosis_rows(label, run, rules, n_resamples, confidence, seed)]
    return pd.DataFrame(rows)


def validation_predictions(run: Run) -> Optional[pd.DataFrame]:
    """The run's ``val_predictions.csv`` (None where the run has none)."""
    path = run.folder / "val_predictions.csv"
    if not path.is_file():
        return None
    return pd.read_csv(path, keep_default_na=False, dtype={"patient": str})


def _calibration_row(label: str, run: Run, n_bins: int) -> dict:
    test, classes = run.predictions, run.classes
    p, y = probability_columns(test, classes), test["label"]
    ece, _ = expected_calibration_error(p, y, n_bins, classes)
    row = {"run": label, "name": run.name, "n_test": len(test), "accuracy": _image_accuracy(test), "ece": ece,
           "nll": temperature_nll(p, y, 1.0, classes)}
    val = validation_predictions(run)
    try:
        if val is None:
            raise ValueError(NO_VALIDATION)
        temperature = fit_temperature(probability_columns(val, classes), val["label"], classes)
    except ValueError as exc:
        return row | {"n_val": 0 if val is None else len(val), "temperature": np.nan, "ece_scaled": np.nan,
                      "nll_scaled": np.nan, "note": str(exc)}
    scaled = apply_temperature(p, temperature)
    return row | {"n_val": len(val), "temperature": temperature,
                  "ece_scaled": expected_calibration_error(scaled, y, n_bins, classes)[0],
                  "nll_scaled": temperature_nll(p, y, temperature, classes), "note": ""}


def calibration_table(runs, n_bins: int = N_BINS) -> pd.DataFrame:
    """Per run: test accuracy, ECE and NLL of the raw test probabilities and after temperature scaling.

    The temperature is fitted on the run's ``val_predictions.csv`` only, never on
    the test set. Columns ``run``, ``name``, ``n_test``, ``n_val``, ``accuracy``
    (the same after scaling: T > 0 keeps every decision), ``temperature``,
    ``ece``, ``ece_scaled``, ``nll``, ``nll_scaled``, ``note``; a run without
    validation predictions keeps its raw numbers, NaN for the rest, and says why in ``note``.
    """
    rows = [_calibration_row(label, run, n_bins) for label, run in _labelled(runs)]
    columns = ["run", "name", "n_test", "n_val", "accuracy", "temperature", "ece", "ece_scaled", "nll",
               "nll_scaled", "note"]
    return pd.DataFrame(rows).reindex(columns=columns)


def reliability_tables(run: Run, n_bins: int = N_BINS) -> dict[str, pd.DataFrame]:
    """Reliability tables of the run's test predictions, raw and (with validation predictions) temperature-scaled,
    keyed by legend label: what :func:`bclib.evaluation.result_figures.reliability_diagram` draws."""
    p, y = probability_columns(run.predictions, run.classes), run.predictions["label"]
    tables = {"raw": reliability_table(p, y, n_bins, run.classes)}
    val = validation_predictions(run)
    if val is not None and len(val):
        temperature = fit_temperature(probability_columns(val, run.classes), val["label"], run.classes)
        tables[f"T = {temperature:.2f} (fitted on validation)"] = reliability_table(
            apply_temperature(p, temperature), y, n_bins, run.classes)
    return tables


PredictViews = Callable[[Run], np.ndarray]


def saved_model_views(run: Run, batch_size: int = 32) -> np.ndarray:
    """Probabilities ``(views, images, classes)`` of the run's saved model on each view of its test images that is
    a symmetry of the run's geometry (identity first; eight for square crops, four for squashed tiles:
    :func:`bclib.evaluation.tta.symmetry_indices`), in the order of ``predictions.csv``. The model is loaded as
    ``bclib predict`` loads it (safe mode, the run's stain reference applied), the images decoded as in training."""
    from ..data.pipeline import make_dataset
    from .predict import load_classifier, run_stain_reference
    from .tta import dihedral_transforms, run_geometry, symmetry_indices

    model_path = run.folder / "model.keras"
    model, _ = load_classifier(model_path)
    geometry = run_geometry(run.record)  # the test images are made square as in training
    dataset = make_dataset(run.predictions, int(model.input_shape[1]), batch_size, cache=False, label_column=None,
                           stain=run_stain_reference(model_path), geometry=geometry)
    kept = symmetry_indices(geometry)
    parts = [np.stack([np.asarray(model(views[i], training=False)) for i in kept])
             for views in map(dihedral_transforms, dataset)]
    return np.concatenate(parts, axis=1)


def _decisions(probabilities: np.ndarray, run: Run) -> list[str]:
    from ..train.decision import decide

    return decide(probabilities, run.classes, run.record.get("decision_threshold"))  # the run's own rule


def _scores(probabilities: np.ndarray, run: Run) -> dict:
    frame = run.predictions.assign(pred=_decisions(probabilities, run))
    return {m: statistic(m, run.classes)(frame) for m in ("accuracy", "balanced_accuracy")}


def tta_table(runs, predict_views: PredictViews = saved_model_views) -> pd.DataFrame:
    """Per run: test accuracy and balanced accuracy of one view (the image as it is) and of the mean over the
    views that are symmetries of the run's geometry (test-time augmentation), both from ``predict_views(run)``.

    ``predict_views`` returns ``(views, images, classes)`` probabilities, identity first, rows in
    ``predictions.csv`` order (default :func:`saved_model_views`: the saved model re-run on the test images).
    ``changed`` counts the test images whose decision TTA changes.
    """
    rows = []
    for label, run in _labelled(runs):
        views = np.asarray(predict_views(run), dtype=np.float64)
        if views.ndim != 3 or views.shape[1:] != (len(run.predictions), len(run.classes)):
            raise ValueError(f"{run.name}: expected (views, {len(run.predictions)}, {len(run.classes)}) "
                             f"probabilities, got {views.shape}")
        single, mean = views[0], views.mean(axis=0)
        plain, tta = _scores(single, run), _scores(mean, run)
        rows.append({"run": label, "name": run.name, "n_test": len(run.predictions), "views": len(views),
                     **plain, **{f"{m}_tta": v for m, v in tta.items()},
                     "changed": int(sum(a != b for a, b in zip(_decisions(single, run), _decisions(mean, run))))})
    return pd.DataFrame(rows)


def with_intervals(table: pd.DataFrame, measures: Sequence[str], digits: int = 3) -> pd.DataFrame:
    """``table`` with each of ``measures`` shown as ``estimate [low, high]`` (from its ``_low``/``_high``
    columns, which are dropped); blank where the estimate is missing."""
    if table.empty:
        return table.copy()
    shown = table.drop(columns=[f"{m}_{s}" for m in measures for s in ("low", "high")])
    for m in measures:
        shown[m] = [f"{e:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]" if pd.notna(e) else ""
                    for e, lo, hi in zip(table[m], table[f"{m}_low"], table[f"{m}_high"])]
    return shown
