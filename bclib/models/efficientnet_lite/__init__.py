"""EfficientNet-Lite0 (Keras 3) with ImageNet weights that install from the package index: the one
pretrained backbone bclib can run with no network (docs/decisions.md, "Pretrained weights offline")."""

from .lite_backbone import FEATURES_LAYER, lite0_classifier, lite0_features
from .lite_presets import IMAGENET, INPUT_SIZE, PIXEL_MEAN, PIXEL_STD, STAGES
from .lite_weights import converted_file, load_lite0_classifier, packaged_file, source_file, weights_identity

__all__ = ["FEATURES_LAYER", "lite0_classifier", "lite0_features", "IMAGENET", "INPUT_SIZE", "PIXEL_MEAN",
           "PIXEL_STD", "STAGES", "converted_file", "load_lite0_classifier", "packaged_file", "source_file",
           "weights_identity"]
