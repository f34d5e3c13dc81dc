"""The paper's Table 6 read literally (``proposed-gap``): three backbones, each globally average pooled,
concatenated, then the shared head. The other reading, with MSCF modules on tapped layers, is
``bclib.models.fusion``; why there are two: ``docs/model.md``."""

from __future__ import annotations

from .. import catalogue
from ..backend import keras as _keras
from ..errors import UserError
from .baselines import baseline_top, frozen_trunk, pooled_backbone
from .head import compose, image_input

keras = _keras()
layers = keras.layers

# Table 6's backbone rows in order. Its "ResNet 101" row (7x7x512, 14,714,688 parameters) is
# VGG-16 without its top, so VGG-16 is the default third backbone; ResNet-101 can be asked for.
# The catalogue's entry names the default three.
GAP_BACKBONES = catalogue.entry("proposed-gap").backbones[:2]
GAP_THIRD_CHOICES = ("vgg16", "resnet101")
GAP_DEFAULT_THIRD = catalogue.entry("proposed-gap").backbones[2]


def gap_trunk(input_size: int, weights: str = "imagenet", third: str = GAP_DEFAULT_THIRD):
    """The frozen part: each backbone on its own preprocessing, globally average pooled, all concatenated
    (1,920 + 1,056 + 512 = 3,488 features with VGG-16; 1,920 + 1,056 + 2,048 = 5,024 with ResNet-101)."""
    if third not in GAP_THIRD_CHOICES:
        raise UserError(f"proposed-gap: third backbone must be one of {', '.join(GAP_THIRD_CHOICES)}, got {third!r}")
    if input_size < 32 or input_size % 32:
        raise UserError(f"the proposed-gap model needs an input size that is a multiple of 32, got {input_size}")
    image = image_input(input_size)
    pooled = [pooled_backbone(name, image, input_size, weights, pool_name=f"{name}_gap")
              for name in GAP_BACKBONES + (third,)]
    return frozen_trunk(image, layers.Concatenate(name="gap_concat")(pooled))


def gap_top(trunk, num_classes: int, l2: float = 1e-4):
    """The trainable part: Table 6's head (dropout, BN, Dense 128, dropout, BN, softmax) on the concatenation."""
    return baseline_top(trunk, num_classes, l2, input_name="gap_features")


def build_proposed_gap(num_classes: int, input_size: int, weights: str = "imagenet", l2: float = 1e-4,
                       third: str = GAP_DEFAULT_THIRD):
    """DenseNet-201 + NASNetMobile + VGG-16 (or ResNet-101), each pooled, concatenated -> the shared head."""
    trunk = gap_trunk(input_size, weights, third)
    return compose(trunk, gap_top(trunk, num_classes, l2), "proposed_gap")
