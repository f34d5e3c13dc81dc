"""Building (or reusing) the frozen trunk of a run.

The last frozen trunk built in this process is reused by the next run with the
same trunk: notebooks train several variants in a row, and building,
calibrating and tracing the three-backbone trunk again costs about half a
minute on a CPU.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from ..data.index import frame_content_key
from ..data.pipeline import make_dataset
from ..models import build_trunk, calibrate_untrained_batchnorm

CALIBRATION_IMAGES = 64  # training images that set an untrained trunk's BatchNorm statistics
_TRUNKS: dict = {}


def trunk_identity(cfg, model_name: str, seed: int, calibration_frame: pd.DataFrame, stain=None) -> str:
    """Names the trunk's weights: an untrained trunk is a different random network for every seed,
    calibrated on this split's training images (stain-normalised onto ``stain`` if given); a pretrained
    one is the same for every run."""
    weights_id = cfg.weights if cfg.weights in ("imagenet", "none") else hashlib.sha256(
        Path(cfg.weights).read_bytes()).hexdigest()[:12]
    return f"{model_name}-{weights_id}-{cfg.image_size}" + (
        f"-seed{seed}-cal{frame_content_key(calibration_frame)}" + (f"-stain{stain.key}" if stain else "")
        if cfg.weights == "none" else "")


def prepare_trunk(cfg, model_name: str, trunk_id: str, calibration_frame: pd.DataFrame, strategy, stain=None):
    """The run's frozen trunk: reused from the previous run in this process when identical, else built."""
    reusable = cfg.fine_tune_epochs == 0 and cfg.distribution == "none"  # fine-tuning changes the trunk
    trunk = _TRUNKS.get(trunk_id) if reusable else None
    if trunk is not None:
        return trunk
    with strategy.scope():  # variables are mirrored on every replica under MirroredStrategy
        trunk = build_trunk(model_name, cfg.image_size, cfg.weights)
    if cfg.weights == "none":
        calibrate_untrained_batchnorm(trunk, next(iter(make_dataset(
            calibration_frame, cfg.image_size, CALIBRATION_IMAGES, cache=False, label_column=None, stain=stain))))
    _TRUNKS.clear()  # one trunk kept: the fusion trunk alone holds ~70M weights
    if reusable:
        _TRUNKS[trunk_id] = trunk
    return trunk
