"""Bicubic resampling of a position-embedding grid, as PyTorch computes it, written as matrices.

A ViT trained at one grid (DINOv2: 37x37 for 518 px at patch 14) meets another at inference
(16x16 for 224 px). Its checkpoint's authors resize the learned grid with
``torch.nn.functional.interpolate(mode="bicubic", align_corners=False)``, with ``antialias=True``
in some models. Keras' own ``ops.image.resize`` follows TensorFlow and JAX instead, whose cubic
kernel differs (a = -0.5 where PyTorch's plain bicubic uses -0.75), so the encoder would drift
from the published features. Both PyTorch rules are separable, so each axis becomes one fixed
(new x old) matrix here, built with NumPy once, and the model applies them with ``ops.einsum``.

The input grid of an encoder is fixed by its preprocessing (every image is resized to the
model's input size), which is why the matrices can be constants.
"""

from __future__ import annotations

import numpy as np

_PLAIN_CUBIC_A = -0.75  # torch's upsample_bicubic2d
_ANTIALIAS_CUBIC_A = -0.5  # torch's antialiased bicubic, which follows Pillow


def _cubic(distance: np.ndarray, a: float) -> np.ndarray:
    """Keys' cubic convolution kernel at |distance| (support 2)."""
    x = np.abs(distance)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


def plain_bicubic_matrix(new: int, old: int) -> np.ndarray:
    """(new, old) weights of torch's bicubic resize, align_corners=False, no antialias.

    Each output sample sits at ``(i + 0.5) * old / new - 0.5`` on the input axis and takes four
    neighbours; neighbours past an edge are read as the edge sample (torch clamps the index)."""
    scale = old / new
    weights = np.zeros((new, old))
    for i in range(new):
        source = (i + 0.5) * scale - 0.5
        left = int(np.floor(source))
        fraction = source - left
        for offset in (-1, 0, 1, 2):
            index = min(max(left + offset, 0), old - 1)
            weights[i, index] += _cubic(np.array(offset - fraction), _PLAIN_CUBIC_A)
    return weights


def antialiased_bicubic_matrix(new: int, old: int) -> np.ndarray:
    """(new, old) weights of torch's bicubic resize with ``antialias=True``.

    When shrinking, the kernel is stretched by the shrink factor so that every input sample
    contributes (a low-pass filter); the taps that fall inside the input are renormalised to sum
    to one instead of repeating edge samples. Growing uses the unstretched kernel."""
    scale = old / new
    stretch = max(scale, 1.0)
    support = 2.0 * stretch
    weights = np.zeros((new, old))
    for i in range(new):
        centre = (i + 0.5) * scale
        first = max(int(centre - support + 0.5), 0)
        stop = min(int(centre + support + 0.5), old)
        taps = np.arange(first, stop)
        row = _cubic((taps - centre + 0.5) / stretch, _ANTIALIAS_CUBIC_A)
        weights[i, taps] = row / row.sum()
    return weights


def resize_matrix(new: int, old: int, antialias: bool) -> np.ndarray:
    if new == old:
        return np.eye(new)
    return antialiased_bicubic_matrix(new, old) if antialias else plain_bicubic_matrix(new, old)


def resize_grid(grid: np.ndarray, new_shape: tuple[int, int], antialias: bool) -> np.ndarray:
    """A (rows, cols, channels) grid resized to ``new_shape`` with the matrices above (NumPy)."""
    rows = resize_matrix(new_shape[0], grid.shape[0], antialias)
    cols = resize_matrix(new_shape[1], grid.shape[1], antialias)
    return np.einsum("hi,ijc,wj->hwc", rows, grid, cols)
