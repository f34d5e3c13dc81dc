"""FID, KID, precision/recall and SWD at every cWGAN snapshot, class by class and pooled.

Real features come from the trainer's own training images (the training split;
their centre squares when the trainer crops, see ``gan.crop``), so the score never
looks at validation or test patients. They are computed once and cached by
fingerprint; each snapshot generates ``metrics.n_generated`` images per class from
fixed latents, **a different latent stream for every class**, so the pooled scores
below count independent samples.

* Per class ``c`` (the numbers the sweeps rank on): the class's real training
  images against generated images *of that class*: ``fid_c``, ``kid_c``,
  ``kid_std_c``, ``precision_c``, ``recall_c`` (and their ``_std``), ``swd_c``,
  ``n_real_c``, ``n_fake_c``. With magnification conditioning the generated images
  of a class are spread over the magnifications in the class's training proportions.
* Precision and recall are computed on equal-size sets (the larger subsampled to the
  smaller, ``metrics.pr_repeats`` times; mean and standard deviation, ``pr_n_c``
  images per set): k-NN radii depend on a set's size (see
  :func:`bclib.metrics.manifold.balanced_precision_recall`).
* ``swd_c``: the sliced Wasserstein distance on Laplacian-pyramid patches (x 10^3,
  :mod:`bclib.metrics.swd`), in pixels, needing no pretrained network: the score to
  read when the Inception features are untrained (``metrics.weights: none``).
* ``fid_class_mean`` / ``kid_class_mean``: the mean over classes.
* Pooled (``fid``, ``kid``, ``precision``, ``recall``, ``swd``, ``n_real``, ``n_fake``): all
  real training images against generated images **in the same class proportions** (the
  largest class uses all its ``n_generated`` images, the others fewer), so that the
  pooled score does not compare a 30/70 real mixture with a 50/50 generated one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..metrics.features import FeatureExtractor, extractor_from_settings, features_of_arrays
from ..metrics.manifold import balanced_precision_recall
from ..metrics.score import fid_kid
from ..metrics.swd import swd_or_none

PR_KEYS = ("precision", "recall", "precision_std", "recall_std", "pr_n")


def _pr(cfg, real, fake, seed: int) -> dict:
    if not getattr(cfg, "precision_recall", True) or min(len(real), len(fake)) <= cfg.pr_k:
        return {key: None for key in PR_KEYS}
    result = balanced_precision_recall(real, fake, k=cfg.pr_k, repeats=getattr(cfg, "pr_repeats", 10), seed=seed)
    return {key: result[key] for key in PR_KEYS}


def _swd(cfg, images, rows: np.ndarray, fake_u8, seed: int) -> Optional[float]:
    """SWD of real rows ``rows`` of ``images`` against ``fake_u8``; the reals subsampled to as many as
    there are fakes (memory: descriptors of both sets are held, one pyramid level at a time)."""
    if not getattr(cfg, "swd", True):
        return None
    if len(rows) > len(fake_u8):
        rows = np.sort(np.random.default_rng(seed).choice(rows, len(fake_u8), replace=False))
    result = swd_or_none(images.view(rows), fake_u8, patches_per_image=getattr(cfg, "swd_patches", 128), seed=seed)
    return None if result is None else result["swd"]


def _pooled_fakes(fakes: list, shares: np.ndarray, n_generated: int) -> tuple[np.ndarray, list]:
    """Generated images (or features) of each class in the real class proportions (the largest class all)."""
    take = np.maximum(2, np.floor(n_generated * shares / shares.max())).astype(int)
    return np.concatenate([f[:t] for f, t in zip(fakes, take)]), list(take)


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
        """n images of one class from fixed latents: each class (and each of its conditions) its own stream."""
        from .generate import sample

        generator = trainer.generator_ema or trainer.generator
        conditions = trainer.class_conditions(class_index, n) if hasattr(trainer, "class_conditions") \
            else [(class_index, n)]
        return np.concatenate([sample(generator, condition, count, seed=trainer.seed + 10_000 + 1_000 * class_index + j,
                                      latent_dim=trainer.cfg.latent_dim)
                               for j, (condition, count) in enumerate(conditions)])

    def _class_scores(self, trainer, name: str, rows, fake_images) -> tuple[dict, np.ndarray, np.ndarray]:
        cfg = self.cfg
        real = features_of_arrays(self.extractor, trainer.images.view(rows), self.cache_dir)  # rows on disk
        fake = self.extractor(fake_images)
        scores = fid_kid(real, fake, cfg.kid_subsets, cfg.kid_subset_size, seed=trainer.seed)
        pr = _pr(cfg, real, fake, trainer.seed)
        record = {f"fid_{name}": scores["fid"], f"kid_{name}": scores["kid"], f"kid_std_{name}": scores["kid_std"],
                  **{f"{key}_{name}": value for key, value in pr.items()},
                  f"swd_{name}": _swd(cfg, trainer.images, rows, fake_images, trainer.seed),
                  f"n_real_{name}": scores["n_real"], f"n_fake_{name}": scores["n_fake"]}
        return record, real, fake

    def __call__(self, trainer, snapshot_dir: Path) -> dict:
        cfg = self.cfg
        reals, fakes, real_rows, fake_images, names = [], [], [], [], []
        record: dict = {}
        for k, name in enumerate(trainer.class_names):
            rows = np.flatnonzero(trainer.labels == k)
            if len(rows) < 2:
                continue
            images = self.fake_images(trainer, k, cfg.n_generated)
            scores, real, fake = self._class_scores(trainer, name, rows, images)
            record.update(scores)
            reals.append(real), fakes.append(fake), real_rows.append(rows), fake_images.append(images)
            names.append(name)
        shares = np.array([len(r) for r in reals], dtype=np.float64)
        pooled_fake, take = _pooled_fakes(fakes, shares, cfg.n_generated)
        pooled_real = np.concatenate(reals)
        overall = fid_kid(pooled_real, pooled_fake, cfg.kid_subsets, cfg.kid_subset_size, seed=trainer.seed)
        pr = _pr(cfg, pooled_real, pooled_fake, trainer.seed)
        pooled_swd = _swd(cfg, trainer.images, np.concatenate(real_rows),
                          np.concatenate([f[:t] for f, t in zip(fake_images, take)]), trainer.seed)
        record.update({
            "fid": overall["fid"], "kid": overall["kid"], "kid_std": overall["kid_std"], **pr, "swd": pooled_swd,
            "n_real": overall["n_real"], "n_fake": overall["n_fake"],
            "fid_class_mean": float(np.mean([record[f"fid_{c}"] for c in names])),
            "kid_class_mean": float(np.mean([record[f"kid_{c}"] for c in names])),
            "classes": names, "pr_k": cfg.pr_k, "pr_repeats": getattr(cfg, "pr_repeats", 10),
            "features": self.extractor.name, "distance_name": self.extractor.distance_name,
        })
        return record
