"""Does adding cWGAN images help? The paper's question as one table of paired differences.

For each model and each contrast (``cwgan - none``, ``tradaug+cwgan - tradaug``) the effect is the
difference of a measure between the run with cWGAN images and the same run without, on the same test
images, averaged over every (fold, seed) where both exist. Its interval comes from a bootstrap that
resamples the test patients **within each fold** and scores every seed of that fold on the same draw:
seeds of one fold share their test patients, so resampling them separately would count the same
patients as independent evidence, and folds have different patients, so each is resampled on its own.
The paper's claimed difference (Table 14, proposed model only, image-level split) stands beside it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from .. import catalogue
from ..reference import paper_table
from .scores import has_patients, statistic
from .uncertainty import check_same_images, clusters, percentile_interval, resample_clusters

CONTRASTS = (("cwgan", "none"), ("tradaug+cwgan", "tradaug"))
MEASURES = ("patient_level_rate", "balanced_accuracy", "roc_auc")


def _pairs(runs: Sequence, model: str, with_gan: str, without: str) -> dict:
    """(fold, seed) -> (run with cWGAN images, run without), on the main (non-image) split."""
    found = defaultdict(dict)
    for run in runs:
        record = run.record
        if record["model"] == model and record["split"] != "image" and record["variant"] in (with_gan, without):
            found[(record.get("fold"), record["seed"])][record["variant"]] = run
    return {key: (pair[with_gan], pair[without]) for key, pair in sorted(found.items(), key=str)
            if with_gan in pair and without in pair}


def pooled_difference(pairs: dict, measure: str, n_resamples: int = 1000, confidence: float = 0.95,
                      seed: int = 0) -> dict:
    """Mean over (fold, seed) of ``measure(with) - measure(without)``, with a bootstrap interval that
    resamples patients within each fold (the same draw for every seed of the fold and both runs).
    ``pairs``: the (fold, seed) pairs averaged; ``units``: the patients resampled (images where there are no
    patient ids), over all folds."""
    by_fold = defaultdict(list)
    for (fold, _), (with_gan, without) in pairs.items():
        check_same_images(with_gan.predictions, without.predictions)
        by_fold[fold].append((with_gan, without))
    classes = next(iter(pairs.values()))[0].classes
    score = statistic(measure, classes)
    estimate = float(np.mean([score(a.predictions) - score(b.predictions) for a, b in pairs.values()]))
    groups = {fold: clusters(runs[0][0].predictions) for fold, runs in by_fold.items()}
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_resamples):
        differences = []
        try:
            for fold, fold_runs in by_fold.items():
                picked = rng.integers(0, len(groups[fold]), len(groups[fold]))
                differences += [score(resample_clusters(a.predictions, groups[fold], picked))
                                - score(resample_clusters(b.predictions, groups[fold], picked)) for a, b in fold_runs]
        except ValueError:  # undefined on this draw (e.g. ROC AUC with one class drawn)
            continue
        draws.append(float(np.mean(differences)))
    low, high = percentile_interval(np.asarray(draws), confidence)
    return {"difference": estimate, "low": low, "high": high, "folds": len(by_fold), "pairs": len(pairs),
            "units": sum(len(g) for g in groups.values())}


def _paper_differences(dataset: str) -> dict:
    paper = paper_table("table14_proposed_accuracy")
    accuracy = paper[paper["dataset"] == dataset].set_index("bclib_variant")["accuracy"]
    return {(a, b): (accuracy.get(a, np.nan) - accuracy.get(b, np.nan)) / 100 for a, b in CONTRASTS}


def gan_effect_table(runs: Sequence, dataset: str, measures: Sequence[str] = MEASURES, n_resamples: int = 1000,
                     confidence: float = 0.95, seed: int = 0, models: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """One row per model, contrast and measure: the pooled paired difference (with cWGAN images minus
    without) and its interval, whether the interval excludes zero, and the paper's claimed difference in
    accuracy (proposed model only; NaN where the paper has no such pair). Without patient ids (BACH) the
    patient-level rate is replaced by accuracy and images are resampled."""
    paper = _paper_differences(dataset)
    models = models or sorted({r.record["model"] for r in runs})
    rows = []
    for model in models:
        for with_gan, without in CONTRASTS:
            pairs = _pairs(runs, model, with_gan, without)
            if not pairs:
                continue
            named = has_patients(next(iter(pairs.values()))[0].predictions)
            # No patient ids (BACH): images are the units, and the patient-level rate becomes plain accuracy.
            for measure in dict.fromkeys(m if named or m != "patient_level_rate" else "accuracy" for m in measures):
                effect = pooled_difference(pairs, measure, n_resamples, confidence, seed)
                excludes = effect["low"] > 0 or effect["high"] < 0
                rows.append({"model": model, "contrast": f"{with_gan} - {without}", "measure": measure, **effect,
                             "interval_excludes_0": bool(excludes),
                             "paper_accuracy_difference": paper[(with_gan, without)]
                             if model == catalogue.HEADLINE_MODEL else np.nan})
    return pd.DataFrame(rows)
