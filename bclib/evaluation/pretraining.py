"""What pretraining buys: the same baseline with ImageNet weights and with random weights, one table.

The two arms (``eval.pretraining_models``, :func:`bclib.experiment.classifier_jobs.pretraining_jobs`) differ in
the trunk's weights only: same split, head, epochs and seeds, and so, seed by seed, the same test images. The effect of
a measure is the mean over seeds of ``measure(pretrained run) - measure(random run)``. Its interval comes
from a two-level bootstrap that counts both things a rerun would change: each draw takes the patients with
replacement and the seeds with replacement (so that a lucky initialisation of one seed is not read as an
effect). A patient is drawn once for all runs: both arms of a seed score the same draw (the patients both
find hard cancel out), and where seeds test different but overlapping sets of patients (a split drawn
per seed, as in ``benchmarks/bench_real_tiles.py``) a patient drawn counts in every seed that tests it,
rather than as a new patient each time. With one seed the interval counts the patients only, and the
table says so in its ``seeds`` column.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .scores import has_patients, statistic
from .uncertainty import paired_runs_bootstrap, percentile_interval

MEASURES = ("balanced_accuracy", "patient_level_rate")
ARMS = ("imagenet", "none")  # pretrained, random


def _arms(runs: Sequence, model: str) -> dict[int, dict[str, object]]:
    """seed -> {weights: run} for the seeds where both arms finished."""
    by_seed: dict[int, dict[str, object]] = {}
    for run in runs:
        record = run.record
        weights = record.get("params", {}).get("train", {}).get("weights")
        if record["model"] == model and weights in ARMS:
            by_seed.setdefault(record["seed"], {})[weights] = run
    return {seed: arms for seed, arms in sorted(by_seed.items()) if set(arms) == set(ARMS)}


def pretraining_effect(pairs: dict[int, dict[str, object]], measure: str, n_resamples: int = 1000,
                       confidence: float = 0.95, seed: int = 0) -> dict:
    """The mean over seeds of pretrained minus random ``measure``, with the patients-and-seeds bootstrap
    (:func:`bclib.evaluation.uncertainty.paired_runs_bootstrap`, the seeds its one resampled level)."""
    runs = {(s,): (arms["imagenet"].predictions, arms["none"].predictions) for s, arms in pairs.items()}
    score = statistic(measure, next(iter(pairs.values()))["imagenet"].classes)
    per_seed = [(score(a), score(b)) for a, b in runs.values()]
    effect = paired_runs_bootstrap(runs, score, n_resamples, seed)
    low, high = percentile_interval(effect["draws"], confidence)
    return {"pretrained": float(np.mean([a for a, _ in per_seed])), "random": float(np.mean([b for _, b in per_seed])),
            "difference": effect["difference"], "low": low, "high": high,
            "seeds": len(runs), "units": effect["units"]}


def pretraining_table(runs: Sequence, measures: Sequence[str] = MEASURES, n_resamples: int = 1000,
                      confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """One row per model and measure: each arm's mean over seeds, the difference, its interval and whether
    the interval excludes 0. Without patient ids the patient-level rate is left out and images are the units."""
    rows = []
    for model in sorted({r.record["model"] for r in runs}):
        pairs = _arms(runs, model)
        if not pairs:
            continue
        named = has_patients(next(iter(pairs.values()))["imagenet"].predictions)
        for measure in (m for m in measures if named or m != "patient_level_rate"):
            effect = pretraining_effect(pairs, measure, n_resamples, confidence, seed)
            rows.append({"model": model, "measure": measure, **effect,
                         "interval_excludes_0": bool(effect["low"] > 0 or effect["high"] < 0)})
    return pd.DataFrame(rows)


def pretraining_shown(table: pd.DataFrame, digits: int = 2, confidence: float = 0.95) -> pd.DataFrame:
    """:func:`pretraining_table` for reading: human column names, the effect as ``estimate [low, high]``."""
    if table.empty:
        return table
    measure_names = {"balanced_accuracy": "balanced accuracy (images)",
                     "patient_level_rate": "patient-level rate (BreakHis)"}
    return pd.DataFrame({
        "model": table["model"],
        "measure": table["measure"].map(measure_names).fillna(table["measure"]),
        "ImageNet weights": table["pretrained"].round(digits),
        "random weights": table["random"].round(digits),
        f"pretrained - random [{confidence:.0%} interval]": [f"{d:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"
                                               for d, lo, hi in zip(table["difference"], table["low"], table["high"])],
        "seeds": table["seeds"],
        "test patients": table["units"],
    })


def pretraining_provenance(params) -> str:
    """What the comparison's runs were trained on, for its table (the report's own line says "untrained" for a
    profile with ``weights: none``, which one arm here is not)."""
    from ..data.index import dataset_is_synthetic

    data = "SYNTHETIC data" if dataset_is_synthetic(params.data.root) else "real data"
    models = ", ".join(params.eval.pretraining_models)
    return f"{data} | {models} with ImageNet weights against random weights | {params.data.split} split"
