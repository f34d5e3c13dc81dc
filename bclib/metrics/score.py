"""FID, KID, precision/recall and SWD of two image sets, as one record (what ``bclib fid`` prints)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from .distances import frechet_distance, kernel_inception_distance
from .features import FeatureExtractor, features_of_folder, folder_arrays, folder_images
from .manifold import balanced_precision_recall
from .swd import swd

READING_NOTE = ("FID, KID, precision and recall are measured in the extractor's features: with an untrained "
                "network they only rank image sets against each other within one setting; SWD is measured on "
                "pixel patches (no network) and shows texture, sharpness and colour differences of small patches, "
                "not whether whole tiles are plausible")


def fid_kid(real: np.ndarray, fake: np.ndarray, kid_subsets: int = 100, kid_subset_size: int = 1000,
            seed: int = 0) -> dict:
    """FID and KID (mean and std over subsets) of two feature sets, under the keys every record of bclib uses:
    ``bclib fid``'s JSON and the GAN's ``metrics.jsonl`` (:mod:`bclib.gan.scoring_hook`) alike."""
    kid_mean, kid_std = kernel_inception_distance(real, fake, kid_subsets, kid_subset_size, seed)
    return {"fid": frechet_distance(real, fake), "kid": kid_mean, "kid_std": kid_std,
            "n_real": int(len(real)), "n_fake": int(len(fake))}


def score_folders(real_dir, fake_dir, extractor: FeatureExtractor, kid_subsets: int = 100,
                  kid_subset_size: int = 1000, cache_dir: Optional[Path] = None, crop: str = "squash",
                  pr_k: int = 3, pr_repeats: int = 10, swd_size: int = 64, seed: int = 0) -> dict:
    """The record ``bclib fid`` prints: fid, kid, kid_std, precision, recall (on equal-size sets,
    mean and std over ``pr_repeats`` draws, ``pr_n`` images each), swd (x 10^3, images at ``swd_size``
    px), n_real, n_fake, features (+ notes). ``crop``: each image whole (``squash``) or its centre square."""
    real, real_problems = features_of_folder(extractor, real_dir, cache_dir, crop)
    fake, fake_problems = features_of_folder(extractor, fake_dir, cache_dir, crop)
    record = fid_kid(real, fake, kid_subsets, kid_subset_size, seed=seed)
    if min(len(real), len(fake)) > pr_k:
        record.update(balanced_precision_recall(real, fake, k=pr_k, repeats=pr_repeats, seed=seed))
    else:
        record.update(precision=None, recall=None, pr_k=pr_k)
    real_u8, _ = folder_arrays(folder_images(real_dir), swd_size, crop)
    fake_u8, _ = folder_arrays(folder_images(fake_dir), swd_size, crop)
    record.update(swd(real_u8, fake_u8, seed=seed))
    record.update(features=extractor.name, distance_name=extractor.distance_name, crop=crop,
                  note=f"{extractor.note}. {READING_NOTE}")
    if real_problems or fake_problems:
        record["problems"] = real_problems + fake_problems
    return record
