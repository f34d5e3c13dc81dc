"""FID and KID of two image sets, as one record."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from .distances import frechet_distance, kernel_inception_distance
from .features import FeatureExtractor, features_of_folder


def fid_kid(real: np.ndarray, fake: np.ndarray, kid_subsets: int = 100, kid_subset_size: int = 1000,
            seed: int = 0) -> dict:
    kid_mean, kid_std = kernel_inception_distance(real, fake, kid_subsets, kid_subset_size, seed)
    return {"fid": frechet_distance(real, fake), "kid_mean": kid_mean, "kid_std": kid_std,
            "n_real": int(len(real)), "n_fake": int(len(fake))}


def score_folders(real_dir, fake_dir, extractor: FeatureExtractor, kid_subsets: int = 100,
                  kid_subset_size: int = 1000, cache_dir: Optional[Path] = None) -> dict:
    """The record ``bclib fid`` prints: fid, kid_mean, kid_std, n_real, n_fake, features (+ notes)."""
    real, real_problems = features_of_folder(extractor, real_dir, cache_dir)
    fake, fake_problems = features_of_folder(extractor, fake_dir, cache_dir)
    record = fid_kid(real, fake, kid_subsets, kid_subset_size)
    record["features"] = extractor.name
    record["note"] = extractor.note
    if real_problems or fake_problems:
        record["problems"] = real_problems + fake_problems
    return record
