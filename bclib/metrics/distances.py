"""Frechet distance and kernel inception distance from two feature matrices (rows = images).

Frechet distance between Gaussians fitted to the two sets:

    FID = |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2))

The usual implementation calls ``scipy.linalg.sqrtm`` on the non-symmetric
product S_a S_b, which is slow at d = 2048 and can return complex noise. The
routes here are exact and use symmetric or singular-value decompositions:

* ``cholesky`` (the default when a set has more images than dimensions): with
  S_a = L L^T (Cholesky), S_a S_b is similar to the symmetric positive semi-definite
  L^T S_b L, so tr((S_a S_b)^(1/2)) = sum sqrt(eigvalsh(L^T S_b L)). One Cholesky
  factorisation, two triangular products and one eigenvalue-only decomposition:
  about half the work of ``eigh``. The covariances come from one BLAS call each
  (``syrk`` on the centred float64 features); the larger set is factorised. If its
  covariance is not numerically positive definite (fewer images than dimensions, or
  constant features) the route falls back to ``eigh``;
* ``eigh``: tr((S_a S_b)^(1/2)) = sum sqrt(eig(sqrt(S_a) S_b sqrt(S_a))), a symmetric
  positive semi-definite matrix with the same eigenvalues as S_a S_b;
* ``eigvals``: the eigenvalues of the non-symmetric product S_a S_b (torchmetrics'
  route); kept for comparison, never chosen automatically;
* ``nuclear``: with centred features A (n x d) and B (m x d), S_a S_b has the same
  non-zero eigenvalues as C C^T for C = A B^T / sqrt((n-1)(m-1)) (n x m), so the trace
  term is the sum of C's singular values (its nuclear norm). When there are fewer
  images than dimensions this avoids every d x d matrix. The singular values come from
  the eigenvalues of C's smaller Gram matrix when a worst-case error bound shows they
  are accurate to 1e-7 relative, else from an SVD (``svd`` forces that).

:func:`frechet_distance` estimates the floating-point work of each and takes the
cheaper one.

KID (Binkowski et al. 2018) is the unbiased estimate of the squared maximum mean
discrepancy with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged
over random subsets as StyleGAN2-ADA and torch-fidelity do. Unlike FID it has no
bias that depends on the number of images, which makes it the better choice for
small sets.
"""

from __future__ import annotations

from typing import Optional

import numpy as np


def _as_features(feats, name: str) -> np.ndarray:
    array = np.asarray(feats, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix (images x features), got shape {array.shape}")
    if len(array) < 2:
        raise ValueError(f"{name} needs at least 2 images, got {len(array)}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _route_costs(n: int, m: int, d: int) -> dict[str, float]:
    """Cost of the exact routes in units of one matrix-product flop.

    Decompositions run slower per flop than matrix products; their weights were
    measured at d = 2048 on 2 CPU cores (benchmarks/bench_fid.py): eigvalsh ~4.6 d^3,
    eigh ~14 d^3, Cholesky ~1.4 d^3, a triangular product ~2.5 d^3, syrk ~2 n d^2.
    """
    small, large = min(n, m), max(n, m)
    costs = {
        # two covariances, eigh, two d x d products, eigvalsh
        "eigh": 2.0 * (n + m) * d * d + 23.0 * d**3,
        # the n x m cross product, its Gram matrix and eigenvalues, plus the two traces
        "nuclear": 2.0 * n * m * d + 2.0 * small**2 * large + 4.6 * small**3 + 2.0 * (n + m) * d,
    }
    if large > d:  # the larger set's covariance can be positive definite (it is the one factorised)
        # two covariances, Cholesky, two triangular products, eigvalsh
        costs["cholesky"] = 2.0 * (n + m) * d * d + 11.0 * d**3
    return costs


def covariance(centred: np.ndarray) -> np.ndarray:
    """Sample covariance of centred rows in one BLAS call (syrk, float64), made symmetric."""
    from scipy.linalg.blas import dsyrk

    n = len(centred)
    data = np.asarray(centred, dtype=np.float64)
    # syrk on the transposed view: C-ordered (n, d) is Fortran-ordered (d, n), so no copy
    upper = dsyrk(1.0 / (n - 1), data.T, trans=0, lower=0)
    return np.triu(upper) + np.triu(upper, 1).T


def _trace_sqrt_cholesky(cov_a: np.ndarray, cov_b: np.ndarray) -> Optional[float]:
    from scipy.linalg.blas import dtrmm

    try:
        lower = np.linalg.cholesky(cov_a)
    except np.linalg.LinAlgError:
        return None
    # M = L^T S_b L with two triangular products (S_b L, then L^T (S_b L))
    right = dtrmm(1.0, lower, cov_b, side=1, lower=1)
    middle = dtrmm(1.0, lower, right, side=0, lower=1, trans_a=1)
    middle = (middle + middle.T) / 2  # symmetric up to rounding
    return float(np.sqrt(np.clip(np.linalg.eigvalsh(middle), 0, None)).sum())


def _deflate(centred: np.ndarray) -> np.ndarray:
    """Rows of ``H @ centred`` after the first, H the reflection swapping e_1 and ones/sqrt(n).

    The first row, ones . centred / sqrt(n), is zero for centred data, so dropping it keeps
    every non-zero singular value of products with this matrix.
    """
    n = len(centred)
    w = -np.full(n, 1.0 / np.sqrt(n))
    w[0] += 1.0
    norm = np.linalg.norm(w)
    if norm == 0:  # n == 1 cannot happen (>= 2 images); kept for safety
        return centred[1:]
    w /= norm
    return (centred - 2.0 * np.outer(w, w @ centred))[1:]


def _nuclear_norm_by_gram(cross: np.ndarray, tolerance: float = 1e-7) -> Optional[float]:
    """Sum of singular values of ``cross`` as the sum of square roots of the eigenvalues of its
    smaller Gram matrix (two to three times faster than an SVD), or None when that is not
    accurate enough.

    Forming the Gram matrix squares the condition number: an eigenvalue is only known to
    within delta = k * eps * (largest eigenvalue), which moves its square root by at most
    delta / (2 sqrt(lambda)), or sqrt(delta) when lambda < delta. If these bounds add up to
    more than ``tolerance`` times the result, the caller falls back to the SVD. The bound
    is a worst case: on InceptionV3-like features at n = 2000 it is 5e-9 while the
    measured difference from the SVD is 1e-14.
    """
    small = cross if cross.shape[0] <= cross.shape[1] else cross.T
    values = np.linalg.eigvalsh(small @ small.T)
    delta = len(values) * np.finfo(np.float64).eps * max(float(values[-1]), 0.0)
    roots = np.sqrt(np.clip(values, 0, None))
    safe = values > delta
    error = float((delta / (2.0 * roots[safe])).sum() + np.sqrt(delta) * (~safe).sum())
    total = float(roots.sum())
    return total if error <= tolerance * max(total, np.finfo(np.float64).tiny) else None


def trace_sqrt_product(a_centred: np.ndarray, b_centred: np.ndarray, route: Optional[str] = None) -> float:
    """tr((S_a S_b)^(1/2)) from centred feature matrices, by the cheaper (or the given) exact route."""
    n, d = a_centred.shape
    m = b_centred.shape[0]
    if route is None:
        costs = _route_costs(n, m, d)
        route = min(costs, key=costs.get)
    if route in ("nuclear", "svd"):
        # Centring leaves every column of A (and B) orthogonal to the all-ones vector, so C
        # has one exactly-zero singular value; a reflection moves it into a first row and
        # column that are dropped, leaving an (n-1) x (m-1) matrix with the same spectrum.
        cross = (_deflate(a_centred) @ _deflate(b_centred).T) / np.sqrt((n - 1) * (m - 1))
        if route == "nuclear":
            total = _nuclear_norm_by_gram(cross)
            if total is not None:
                return total
        return float(np.linalg.svd(cross, compute_uv=False).sum())
    if route in ("cholesky", "eigh", "eigvals"):
        if m > n:  # S_a S_b and S_b S_a share their eigenvalues; factorise the set more likely to be full rank
            a_centred, b_centred = b_centred, a_centred
        cov_a, cov_b = covariance(a_centred), covariance(b_centred)
        return trace_sqrt_from_covariances(cov_a, cov_b, route)
    raise ValueError(f"unknown route {route!r} (expected 'cholesky', 'eigh', 'eigvals', 'nuclear' or 'svd')")


def trace_sqrt_from_covariances(cov_a: np.ndarray, cov_b: np.ndarray, route: str = "cholesky") -> float:
    """tr((S_a S_b)^(1/2)) from two covariance matrices by a d x d route."""
    if route == "cholesky":
        total = _trace_sqrt_cholesky(cov_a, cov_b)
        if total is not None:
            return total
        route = "eigh"  # S_a not numerically positive definite
    if route == "eigvals":
        values = np.linalg.eigvals(cov_a @ cov_b)
        return float(np.sqrt(np.clip(values.real, 0, None)).sum())
    if route == "eigh":
        values, vectors = np.linalg.eigh(cov_a)
        root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
        middle = root_a @ cov_b @ root_a
        middle = (middle + middle.T) / 2  # symmetric up to rounding
        return float(np.sqrt(np.clip(np.linalg.eigvalsh(middle), 0, None)).sum())
    raise ValueError(f"unknown route {route!r}")


def frechet_distance(feats_a, feats_b, route: Optional[str] = None) -> float:
    """Exact Frechet distance between two feature sets (float64); ``route`` forces one of
    'cholesky', 'eigh', 'nuclear', 'svd' or 'eigvals' (default: the cheapest for the sizes)."""
    a = _as_features(feats_a, "feats_a")
    b = _as_features(feats_b, "feats_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sizes differ: {a.shape[1]} and {b.shape[1]}")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    a_centred, b_centred = a - mu_a, b - mu_b
    trace_a = float(np.einsum("ij,ij->", a_centred, a_centred) / (len(a) - 1))
    trace_b = float(np.einsum("ij,ij->", b_centred, b_centred) / (len(b) - 1))
    cross = trace_sqrt_product(a_centred, b_centred, route)
    value = float(((mu_a - mu_b) ** 2).sum()) + trace_a + trace_b - 2.0 * cross
    return max(value, 0.0)  # rounding can leave -1e-13 for identical sets


def _polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with the cubic polynomial kernel (sets may differ in size)."""
    n, m = len(x), len(y)
    kxx, kyy, kxy = _polynomial_kernel(x, x), _polynomial_kernel(y, y), _polynomial_kernel(x, y)
    within_x = (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
    within_y = (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within_x + within_y - 2.0 * kxy.mean())


def kernel_inception_distance(feats_a, feats_b, num_subsets: int = 100, subset_size: int = 1000,
                              seed: int = 0) -> tuple[float, float]:
    """KID as (mean, std) over ``num_subsets`` random subsets of ``subset_size`` images per set.

    When ``subset_size`` is at least the size of both sets there is exactly one
    subset, the full sets, and the result is deterministic (std 0).
    """
    a = _as_features(feats_a, "feats_a")
    b = _as_features(feats_b, "feats_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sizes differ: {a.shape[1]} and {b.shape[1]}")
    if subset_size >= len(a) and subset_size >= len(b):
        return mmd2_unbiased(a, b), 0.0
    size = min(subset_size, len(a), len(b))
    rng = np.random.default_rng(seed)
    values = [
        mmd2_unbiased(a[rng.choice(len(a), size, replace=False)], b[rng.choice(len(b), size, replace=False)])
        for _ in range(num_subsets)
    ]
    return float(np.mean(values)), float(np.std(values))
