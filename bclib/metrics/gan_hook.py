"""FID, KID and precision/recall at every cWGAN snapshot, class by class and pooled.

Real features come from the trainer's own training images (the training split),
so the score never looks at validation or test patients. They are computed once
and cached by fingerprint; each snapshot generates ``metrics.n_generated`` images
per class from fixed latents.

* Per class ``c`` (the numbers the sweeps rank on): the class's real training
  images against generated images *of that class*: ``fid_c``, ``kid_c``,
  ``kid_std_c``, ``precision_c``, ``recall_c``, ``n_real_c``, ``n_fake_c``. With
  magnification conditioning the generated images of a class are spread over the
  magnifications in the class's training proportions.
* ``fid_class_mean`` / ``kid_class_mean``: the mean over classes.
* Pooled (``fid``, ``kid``, ``precision``, ``recall``, ``n_real``, ``n_fake``): all real
  training images against generated images **in the same class proportions** (the
  largest class uses all its ``n_generated`` images, the others fewer), so that the
  pooled score does not compare a 30/70 real mixture with a 50/50 generated one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from .features import FeatureExtractor, extractor_from_settings, features_of_arrays
from .manifold import precision_recall
from .score import fid_kid


def _pr(cfg, real, fake) -> dict:
    if not getattr(cfg, "precision_recall", True) or min(len(real), len(fake)) <= cfg.pr_k:
        return {"precision": None, "recall": None}
    return precision_recall(real, fake, k=cfg.pr_k)


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

    def fake_images(self, trainer, class_index: int, n: int) -> np.ndarray:
        from ..gan.generate import sample

        generator = trainer.generator_ema or trainer.generator
        conditions = trainer.class_conditions(class_index, n) if hasattr(trainer, "class_conditions") \
            else [(class_index, n)]
        return np.concatenate([sample(generator, condition, count, seed=trainer.seed + 10_000 + j,
                                      latent_dim=trainer.cfg.latent_dim)
                               for j, (condition, count) in enumerate(conditions)])

    def __call__(self, trainer, snapshot_dir: Path) -> dict:
        cfg = self.cfg
        reals, fakes, names = [], [], []
        record: dict = {}
        for k, name in enumerate(trainer.class_names):
            real_images = trainer.images.view(np.flatnonzero(trainer.labels == k))  # rows on disk
            if len(real_images) < 2:
                continue
            real = features_of_arrays(self.extractor, real_images, self.cache_dir)
            fake = self.extractor(self.fake_images(trainer, k, cfg.n_generated))
            scores = fid_kid(real, fake, cfg.kid_subsets, cfg.kid_subset_size, seed=trainer.seed)
            pr = _pr(cfg, real, fake)
            record.update({f"fid_{name}": scores["fid"], f"kid_{name}": scores["kid_mean"],
                           f"kid_std_{name}": scores["kid_std"], f"precision_{name}": pr["precision"],
                           f"recall_{name}": pr["recall"], f"n_real_{name}": scores["n_real"],
                           f"n_fake_{name}": scores["n_fake"]})
            reals.append(real)
            fakes.append(fake)
            names.append(name)
        shares = np.array([len(r) for r in reals], dtype=np.float64)
        take = np.maximum(2, np.floor(cfg.n_generated * shares / shares.max())).astype(int)
        pooled_fake = np.concatenate([f[:t] for f, t in zip(fakes, take)])
        pooled_real = np.concatenate(reals)
        overall = fid_kid(pooled_real, pooled_fake, cfg.kid_subsets, cfg.kid_subset_size, seed=trainer.seed)
        pr = _pr(cfg, pooled_real, pooled_fake)
        record.update({
            "fid": overall["fid"], "kid": overall["kid_mean"], "kid_std": overall["kid_std"],
            "precision": pr["precision"], "recall": pr["recall"],
            "n_real": overall["n_real"], "n_fake": overall["n_fake"],
            "fid_class_mean": float(np.mean([record[f"fid_{c}"] for c in names])),
            "kid_class_mean": float(np.mean([record[f"kid_{c}"] for c in names])),
            "classes": names, "pr_k": cfg.pr_k, "features": self.extractor.name,
        })
        return record
