"""Solutions to notebook 05's exercises (reading the results)."""

from __future__ import annotations

import numpy as np
from statsmodels.stats.multitest import multipletests

from bclib.evaluation.split_leakage import corrected_interval
from bclib.tablefile import read_provenance


def exercise_1(spread: float, n_train: int, n_test: int, repeats=(5, 30, 1000)) -> dict:
    """More repetitions of the random splits narrow the corrected interval only down to a floor: the term
    n_test/n_train does not shrink with the number of repetitions, because they reuse the same images.

    Returns the interval's width for each number of repetitions, for gaps with standard deviation ``spread``."""
    widths = {}
    for j in repeats:
        z = np.linspace(-1, 1, j)
        gaps = 0.1 + spread * (z - z.mean()) / z.std(ddof=1)  # exactly this spread, whatever j
        _, low, high = corrected_interval(gaps, n_train, n_test)
        widths[j] = high - low
    return widths


def exercise_2(p_values, alpha: float = 0.05) -> dict:
    """Twelve verdicts at 5% each would flag about one by chance; Holm's step-down adjustment keeps the chance of
    any false flag at 5%."""
    reject, adjusted, _, _ = multipletests(p_values, alpha=alpha, method="holm")
    return {"raw flags": int((np.asarray(p_values) < alpha).sum()), "Holm flags": int(reject.sum()),
            "adjusted": adjusted}


def exercise_3(table_file) -> dict:
    """Where a table's numbers came from: its data and weights, processor and TensorFlow threads."""
    return read_provenance(table_file)
