"""Solutions to notebook 03's exercises (baselines and transfer learning)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bclib.evaluation.uncertainty import bootstrap_interval


def exercise_1(features: np.ndarray, labels: np.ndarray, patients: np.ndarray, repeats: int = 10) -> dict:
    """What `--set data.split=image` changes, seen with a classifier that can only memorise: the image-level
    split scores higher because test patients' other images are in training (notebook 05, section 6)."""
    from bclib.evaluation.split_leakage import repeated_split_gap

    table = repeated_split_gap(features, labels, patients, repeats=repeats)
    return {"patient split": float(table["patient_split"].mean()), "image split": float(table["image_split"].mean())}


def exercise_2(predictions: pd.DataFrame, statistic, resamples=(50, 200, 1000)) -> dict:
    """Raising ``eval.bootstrap`` makes the interval's ends *stable*, not narrower: its width is set by the
    number of test patients; more resamples only estimate that width more precisely."""
    return {n: bootstrap_interval(predictions, statistic, n_resamples=n, seed=0) for n in resamples}


def exercise_3(model) -> dict:
    """Frozen and trainable parameters of a built model: transfer learning trains the head only."""
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    frozen = int(sum(np.prod(w.shape) for w in model.non_trainable_weights))
    return {"trainable": trainable, "frozen": frozen}
