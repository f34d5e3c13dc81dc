"""Classifiers: the backbone registry, the baseline models and the multi-scale fusion model.

``build_model(name, num_classes, input_size, weights)`` returns an uncompiled
Keras model for any name in :data:`BACKBONES` or ``"proposed"``. Every model
takes float32 images in [0, 255] and applies its backbone's own preprocessing
inside itself (:class:`BackbonePreprocess`), so one input pipeline serves all.

Each model is built as ``top(trunk(image))``: the **trunk** holds the frozen
pretrained parts (with their preprocessing), the **top** everything that trains
in the first stage. The trainer uses this split to compute trunk outputs once
per image and train the top on the cached outputs (see ``bclib.train``).

Design choices and departures from the paper: ``docs/model.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..backend import keras as _keras
from ..errors import UserError

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
    over std (DenseNet); tf: scaled to [-1, 1] (MobileNet, NASNet, Xception, Inception).
    """

    def __init__(self, mode: str, **kwargs):
        super().__init__(**kwargs)
        if mode not in ("caffe", "torch", "tf"):
            raise ValueError(f"unknown preprocessing mode {mode!r}")
        self.mode = mode

    def call(self, images):
        images = ops.cast(images, self.compute_dtype)
        if self.mode == "tf":
            return images / 127.5 - 1.0
        if self.mode == "torch":
            return (images / 255.0 - ops.convert_to_tensor(_TORCH_MEAN, self.compute_dtype)) / ops.convert_to_tensor(
                _TORCH_STD, self.compute_dtype)
        return ops.flip(images, axis=-1) - ops.convert_to_tensor(_CAFFE_MEAN_BGR, self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@dataclass(frozen=True)
class Backbone:
    name: str
    constructor: str  # attribute of keras.applications
    preprocess: str  # caffe | torch | tf
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
}
MODEL_NAMES = list(BACKBONES) + ["proposed"]

# The proposed model's taps: (backbone, layer name, role); strides 8, 16 and 32.
FUSION_TAPS = (
    ("nasnetmobile", "normal_concat_3", "shallow"),
    ("resnet101", "conv4_block23_out", "mid"),
    ("densenet201", "relu", "deep"),
)
# Layers kept frozen in the fine-tuning stage (the paper: first 200 of DenseNet-201, first 50 of ResNet-101).
FINE_TUNE_FROZEN = {"densenet201": 200, "resnet101": 50}


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
        raise UserError(f"unknown model '{name}' (known: {', '.join(MODEL_NAMES)})")
    spec = BACKBONES[name]
    if input_size < spec.min_size:
        raise UserError(f"{name} needs inputs of at least {spec.min_size} px, got {input_size}")
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


def classification_head(x, num_classes: int, l2: float = 1e-4, name: str = "head"):
    """Dropout 0.2 -> BN -> Dense 128 ReLU (He init, L2) -> Dropout 0.4 -> BN -> softmax (the paper's Tables 6, 10)."""
    regulariser = keras.regularizers.L2(l2) if l2 > 0 else None
    x = layers.Dropout(0.2, name=f"{name}_dropout1")(x)
    x = layers.BatchNormalization(name=f"{name}_bn1")(x)
    x = layers.Dense(128, activation="relu", kernel_initializer="he_normal", kernel_regularizer=regulariser,
                     name=f"{name}_dense")(x)
    x = layers.Dropout(0.4, name=f"{name}_dropout2")(x)
    x = layers.BatchNormalization(name=f"{name}_bn2")(x)
    return layers.Dense(num_classes, activation="softmax", dtype="float32", name="probabilities")(x)


def _input(input_size: int):
    return keras.Input((input_size, input_size, 3), name="image")


def baseline_trunk(name: str, input_size: int, weights: str = "imagenet"):
    """The frozen part of a baseline: its backbone's preprocessing, the backbone, global average pooling."""
    backbone = backbone_model(name, input_size, weights)
    backbone.trainable = False
    image = _input(input_size)
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


def compose(trunk, top, name: str):
    """The whole model, ``top(trunk(image))``, from its two parts."""
    image = _input(int(trunk.input.shape[1]))
    return keras.Model(image, top(trunk(image)), name=name)


# ---------------------------------------------------------------------------
# The proposed multi-scale fusion model


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
    image = _input(input_size)
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


def build_trunk(name: str, input_size: int, weights: str = "imagenet"):
    """The frozen part of any registry model or ``proposed``."""
    return proposed_trunk(input_size, weights) if name == "proposed" else baseline_trunk(name, input_size, weights)


def build_top(name: str, trunk, num_classes: int, l2: float = 1e-4, fusion_channels: int = 128):
    """The part of model ``name`` that trains in the first stage, sized for ``trunk``'s outputs."""
    return proposed_top(trunk, num_classes, l2, fusion_channels) if name == "proposed" else \
        baseline_top(trunk, num_classes, l2)


def build_model(name: str, num_classes: int, input_size: int, weights: str = "imagenet", l2: float = 1e-4,
                fusion_channels: int = 128):
    """An uncompiled classifier: a registry backbone with the shared head, or the proposed fusion model."""
    trunk = build_trunk(name, input_size, weights)
    return compose(trunk, build_top(name, trunk, num_classes, l2, fusion_channels),
                   "proposed" if name == "proposed" else f"baseline_{name}")


def trunk_and_top(model):
    """The frozen feature part and the trainable part of a model built by :func:`build_model`."""
    return model.get_layer("trunk"), model.get_layer("top")


def unfreeze_for_fine_tuning(model, name: str, baseline_frozen_fraction: float = 0.7) -> None:
    """Second stage: unfreeze the backbones except their first layers; BatchNorm stays in inference mode.

    Proposed model: DenseNet-201's first 200 and ResNet-101's first 50 layers stay frozen
    (the paper); NASNetMobile stays frozen. Baselines: the first 70% of the layers stay frozen.
    """
    trunk = model.get_layer("trunk")
    trunk.trainable = True
    for sub in trunk.layers:
        if not isinstance(sub, keras.Model):
            continue
        backbone = sub.name.split("_")[0]
        if name == "proposed":
            keep = FINE_TUNE_FROZEN.get(backbone, len(sub.layers))
        else:
            keep = int(len(sub.layers) * baseline_frozen_fraction)
        for i, layer in enumerate(sub.layers):
            layer.trainable = i >= keep and not isinstance(layer, layers.BatchNormalization)


def _batchnorm_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _batchnorm_layers(layer)
        elif isinstance(layer, layers.BatchNormalization):
            yield layer


def _tf():
    from ..backend import tensorflow

    return tensorflow()


def calibrate_untrained_batchnorm(trunk, images) -> int:
    """Set the BatchNorm statistics of an *untrained* trunk from a batch of training images.

    With random weights and BatchNorm's initial statistics (mean 0, variance 1),
    activations shrink layer after layer (MobileNet's pooled features end near 1e-20),
    leaving nothing for a classifier to learn from. One forward pass in training
    mode with momentum 0 sets each layer's moving mean and variance to the batch's,
    layer by layer, so the random features keep a usable scale. Unsupervised and
    deterministic; never used with pretrained weights. Returns the layers calibrated.
    """
    bn_layers = list(_batchnorm_layers(trunk))
    saved = [(layer.trainable, layer.momentum) for layer in bn_layers]
    trunk.trainable = True
    for layer in bn_layers:
        layer.trainable, layer.momentum = True, 0.0
    # As a compiled graph: run eagerly, DenseNet-201's pass over 64 images held 3.8 GB of
    # intermediate tensors at 96 px; the graph frees each as soon as it is consumed (0.35 GB).
    _tf().function(lambda batch: trunk(batch, training=True))(images)
    for layer, (trainable, momentum) in zip(bn_layers, saved):
        layer.trainable, layer.momentum = trainable, momentum
    trunk.trainable = False
    return len(bn_layers)
