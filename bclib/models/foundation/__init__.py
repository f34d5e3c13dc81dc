"""Pathology and natural-image foundation encoders (DINOv2-family ViTs) as frozen Keras trunks.

``build_encoder(name_or_config, weights)`` builds a preset (:data:`PRESETS`: ``phikon-v2``,
``dinov2-small/base/large/giant``, ``uni2-h``, ``h-optimus-0``, ``virchow2``) or an
:class:`EncoderConfig`, with random weights (``"none"``) or from a downloaded checkpoint folder in
transformers or timm naming. Why bclib has its own ViT rather than keras-hub's:
docs/decisions.md, "Foundation encoders: own Keras ViT or keras-hub (issue #28)".
"""

from .config import PRESETS, EncoderConfig, config_from_transformers, preset
from .encoder import build_encoder, config_from_folder
from .resample import resize_grid

__all__ = ["PRESETS", "EncoderConfig", "config_from_transformers", "preset", "build_encoder", "config_from_folder",
           "resize_grid"]
