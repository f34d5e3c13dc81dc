"""Solutions to notebook 04's exercises (the fusion model and its ablations)."""

from __future__ import annotations

import pandas as pd

from bclib.evaluation.uncertainty import mcnemar_test, paired_bootstrap


def exercise_1(a: pd.DataFrame, b: pd.DataFrame, statistic) -> dict:
    """Two runs on the same test images compared pairwise: each resample draws patients once and scores both
    runs on it, so the patients' shared difficulty cancels and the interval of the difference is narrower than
    the two runs' own intervals would suggest."""
    return paired_bootstrap(a, b, statistic, n_resamples=300, seed=0)


def exercise_2(correct_a, correct_b) -> dict:
    """McNemar's exact test counts only the units where the two runs disagree. Pass patients, not images:
    images of one patient are not independent."""
    return mcnemar_test(correct_a, correct_b)


def exercise_3(counts_with: int, counts_without: int, test_images: int) -> float:
    """How many test images a difference in accuracy corresponds to: 1 point on 160 images is 1.6 images."""
    return (counts_with - counts_without) / test_images
