"""What the generator and critic are conditioned on (the class, or class and magnification pairs), and how
many images each condition gets."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import UserError


def apportion(counts, n: int) -> list[int]:
    """Split n into integers proportional to ``counts`` (largest remainders; sums to n)."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.sum() == 0:
        counts = np.ones_like(counts)
    exact = counts / counts.sum() * n
    out = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - out), kind="stable")[: n - out.sum()]:
        out[i] += 1
    return out.tolist()


def magnification_conditions(frame: pd.DataFrame, labels: np.ndarray) -> tuple[list[str], np.ndarray]:
    """(class, magnification) conditioning of ``frame``'s images: the magnifications present (BreakHis'
    order, then any others sorted) and each image's condition index, class * n_magnifications + magnification."""
    if "magnification" not in frame.columns:
        raise UserError("gan.condition_magnification: this dataset has no magnifications")
    from ..data.layouts import BREAKHIS_MAGNIFICATIONS as MAGNIFICATIONS

    present = set(frame["magnification"].astype(str))
    magnifications = [m for m in MAGNIFICATIONS if m in present] + sorted(present - set(MAGNIFICATIONS))
    mag_index = frame["magnification"].astype(str).map(magnifications.index).to_numpy()
    return magnifications, (labels * len(magnifications) + mag_index).astype(np.int32)


def condition_names(class_names: Sequence[str], magnifications: Sequence[str]) -> list[str]:
    """One name per conditioning index: the classes, or 'class@magnification'."""
    if not magnifications:
        return list(class_names)
    return [f"{c}@{m}" for c in class_names for m in magnifications]


def class_conditions(conditions: np.ndarray, labels: np.ndarray, n_magnifications: int, class_index: int,
                     n: int) -> list[tuple[int, int]]:
    """(condition index, count) pairs that make ``n`` images of a class.

    Without magnification conditioning (``n_magnifications`` 0) this is [(class_index, n)]; with it, the n
    images are spread over the magnifications in the proportions of that class's training images
    (``conditions``, ``labels``: theirs), so a per-class score compares like with like.
    """
    if not n_magnifications:
        return [(class_index, n)]
    m = n_magnifications
    counts = np.bincount(conditions[labels == class_index] - class_index * m, minlength=m)
    return [(class_index * m + j, c) for j, c in enumerate(apportion(counts, n)) if c > 0]
