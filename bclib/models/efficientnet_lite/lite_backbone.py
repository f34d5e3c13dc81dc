"""EfficientNet-Lite0 in Keras 3: MBConv blocks without squeeze-and-excitation, ReLU6, 'same' padding.

Layer names follow the roles of the PyTorch state dict's tensors (:mod:`.lite_weights` maps one onto
the other), so a weight can be traced from the file to the layer by name. Keras' ``padding="same"``
pads as TensorFlow does (the extra pixel after, not before), which is what the weights were trained
with; the PyTorch port reproduces it with explicit asymmetric padding.
"""

from __future__ import annotations

from ...backend import keras as _keras
from .lite_presets import BN_EPSILON, HEAD_FILTERS, IMAGENET_CLASSES, STAGES, STEM_FILTERS

keras = _keras()
layers = keras.layers

FEATURES_LAYER = "head_relu6"  # the last feature map (stride 32, 1280 channels)


def _bn(x, name):
    return layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name=name)(x)


def _relu6(x, name):
    return layers.ReLU(max_value=6.0, name=name)(x)


def _mbconv(x, index: int, kernel: int, stride: int, expand: int, filters_in: int, filters_out: int):
    name = f"block{index}"
    shortcut = x
    if expand != 1:
        x = layers.Conv2D(filters_in * expand, 1, use_bias=False, name=f"{name}_expand_conv")(x)
        x = _relu6(_bn(x, f"{name}_expand_bn"), f"{name}_expand_relu6")
    x = layers.DepthwiseConv2D(kernel, stride, padding="same", use_bias=False, name=f"{name}_dwconv")(x)
    x = _relu6(_bn(x, f"{name}_dw_bn"), f"{name}_dw_relu6")
    x = layers.Conv2D(filters_out, 1, use_bias=False, name=f"{name}_project_conv")(x)
    x = _bn(x, f"{name}_project_bn")
    if stride == 1 and filters_in == filters_out:  # the residual connection (no drop-connect: frozen or inference)
        x = layers.Add(name=f"{name}_add")([x, shortcut])
    return x


def lite0_features(images):
    """The convolutional part on *normalised* images: stem, 16 MBConv blocks, 1x1 head to 1280 channels."""
    x = layers.Conv2D(STEM_FILTERS, 3, 2, padding="same", use_bias=False, name="stem_conv")(images)
    x = _relu6(_bn(x, "stem_bn"), "stem_relu6")
    index = 0
    for stage in STAGES:
        filters_in, stride = stage.filters_in, stage.stride
        for _ in range(stage.repeats):
            x = _mbconv(x, index, stage.kernel, stride, stage.expand, filters_in, stage.filters_out)
            filters_in, stride, index = stage.filters_out, 1, index + 1
    x = layers.Conv2D(HEAD_FILTERS, 1, use_bias=False, name="head_conv")(x)
    return _relu6(_bn(x, "head_bn"), FEATURES_LAYER)


def lite0_classifier(input_size: int):
    """Normalised images -> ImageNet logits (1000 classes): the form the weights file describes whole."""
    images = keras.Input((input_size, input_size, 3), name="normalised_image")
    features = lite0_features(images)
    pooled = layers.GlobalAveragePooling2D(name="avg_pool")(features)
    logits = layers.Dense(IMAGENET_CLASSES, name="predictions")(pooled)
    return keras.Model(images, logits, name="efficientnet_lite0_classifier")
