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

from .. import catalogue
from ..data.index import frame_content_key
from ..data.pipeline import make_dataset
from ..models import build_trunk, calibrate_untrained_batchnorm
from ..models.encoders import weights_identity

CALIBRATION_IMAGES = 64  # training images that set an untrained trunk's BatchNorm statistics
_TRUNKS: dict = {}


def model_weights(cfg, model_name: str) -> str:
    """The weights model ``model_name`` is built with: ``train.weights``, except for a foundation encoder
    listed in ``train.encoder_weights`` (its checkpoint folder)."""
    spec = catalogue.entry(model_name)
    return cfg.encoder_weights.get(spec.backbones[0], cfg.weights) if spec.encoder else cfg.weights


def _weights_id(cfg, model_name: str) -> str:
    weights = model_weights(cfg, model_name)
    if catalogue.entry(model_name).encoder:
        return weights_identity(catalogue.entry(model_name).backbones[0], weights)
    return weights if weights in ("imagenet", "none") else hashlib.sha256(Path(weights).read_bytes()).hexdigest()[:12]


def trunk_identity(cfg, model_name: str, seed: int, calibration_frame: pd.DataFrame, stain=None,
                   geometry: str = "squash") -> str:
    """Names the trunk's weights: an untrained trunk is a different random network for every seed,
    calibrated on this split's training images (stain-normalised onto ``stain`` if given, made square by
    ``geometry``); a pretrained one is the same for every run (an encoder's checkpoint is named by its
    contents)."""
    weights_id = _weights_id(cfg, model_name)
    return f"{model_name}-{weights_id}-{cfg.image_size}" + (
        f"-seed{seed}-cal{frame_content_key(calibration_frame)}" + (f"-stain{stain.key}" if stain else "")
        + (f"-{geometry}" if geometry != "squash" else "")
        if weights_id == "none" else "")


def prepare_trunk(cfg, model_name: str, trunk_id: str, calibration_frame: pd.DataFrame, strategy, stain=None,
                  geometry: str = "squash"):
    """The run's frozen trunk: reused from the previous run in this process when identical, else built."""
    reusable = cfg.fine_tune_epochs == 0 and cfg.distribution == "none"  # fine-tuning changes the trunk
    trunk = _TRUNKS.get(trunk_id) if reusable else None
    if trunk is not None:
        return trunk
    with strategy.scope():  # variables are mirrored on every replica under MirroredStrategy
        trunk = build_trunk(model_name, cfg.image_size, model_weights(cfg, model_name))
    if model_weights(cfg, model_name) == "none" and not catalogue.entry(model_name).encoder:  # ViTs: LayerNorm
        calibrate_untrained_batchnorm(trunk, next(iter(make_dataset(
            calibration_frame, cfg.image_size, CALIBRATION_IMAGES, cache=False, label_column=None, stain=stain,
            geometry=geometry))))
    _TRUNKS.clear()  # one trunk kept: the fusion trunk alone holds ~70M weights
    if reusable:
        _TRUNKS[trunk_id] = trunk
    return trunk
