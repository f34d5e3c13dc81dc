"""Building any model by name: a registry backbone with the shared head, or ``proposed``."""

from __future__ import annotations

from .backbones import MODEL_NAMES  # noqa: F401  re-exported: the names build_model accepts
from .baselines import baseline_top, baseline_trunk
from .fusion import proposed_top, proposed_trunk
from .head import compose


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
