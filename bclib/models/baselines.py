"""Single-backbone baselines: frozen backbone, global average pooling, the shared head."""

from __future__ import annotations

from ..backend import keras as _keras

keras = _keras()
layers = keras.layers
ops = keras.ops
from .backbones import BACKBONES, BackbonePreprocess, backbone_model
from .head import image_input, classification_head, compose


def baseline_trunk(name: str, input_size: int, weights: str = "imagenet"):
    """The frozen part of a baseline: its backbone's preprocessing, the backbone, global average pooling."""
    backbone = backbone_model(name, input_size, weights)
    backbone.trainable = False
    image = image_input(input_size)
    x = BackbonePreprocess(BACKBONES[name].preprocess, name=f"{name}_preprocess")(image)
    features = layers.GlobalAveragePooling2D(name="gap")(backbone(x, training=False))
    trunk = keras.Model(image, features, name="trunk")
    trunk.trainable = False
    return trunk


def baseline_top(trunk, num_classes: int, l2: float = 1e-4):
    """The trainable part of a baseline: the shared head on the pooled features."""
    top_input = keras.Input(trunk.output.shape[1:], name="trunk_features")
    return keras.Model(top_input, classification_head(top_input, num_classes, l2), name="top")


def build_baseline(name: str, num_classes: int, input_size: int, weights: str = "imagenet", l2: float = 1e-4):
    """Frozen backbone -> global average pooling -> the shared head."""
    trunk = baseline_trunk(name, input_size, weights)
    return compose(trunk, baseline_top(trunk, num_classes, l2), f"baseline_{name}")
