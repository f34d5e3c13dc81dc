"""Classifiers: the backbone registry, the baseline models and the multi-scale fusion model.

``build_model(name, num_classes, input_size, weights)`` returns an uncompiled
Keras model for any name in :mod:`bclib.catalogue` (the baselines, ``"proposed"``, ``"proposed-gap"``);
:data:`BACKBONES` holds what Keras needs to build each backbone those models use. Every model
takes float32 images in [0, 255] and applies its backbone's own preprocessing
inside itself (:class:`BackbonePreprocess`), so one input pipeline serves all.

Each model is built as ``top(trunk(image))``: the **trunk** holds the frozen
pretrained parts (with their preprocessing), the **top** everything that trains
in the first stage. The trainer uses this split to compute trunk outputs once
per image and train the top on the cached outputs (see ``bclib.train``).

Design choices and departures from the paper: ``docs/model.md``.
"""

from .backbones import BACKBONES, Backbone, BackbonePreprocess, backbone_model
from .baselines import baseline_top, baseline_trunk, build_baseline
from .batchnorm_stats import calibrate_untrained_batchnorm
from .fine_tuning import unfreeze_for_fine_tuning
from .fusion import FINE_TUNE_FROZEN, FUSION_TAPS, build_proposed, proposed_top, proposed_trunk
from .gap_fusion import GAP_BACKBONES, GAP_THIRD_CHOICES, build_proposed_gap, gap_top, gap_trunk
from .head import classification_head, compose
from .registry import build_model, build_top, build_trunk, model_label, trunk_and_top

__all__ = [
    "BACKBONES", "Backbone", "BackbonePreprocess", "backbone_model", "baseline_top", "baseline_trunk",
    "build_baseline", "calibrate_untrained_batchnorm", "unfreeze_for_fine_tuning", "FINE_TUNE_FROZEN",
    "FUSION_TAPS", "build_proposed", "proposed_top", "proposed_trunk", "GAP_BACKBONES",
    "GAP_THIRD_CHOICES", "build_proposed_gap", "gap_top", "gap_trunk", "classification_head", "compose",
    "build_model", "build_top", "build_trunk", "model_label", "trunk_and_top",
]
