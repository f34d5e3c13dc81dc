"""Improved precision and recall (Kynkaanniemi et al. 2019) from two feature matrices.

FID mixes two different failures into one number: generated images that do not
look real (low *fidelity*) and a generator that covers only part of the real
variety (low *diversity*, e.g. mode collapse). Precision and recall separate them.
Each set is given a manifold estimate: the union of balls around its points, the
radius of each ball being the distance to that point's k-th nearest neighbour in
the same set (k = 3 by default, as in the paper and StyleGAN2-ADA). Then

* **precision** = share of generated images inside the real manifold,
* **recall** = share of real images inside the generated manifold.

Both are in [0, 1], higher is better. They are computed in the feature space used
for FID (InceptionV3 pool features), with Euclidean distances.

The radii depend on how many points a set has, so the scores compare like with
like only on sets of the same size: :func:`balanced_precision_recall` subsamples the
larger set to the smaller one's size several times and reports the mean and spread
(what the snapshot scores and ``bclib fid`` use); :func:`precision_recall` scores the
two sets as given.

Memory stays bounded for 50,000 images per set: distances are computed in blocks
of query rows against all reference rows (a block holds ``memory_mb`` megabytes),
never as a full n x m matrix.
"""

from __future__ import annotations

import numpy as np


def _block_rows(n_ref: int, memory_mb: float, itemsize: int) -> int:
    return max(1, int(memory_mb * 2**20 // (max(n_ref, 1) * itemsize * 2)))  # distances + a work copy


def _squared_distances(queries: np.ndarray, q_norms: np.ndarray, refs: np.ndarray, r_norms: np.ndarray) -> np.ndarray:
    d2 = q_norms[:, None] + r_norms[None, :] - 2.0 * (queries @ refs.T)
    return np.maximum(d2, 0, out=d2)


def knn_radii(features, k: int = 3, memory_mb: float = 256, dtype=np.float64) -> np.ndarray:
    """Distance from each row to its k-th nearest *other* row (squared distances, blocked)."""
    x = np.asarray(features, dtype=dtype)
    n = len(x)
    if n <= k:
        raise ValueError(f"k = {k} neighbours need more than {k} images, got {n}")
    norms = np.einsum("ij,ij->i", x, x)
    radii = np.empty(n, dtype=dtype)
    step = _block_rows(n, memory_mb, x.itemsize)
    for start in range(0, n, step):
        stop = min(start + step, n)
        d2 = _squared_distances(x[start:stop], norms[start:stop], x, norms)
        d2[np.arange(stop - start), np.arange(start, stop)] = np.inf  # not its own neighbour
        radii[start:stop] = np.partition(d2, k - 1, axis=1)[:, k - 1]
    return radii  # squared


def inside_manifold(queries, refs, ref_radii2: np.ndarray, memory_mb: float = 256, dtype=np.float64) -> np.ndarray:
    """For each query row, whether it lies in at least one reference ball (squared radii given)."""
    q = np.asarray(queries, dtype=dtype)
    r = np.asarray(refs, dtype=dtype)
    q_norms, r_norms = np.einsum("ij,ij->i", q, q), np.einsum("ij,ij->i", r, r)
    inside = np.empty(len(q), dtype=bool)
    step = _block_rows(len(r), memory_mb, q.itemsize)
    for start in range(0, len(q), step):
        stop = min(start + step, len(q))
        d2 = _squared_distances(q[start:stop], q_norms[start:stop], r, r_norms)
        inside[start:stop] = (d2 <= ref_radii2[None, :]).any(axis=1)
    return inside


def precision_recall(real, fake, k: int = 3, memory_mb: float = 256, dtype=np.float64) -> dict:
    """Improved precision and recall of ``fake`` against ``real`` (rows = images)."""
    real = np.asarray(real, dtype=dtype)
    fake = np.asarray(fake, dtype=dtype)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"need two feature matrices of the same width, got {real.shape} and {fake.shape}")
    real_radii = knn_radii(real, k, memory_mb, dtype)
    fake_radii = knn_radii(fake, k, memory_mb, dtype)
    precision = inside_manifold(fake, real, real_radii, memory_mb, dtype).mean()
    recall = inside_manifold(real, fake, fake_radii, memory_mb, dtype).mean()
    return {"precision": float(precision), "recall": float(recall), "pr_k": int(k)}


def balanced_precision_recall(real, fake, k: int = 3, repeats: int = 10, seed: int = 0,
                              memory_mb: float = 256, dtype=np.float64) -> dict:
    """Precision and recall on **equal-size** sets: the larger set is subsampled (without replacement)
    to the smaller one's size, ``repeats`` times with different draws; mean and standard deviation.

    Each set's k-NN radii come from its own points, so a set with more points has smaller balls:
    comparing 256 fakes with 96 reals pushes recall down and precision up whatever the generator
    does. With equal sizes both sets' balls have the same scale. Sets of the same size are
    compared once, as they are (standard deviation 0). Returns ``precision``, ``recall``,
    ``precision_std``, ``recall_std``, ``pr_n`` (images per set), ``pr_repeats`` and ``pr_k``.
    """
    real = np.asarray(real, dtype=dtype)
    fake = np.asarray(fake, dtype=dtype)
    n = min(len(real), len(fake))
    if n <= k:
        raise ValueError(f"k = {k} neighbours need more than {k} images in each set, got {len(real)} and {len(fake)}")
    draws = 1 if len(real) == len(fake) else max(1, int(repeats))
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(draws):
        r = real if len(real) == n else real[np.sort(rng.choice(len(real), n, replace=False))]
        f = fake if len(fake) == n else fake[np.sort(rng.choice(len(fake), n, replace=False))]
        pr = precision_recall(r, f, k, memory_mb, dtype)
        values.append((pr["precision"], pr["recall"]))
    values = np.asarray(values)
    return {"precision": float(values[:, 0].mean()), "recall": float(values[:, 1].mean()),
            "precision_std": float(values[:, 0].std()), "recall_std": float(values[:, 1].std()),
            "pr_n": int(n), "pr_repeats": int(draws), "pr_k": int(k)}
