"""FID speed and accuracy: bclib's exact routes against the usual scipy.linalg.sqrtm route.

d = 2048 (InceptionV3 pool features), n in {500, 2000, 10000} images per set.
Target: at least 10x faster for n <= 2048, never slower, relative difference <= 1e-6.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import scipy.linalg

sys.path.insert(0, str(Path(__file__).parent))

from common import save, timeit  # noqa: E402

from bclib.metrics import frechet_distance  # noqa: E402

D = 2048


def sqrtm_fid(a, b):
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(root))


def features(rng, n):
    """Non-negative, correlated features like InceptionV3's ReLU-averaged pool."""
    mixing = rng.normal(scale=1 / np.sqrt(64), size=(64, D))
    return np.maximum(rng.normal(size=(n, 64)) @ mixing + rng.normal(scale=0.3, size=(n, D)), 0)


def main(sizes=(500, 2000, 10000), repeats: int = 3) -> None:
    rng = np.random.default_rng(0)
    rows = {}
    for n in sizes:
        a, b = features(rng, n), features(rng, n) * 1.1
        ours, reference = frechet_distance(a, b), sqrtm_fid(a, b)
        t_ours = timeit(lambda: frechet_distance(a, b), repeats=repeats)
        t_ref = timeit(lambda: sqrtm_fid(a, b), repeats=repeats, warmup=0)
        rows[n] = {"bclib_s": t_ours, "sqrtm_s": t_ref, "speedup": t_ref["median"] / t_ours["median"],
                   "relative_difference": abs(ours - reference) / abs(reference)}
    lines = ["| n per set | bclib median s (min-max) | sqrtm median s (min-max) | speed-up | relative difference |",
             "| --- | --- | --- | --- | --- |"]
    for n, r in rows.items():
        lines.append(f"| {n} | {r['bclib_s']['median']:.3f} ({r['bclib_s']['min']:.3f}-{r['bclib_s']['max']:.3f}) "
                     f"| {r['sqrtm_s']['median']:.2f} ({r['sqrtm_s']['min']:.2f}-{r['sqrtm_s']['max']:.2f}) "
                     f"| {r['speedup']:.1f}x | {r['relative_difference']:.1e} |")
    met = all((r["speedup"] >= 10 if n <= 2048 else r["speedup"] >= 1) and r["relative_difference"] <= 1e-6
              for n, r in rows.items())
    lines.append(f"\nTarget (>= 10x for n <= 2048, never slower, difference <= 1e-6): {'met' if met else 'NOT met'}")
    text = "\n".join(lines)
    print(text)
    save("fid", {"title": f"FID at d = {D}: bclib vs scipy.linalg.sqrtm", "rows": {str(k): v for k, v in rows.items()},
                 "target_met": met, "markdown": text})


if __name__ == "__main__":
    main()
