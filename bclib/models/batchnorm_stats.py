"""BatchNorm statistics for untrained (random-weight) trunks, the offline stand-in for ImageNet weights."""

from __future__ import annotations

from ..backend import keras as _keras

keras = _keras()
layers = keras.layers


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
