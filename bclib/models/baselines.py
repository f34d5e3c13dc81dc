"""Single-backbone baselines: frozen backbone, global average pooling, the shared head."""

from __future__ import annotations

from ..backend import keras as _keras
from .backbones import BACKBONES, BackbonePreprocess, backbone_model
from .head import classification_head, compose, image_input

keras = _keras()
layers = keras.layers


def pooled_backbone(name: str, image, input_size: int, weights: str = "imagenet", pool_name: str = "gap"):
    """A frozen backbone on its own preprocessing of ``image``, globally average pooled: the features' tensor."""
    backbone = backbone_model(name, input_size, weights)
    backbone.trainable = False
    x = BackbonePreprocess(BACKBONES[name].preprocess, name=f"{name}_preprocess")(image)
    return layers.GlobalAveragePooling2D(name=pool_name)(backbone(x, training=False))


def frozen_trunk(image, features):
    trunk = keras.Model(image, features, name="trunk")
    trunk.trainable = False
    return trunk


def baseline_trunk(name: str, input_size: int, weights: str = "imagenet"):
    """The frozen part of a baseline: its backbone's preprocessing, the backbone, global average pooling."""
    image = image_input(input_size)
    return frozen_trunk(image, pooled_backbone(name, image, input_size, weights))


def baseline_top(trunk, num_classes: int, l2: float = 1e-4, input_name: str = "trunk_features"):
    """The trainable part of a baseline (and of ``proposed-gap``): the shared head on the pooled features."""
    top_input = keras.Input(trunk.output.shape[1:], name=input_name)
    return keras.Model(top_input, classification_head(top_input, num_classes, l2), name="top")


def build_baseline(name: str, num_classes: int, input_size: int, weights: str = "imagenet", l2: float = 1e-4):
    """Frozen backbone -> global average pooling -> the shared head."""
    trunk = baseline_trunk(name, input_size, weights)
    return compose(trunk, baseline_top(trunk, num_classes, l2), f"baseline_{name}")
