"""Solutions to notebook 01's exercises (the cWGAN and its scores)."""

from __future__ import annotations

import numpy as np

from bclib.metrics.distances import frechet_distance, kernel_inception_distance


def exercise_1(n: int = 200, dim: int = 8, seed: int = 0) -> dict:
    """Two samples from the same distribution have a Fréchet distance above 0, and it shrinks as the samples grow.

    The FD of finite samples is biased upwards by about trace(covariance) x (1/n_a + 1/n_b) terms, so two FIDs
    can only be compared at equal sample sizes (notebook 02's sweep points use fewer images than 01's run)."""
    rng = np.random.default_rng(seed)
    return {size: frechet_distance(rng.normal(size=(size, dim)), rng.normal(size=(size, dim)))
            for size in (n // 4, n, 4 * n)}


def exercise_2(n: int = 200, dim: int = 8, seed: int = 0) -> dict:
    """KID is unbiased: for two samples of one distribution it scatters around 0 (and can be negative), while FD
    is always positive. Returns each for same-distribution samples and for a shifted one."""
    rng = np.random.default_rng(seed)
    a, b, shifted = rng.normal(size=(n, dim)), rng.normal(size=(n, dim)), rng.normal(0.5, 1, size=(n, dim))
    kid = lambda x, y: kernel_inception_distance(x, y, num_subsets=20, subset_size=n // 2, seed=seed)  # noqa: E731
    return {"same: FD": frechet_distance(a, b), "same: KID": kid(a, b)[0],
            "shifted: FD": frechet_distance(a, shifted), "shifted: KID": kid(a, shifted)[0]}


def exercise_3(class_counts: dict) -> dict:
    """How many generated images of each class would balance the training set (the paper's use of the cWGAN):
    enough to bring every class up to the largest one."""
    largest = max(class_counts.values())
    return {label: largest - count for label, count in class_counts.items()}
