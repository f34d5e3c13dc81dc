"""FID and KID at every cWGAN snapshot, class by class and overall.

Real features come from the trainer's own training images (the training split),
so the score never looks at validation or test patients. They are computed once
and cached by fingerprint; each snapshot generates ``metrics.n_generated`` images
per class from fixed latents.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from .features import FeatureExtractor, extractor_from_settings, features_of_arrays
from .score import fid_kid


class FidKidHook:
    def __init__(self, metrics_params, cache_dir: Optional[Path] = None):
        self.cfg = metrics_params
        self.cache_dir = cache_dir
        self._extractor: Optional[FeatureExtractor] = None

    @property
    def extractor(self) -> FeatureExtractor:
        if self._extractor is None:
            self._extractor = extractor_from_settings(self.cfg.features, self.cfg.weights, self.cfg.image_size)
        return self._extractor

    def __call__(self, trainer, snapshot_dir: Path) -> dict:
        from ..gan.generate import sample

        cfg = self.cfg
        generator = trainer.generator_ema or trainer.generator
        real_all, fake_all, record = [], [], {}
        for k, name in enumerate(trainer.class_names):
            real_images = trainer.images[trainer.labels == k]
            if len(real_images) < 2:
                continue
            fake_images = sample(generator, k, cfg.n_generated, seed=trainer.seed + 10_000, latent_dim=trainer.cfg.latent_dim)
            real = features_of_arrays(self.extractor, real_images, self.cache_dir)
            fake = self.extractor(fake_images)
            scores = fid_kid(real, fake, cfg.kid_subsets, cfg.kid_subset_size, seed=trainer.seed)
            record[f"fid_{name}"], record[f"kid_{name}"] = scores["fid"], scores["kid_mean"]
            real_all.append(real)
            fake_all.append(fake)
        overall = fid_kid(np.concatenate(real_all), np.concatenate(fake_all), cfg.kid_subsets, cfg.kid_subset_size,
                          seed=trainer.seed)
        record.update({"fid": overall["fid"], "kid": overall["kid_mean"], "kid_std": overall["kid_std"],
                       "n_real": overall["n_real"], "n_fake": overall["n_fake"], "features": self.extractor.name})
        return record
