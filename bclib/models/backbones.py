"""The backbone registry: which ``keras.applications`` network, with which input preprocessing.

Every model bclib builds takes float32 images in [0, 255]; each backbone's own
preprocessing (:class:`BackbonePreprocess`) sits inside the model, so one input
pipeline serves all of them and a mix-up of conventions cannot happen silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..backend import keras as _keras
from ..errors import UserError
from .efficientnet_lite import FEATURES_LAYER as _LITE_FEATURES
from .efficientnet_lite import PIXEL_MEAN as LITE_PIXEL_MEAN
from .efficientnet_lite import PIXEL_STD as LITE_PIXEL_STD
from .efficientnet_lite import load_lite0_classifier

keras = _keras()
layers = keras.layers
ops = keras.ops

# ImageNet statistics used by the 'caffe' and 'torch' preprocessing modes of keras.applications.
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)


@keras.saving.register_keras_serializable(package="bclib")
class BackbonePreprocess(layers.Layer):
    """keras.applications' ``preprocess_input`` as a layer: 'caffe', 'torch' or 'tf' mode.

    caffe: RGB -> BGR, minus the ImageNet mean (VGG, ResNet); torch: /255, minus mean,
    over std (DenseNet); tf: scaled to [-1, 1] (MobileNet, NASNet, Xception, Inception);
    lite: (x - 127) / 128, EfficientNet-Lite's training normalisation (close to tf, not equal).
    """

    def __init__(self, mode: str, **kwargs):
        super().__init__(**kwargs)
        if mode not in ("caffe", "torch", "tf", "lite"):
            raise ValueError(f"unknown preprocessing mode {mode!r}")
        self.mode = mode

    def call(self, images):
        images = ops.cast(images, self.compute_dtype)
        if self.mode == "tf":
            return images / 127.5 - 1.0
        if self.mode == "lite":
            return (images - LITE_PIXEL_MEAN) / LITE_PIXEL_STD
        if self.mode == "torch":
            return (images / 255.0 - ops.convert_to_tensor(_TORCH_MEAN, self.compute_dtype)) / ops.convert_to_tensor(
                _TORCH_STD, self.compute_dtype)
        return ops.flip(images, axis=-1) - ops.convert_to_tensor(_CAFFE_MEAN_BGR, self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


# What Keras needs to build each backbone named in bclib.catalogue (its entries' ``backbones``);
# everything else about a model (label, kind, feature widths) is the catalogue's. tests/test_catalogue.py
# checks the two agree.
@dataclass(frozen=True)
class Backbone:
    name: str
    constructor: str  # attribute of keras.applications, or a key of BCLIB_BUILT for a network bclib builds
    preprocess: str  # caffe | torch | tf | lite
    min_size: int = 32


BACKBONES = {
    "densenet201": Backbone("densenet201", "DenseNet201", "torch"),
    "nasnetmobile": Backbone("nasnetmobile", "NASNetMobile", "tf"),
    "resnet101": Backbone("resnet101", "ResNet101", "caffe"),
    "resnet50": Backbone("resnet50", "ResNet50", "caffe"),
    "vgg16": Backbone("vgg16", "VGG16", "caffe"),
    "vgg19": Backbone("vgg19", "VGG19", "caffe"),
    "mobilenet": Backbone("mobilenet", "MobileNet", "tf"),
    "xception": Backbone("xception", "Xception", "tf", min_size=71),
    "efficientnet-lite0": Backbone("efficientnet-lite0", "EfficientNetLite0", "lite"),
}


def _lite0_backbone(input_size: int, weights: str):
    """EfficientNet-Lite0 without its classifier; ``imagenet`` weights come from an installed package."""
    classifier = load_lite0_classifier(input_size, weights)
    return keras.Model(classifier.input, classifier.get_layer(_LITE_FEATURES).output)


# Backbones keras.applications does not have, built by bclib (their weights resolve offline).
BCLIB_BUILT = {"EfficientNetLite0": _lite0_backbone}


def _weights_argument(weights: str):
    if weights == "imagenet":
        return "imagenet"
    if weights in ("none", None):
        return None
    path = Path(weights)
    if not path.is_file():
        raise UserError(f"train.weights: '{weights}' is neither 'imagenet', 'none' nor an existing weights file")
    return str(path)


def backbone_model(name: str, input_size: int, weights: str = "imagenet"):
    """A keras.applications backbone without its classifier, input (size, size, 3) preprocessed."""
    if name not in BACKBONES:
        raise UserError(f"unknown backbone '{name}' (known: {', '.join(BACKBONES)})")
    spec = BACKBONES[name]
    if input_size < spec.min_size:
        raise UserError(f"{name} needs inputs of at least {spec.min_size} px, got {input_size}")
    if spec.constructor in BCLIB_BUILT:
        model = BCLIB_BUILT[spec.constructor](input_size, weights)
        model.name = name
        return model
    constructor = getattr(keras.applications, spec.constructor)
    try:
        model = constructor(include_top=False, weights=_weights_argument(weights),
                            input_shape=(input_size, input_size, 3))
    except Exception as exc:
        if weights == "imagenet":
            raise UserError(f"ImageNet weights for {name} are not available (no network?); "
                            "use train.weights: none (untrained) or a local weights file") from exc
        raise
    model.name = name
    return model
