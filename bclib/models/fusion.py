"""The proposed multi-scale fusion model: three tapped backbones, progressive MSCF modules,
multi-layer feature fusion and chain parallel pooling (design notes: ``docs/model.md``)."""

from __future__ import annotations

from .. import catalogue
from ..backend import keras as _keras
from ..errors import UserError
from .backbones import BACKBONES, BackbonePreprocess, backbone_model
from .head import classification_head, compose, image_input

keras = _keras()
layers = keras.layers

# The proposed model's taps: (backbone, layer name, role); strides 8, 16 and 32.
FUSION_TAPS = (
    ("nasnetmobile", "normal_concat_3", "shallow"),
    ("resnet101", "conv4_block23_out", "mid"),
    ("densenet201", "relu", "deep"),
)
# Layers kept frozen in the fine-tuning stage (the paper: first 200 of DenseNet-201, first 50 of ResNet-101);
# the rule is the catalogue entry's, kept here under its old name.
FINE_TUNE_FROZEN = dict(catalogue.entry("proposed").fine_tune_frozen)



def mscf_module(x, channels: int, name: str, rates=(1, 2, 4)):
    """Multiscale Contextual Feature module: parallel dilated 3x3 convolutions, fused, plus a residual."""
    x = layers.Conv2D(channels, 1, padding="same", activation="relu", kernel_initializer="he_normal",
                      name=f"{name}_reduce")(x)
    branches = [layers.Conv2D(channels, 3, padding="same", dilation_rate=r, activation="relu",
                              kernel_initializer="he_normal", name=f"{name}_dilated{r}")(x) for r in rates]
    fused = layers.Conv2D(channels, 1, padding="same", kernel_initializer="he_normal", name=f"{name}_fuse")(
        layers.Concatenate(name=f"{name}_concat")(branches))
    return layers.Activation("relu", name=f"{name}_out")(layers.Add(name=f"{name}_residual")([x, fused]))


def _match_size(x, reference, name: str):
    """Average-pool ``x`` down to ``reference``'s spatial size (sizes differ by powers of two)."""
    factor = int(x.shape[1]) // int(reference.shape[1])
    return x if factor <= 1 else layers.AveragePooling2D(factor, name=name)(x)


def chain_parallel_pooling(x, channels: int, name: str = "cpp", chains=(1, 2, 3)):
    """Chain Parallel Pooling: parallel branches of chained (3x3 max-pool, 1x1 conv) blocks, each globally pooled."""
    outputs = [layers.GlobalAveragePooling2D(name=f"{name}_gap0")(x)]
    for length in chains:
        y = x
        for step in range(length):
            y = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_b{length}_pool{step}")(y)
            y = layers.Conv2D(channels, 1, activation="relu", kernel_initializer="he_normal",
                              name=f"{name}_b{length}_conv{step}")(y)
        outputs.append(layers.GlobalAveragePooling2D(name=f"{name}_gap{length}")(y))
    return layers.Concatenate(name=f"{name}_concat")(outputs)


def proposed_trunk(input_size: int, weights: str = "imagenet"):
    """The frozen part of the fusion model: three backbones, each with its own preprocessing, tapped at one depth."""
    if input_size < 32 or input_size % 32:
        raise UserError(f"the proposed model needs an input size that is a multiple of 32, got {input_size}")
    image = image_input(input_size)
    taps = []
    for backbone_name, layer_name, role in FUSION_TAPS:
        backbone = backbone_model(backbone_name, input_size, weights)
        tapped = keras.Model(backbone.input, backbone.get_layer(layer_name).output, name=f"{backbone_name}_{role}")
        tapped.trainable = False
        x = BackbonePreprocess(BACKBONES[backbone_name].preprocess, name=f"{backbone_name}_preprocess")(image)
        taps.append(tapped(x, training=False))
    trunk = keras.Model(image, taps, name="trunk")
    trunk.trainable = False
    return trunk


def proposed_top(trunk, num_classes: int, l2: float = 1e-4, channels: int = 128):
    """Progressive MSCF modules -> multi-layer feature fusion -> chain parallel pooling -> the shared head."""
    top_inputs = [keras.Input(t.shape[1:], name=f"tap_{role}") for t, (_, _, role) in zip(trunk.outputs, FUSION_TAPS)]
    shallow, mid, deep = top_inputs
    m1 = mscf_module(shallow, channels, "mscf1")
    m2 = mscf_module(layers.Concatenate(name="merge2")([_match_size(m1, mid, "down1to2"), mid]), channels, "mscf2")
    m3 = mscf_module(layers.Concatenate(name="merge3")([_match_size(m2, deep, "down2to3"), deep]), channels, "mscf3")
    pyramid = layers.Concatenate(name="mlff_pyramid")(
        [_match_size(m1, m3, "mlff_down1"), _match_size(m2, m3, "mlff_down2"), m3])
    pooled = chain_parallel_pooling(pyramid, channels)
    return keras.Model(top_inputs, classification_head(pooled, num_classes, l2), name="top")


def build_proposed(num_classes: int, input_size: int, weights: str = "imagenet", l2: float = 1e-4,
                   channels: int = 128):
    """NASNetMobile (shallow) + ResNet-101 (mid) + DenseNet-201 (deep) taps -> progressive MSCF ->
    multi-layer feature fusion -> chain parallel pooling -> the shared head."""
    trunk = proposed_trunk(input_size, weights)
    return compose(trunk, proposed_top(trunk, num_classes, l2, channels), "proposed")
