"""How many images each generator condition (class, or class and magnification) gets."""

from __future__ import annotations

import numpy as np


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
