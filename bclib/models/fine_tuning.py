"""The second training stage: which backbone layers are unfrozen (the rule is the catalogue entry's)."""

from __future__ import annotations

from .. import catalogue
from ..backend import keras as _keras

keras = _keras()
layers = keras.layers


def unfreeze_for_fine_tuning(model, name: str, baseline_frozen_fraction: float = 0.7) -> None:
    """Second stage: unfreeze the backbones except their first layers; BatchNorm stays in inference mode.

    Fusion models (``proposed``, ``proposed-gap``): DenseNet-201's first 200 and ResNet-101's
    first 50 layers stay frozen (the paper); NASNetMobile and VGG-16 stay frozen.
    Baselines: the first 70% of the layers stay frozen. (:attr:`bclib.catalogue.ModelEntry.fine_tune_frozen`.)
    """
    spec = catalogue.entry(name)
    trunk = model.get_layer("trunk")
    trunk.trainable = True
    for sub in trunk.layers:
        if not isinstance(sub, keras.Model):
            continue
        keep = spec.layers_kept_frozen(spec.backbone_of(sub.name), len(sub.layers), baseline_frozen_fraction)
        for i, layer in enumerate(sub.layers):
            layer.trainable = i >= keep and not isinstance(layer, layers.BatchNormalization)
