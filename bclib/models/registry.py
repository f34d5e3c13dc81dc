"""Building any model by name: a registry backbone with the shared head, ``proposed`` or ``proposed-gap``."""

from __future__ import annotations

from .backbones import MODEL_NAMES  # noqa: F401  re-exported: the names build_model accepts
from .baselines import baseline_top, baseline_trunk
from .fusion import proposed_top, proposed_trunk
from .gap_fusion import gap_top, gap_trunk
from .head import compose


def build_trunk(name: str, input_size: int, weights: str = "imagenet"):
    """The frozen part of any registry model, ``proposed`` or ``proposed-gap``."""
    if name == "proposed":
        return proposed_trunk(input_size, weights)
    if name == "proposed-gap":
        return gap_trunk(input_size, weights)
    return baseline_trunk(name, input_size, weights)


def build_top(name: str, trunk, num_classes: int, l2: float = 1e-4, fusion_channels: int = 128):
    """The part of model ``name`` that trains in the first stage, sized for ``trunk``'s outputs."""
    if name == "proposed":
        return proposed_top(trunk, num_classes, l2, fusion_channels)
    if name == "proposed-gap":
        return gap_top(trunk, num_classes, l2)
    return baseline_top(trunk, num_classes, l2)


def model_label(name: str) -> str:
    """The Keras name of the whole model ``name``: ``proposed``, ``proposed_gap`` or ``baseline_<name>``."""
    return {"proposed": "proposed", "proposed-gap": "proposed_gap"}.get(name, f"baseline_{name}")


def build_model(name: str, num_classes: int, input_size: int, weights: str = "imagenet", l2: float = 1e-4,
                fusion_channels: int = 128):
    """An uncompiled classifier: a registry backbone with the shared head, or one of the fusion models."""
    trunk = build_trunk(name, input_size, weights)
    return compose(trunk, build_top(name, trunk, num_classes, l2, fusion_channels), model_label(name))


def trunk_and_top(model):
    """The frozen feature part and the trainable part of a model built by :func:`build_model`."""
    return model.get_layer("trunk"), model.get_layer("top")
