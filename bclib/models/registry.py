"""Building any model in :mod:`bclib.catalogue` by name: dispatched on the entry's kind.

A baseline is its one backbone with the shared head; each fusion model has its own
Keras builders here, keyed by its catalogue name (tests/test_catalogue.py checks the keys).
"""

from __future__ import annotations

from .. import catalogue
from ..errors import UserError
from .baselines import baseline_top, baseline_trunk
from .encoders import encoder_trunk
from .fusion import proposed_top, proposed_trunk
from .gap_fusion import gap_top, gap_trunk
from .head import compose, probe_top

# fusion model -> (trunk(input_size, weights), top(trunk, num_classes, l2, fusion_channels))
FUSION_BUILDERS = {
    "proposed": (proposed_trunk, proposed_top),
    "proposed-gap": (gap_trunk, lambda trunk, num_classes, l2, channels: gap_top(trunk, num_classes, l2)),
}


def _fusion_builders(name: str):
    if name not in FUSION_BUILDERS:
        raise UserError(f"fusion model '{name}' is in the catalogue but has no Keras builder in "
                        "bclib.models.registry.FUSION_BUILDERS")
    return FUSION_BUILDERS[name]


def build_trunk(name: str, input_size: int, weights: str = "imagenet"):
    """The frozen part of any model in the catalogue."""
    spec = catalogue.entry(name)
    if spec.encoder:
        return encoder_trunk(spec.backbones[0], input_size, weights)
    if spec.kind == "baseline":
        return baseline_trunk(spec.backbones[0], input_size, weights)
    return _fusion_builders(name)[0](input_size, weights)


def build_top(name: str, trunk, num_classes: int, l2: float = 1e-4, fusion_channels: int = 128):
    """The part of model ``name`` that trains in the first stage, sized for ``trunk``'s outputs."""
    if catalogue.entry(name).top == "probe":
        return probe_top(trunk, num_classes)
    if catalogue.entry(name).kind == "baseline":
        return baseline_top(trunk, num_classes, l2)
    return _fusion_builders(name)[1](trunk, num_classes, l2, fusion_channels)


def model_label(name: str) -> str:
    """The Keras name of the whole model ``name``: ``proposed``, ``proposed_gap`` or ``baseline_<name>``."""
    return catalogue.entry(name).keras_name


def build_model(name: str, num_classes: int, input_size: int, weights: str = "imagenet", l2: float = 1e-4,
                fusion_channels: int = 128):
    """An uncompiled classifier: a baseline backbone with the shared head, or one of the fusion models."""
    trunk = build_trunk(name, input_size, weights)
    return compose(trunk, build_top(name, trunk, num_classes, l2, fusion_channels), model_label(name))


def trunk_and_top(model):
    """The frozen feature part and the trainable part of a model built by :func:`build_model`."""
    return model.get_layer("trunk"), model.get_layer("top")
