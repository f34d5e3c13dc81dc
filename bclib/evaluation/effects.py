"""Does adding cWGAN images help? The paper's question as one table of paired differences.

For each model and each contrast (``cwgan - none``, ``tradaug+cwgan - tradaug``) the effect is the
difference of a measure between the run with cWGAN images and the same run without, on the same test
images, averaged over every (fold, seed) where both exist. Its interval comes from a bootstrap that
resamples the test patients **within each fold** and scores every seed of that fold on the same draw:
seeds of one fold share their test patients, so resampling them separately would count the same
patients as independent evidence, and folds have different patients, so each is resampled on its own.
The paper's claimed difference (Table 14, proposed model only, image-level split) stands beside it.

Runs of different protocols (the profile's own split, the folds of ``eval.gan_folds``) and different
counts of cWGAN images (``train.cwgan_images``: a dose-response) are never pooled: each (protocol,
count) is its own row, and the run without GAN images is the zero of every count.
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


def protocol_of(record: dict) -> str:
    """The protocol a run belongs to, as the effect table names it: ``patient split`` for a profile of one
    split, ``cv folds 1, 2`` for the folds of one experiment, with ``, 40X model`` for one magnification's
    models under ``per_magnification``."""
    folds = record.get("params", {}).get("data", {}).get("folds")
    protocol = f"{record['split']} folds {', '.join(str(k) for k in folds)}" if folds else f"{record['split']} split"
    if record.get("magnification_protocol") == "per_magnification" and record.get("magnifications"):
        protocol += f", {'+'.join(record['magnifications'])} model"  # other test images: a row of its own
    return protocol


def _pairs(runs: Sequence, model: str, with_gan: str, without: str) -> dict:
    """(protocol, count of cWGAN images) -> {(fold, seed): (run with cWGAN images, run without)}, image split
    excluded. The run without images pairs with the run of every count on its (protocol, fold, seed)."""
    with_runs, without_runs = defaultdict(dict), {}
    for run in runs:
        record = run.record
        if record["model"] != model or record["split"] == "image":
            continue
        where = (protocol_of(record), record.get("fold"), record["seed"])
        if record["variant"] == with_gan:
            with_runs[(where[0], str(record.get("cwgan_images") or "all"))][where[1:]] = run
        elif record["variant"] == without:
            without_runs[where] = run
    found = {}
    for (protocol, dose), by_key in sorted(with_runs.items(), key=lambda item: (item[0][0], _dose_order(item[0][1]))):
        pairs = {key: (run, without_runs[(protocol, *key)]) for key, run in sorted(by_key.items(), key=str)
                 if (protocol, *key) in without_runs}
        if pairs:
            found[(protocol, dose)] = pairs
    return found


def _dose_order(dose: str) -> tuple:
    # counts in increasing order, then balance, then all
    return (0, int(dose), "") if dose.isdigit() else (1, 0, dose)


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
                     confidence: float = 0.95, seed: int = 0, models: Optional[Sequence[str]] = None,
                     per_fold: bool = False) -> pd.DataFrame:
    """One row per model, protocol, contrast, count of cWGAN images and measure: the pooled paired
    difference (with cWGAN images minus without) and its interval, whether the interval excludes zero, and
    the paper's claimed difference in accuracy (proposed model only; NaN where the paper has no such pair).
    ``per_fold``: one row per fold as well (``fold`` column; ``all`` for the pooled row). Without patient
    ids (BACH) the patient-level rate is replaced by accuracy and images are resampled."""
    paper = _paper_differences(dataset)
    models = models or sorted({r.record["model"] for r in runs})
    rows = []
    for model in models:
        for with_gan, without in CONTRASTS:
            for (protocol, dose), pairs in _pairs(runs, model, with_gan, without).items():
                named = has_patients(next(iter(pairs.values()))[0].predictions)
                folds = sorted({fold for fold, _ in pairs}, key=str) if per_fold else []
                subsets = [("all", pairs)] + [(fold, {k: v for k, v in pairs.items() if k[0] == fold})
                                              for fold in folds if len(folds) > 1]
                # No patient ids (BACH): images are the units, and the patient-level rate becomes plain accuracy.
                for measure in dict.fromkeys(m if named or m != "patient_level_rate" else "accuracy"
                                             for m in measures):
                    for fold, subset in subsets:
                        effect = pooled_difference(subset, measure, n_resamples, confidence, seed)
                        excludes = effect["low"] > 0 or effect["high"] < 0
                        rows.append({"model": model, "protocol": protocol, "contrast": f"{with_gan} - {without}",
                                     "cwgan_images": dose, **({"fold": str(fold)} if per_fold else {}),
                                     "measure": measure, **effect, "interval_excludes_0": bool(excludes),
                                     "paper_accuracy_difference": paper[(with_gan, without)]
                                     if model == catalogue.HEADLINE_MODEL else np.nan})
    return pd.DataFrame(rows)
