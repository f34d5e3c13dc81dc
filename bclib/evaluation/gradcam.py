"""Grad-CAM heatmaps for the models built by :func:`bclib.models.build_model`.

Every such model is ``top(trunk(image))``: the trunk holds the (frozen)
backbones. The fusion model's trunk ends in spatial maps, one per tap; a
baseline's trunk ends in global average pooling, so its map is taken just
before that pooling. Grad-CAM (Selvaraju et al., 2017) weighs each channel of a
map by the mean gradient of the chosen class score over that map, sums the
channels and keeps the positive part. For the fusion model the maps of its
taps are resized to the image and averaged, so the heatmap reflects all three
scales the model looks at.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..backend import tensorflow
from ..models import trunk_and_top


def _spatial_parts(model):
    """(images -> spatial maps, maps -> probabilities) for a baseline or the fusion model."""
    trunk, top = trunk_and_top(model)
    names = {layer.name for layer in trunk.layers}
    if "gap" not in names:
        return (lambda x: trunk(x, training=False)), (lambda maps: top(maps, training=False))
    preprocess = next(layer for layer in trunk.layers if layer.name.endswith("_preprocess"))
    backbone = trunk.get_layer(preprocess.name[: -len("_preprocess")])
    pool = trunk.get_layer("gap")
    return ((lambda x: backbone(preprocess(x), training=False)),
            (lambda maps: top(pool(maps), training=False)))


def gradcam(model, images: np.ndarray, class_index: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray]:
    """Heatmaps in [0, 1] of shape (n, H, W) for float RGB ``images`` (n, H, W, 3) in 0..255.

    ``class_index`` picks the class explained per image (default: the predicted
    one). Returns ``(heatmaps, probabilities)``.
    """
    tf = tensorflow()
    spatial, head = _spatial_parts(model)
    images = tf.convert_to_tensor(images, tf.float32)
    maps = spatial(images)
    maps = list(maps) if isinstance(maps, (list, tuple)) else [maps]
    with tf.GradientTape() as tape:
        tape.watch(maps)
        probabilities = head(maps if len(maps) > 1 else maps[0])
        chosen = (tf.argmax(probabilities, axis=1) if class_index is None
                  else tf.convert_to_tensor(np.asarray(class_index), tf.int64))
        score = tf.reduce_sum(tf.gather(probabilities, chosen, axis=1, batch_dims=1))
    gradients = tape.gradient(score, maps)
    size = images.shape[1:3]
    heat = tf.zeros((images.shape[0], *size), tf.float32)
    for feature, gradient in zip(maps, gradients):
        weights = tf.reduce_mean(tf.cast(gradient, tf.float32), axis=(1, 2), keepdims=True)
        cam = tf.nn.relu(tf.reduce_sum(weights * tf.cast(feature, tf.float32), axis=-1))
        heat += tf.image.resize(cam[..., None], size, method="bilinear")[..., 0]
    heat = heat.numpy()
    peak = heat.reshape(len(heat), -1).max(axis=1).reshape(-1, 1, 1)
    return np.divide(heat, peak, out=np.zeros_like(heat), where=peak > 0), probabilities.numpy()


def overlay(image: np.ndarray, heat: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """uint8 RGB: the heatmap (matplotlib's 'jet' colours) blended over ``image``."""
    from matplotlib import colormaps

    coloured = colormaps["jet"](heat)[..., :3] * 255.0
    blended = (1 - alpha) * np.asarray(image, np.float32) + alpha * coloured
    return np.clip(blended, 0, 255).astype(np.uint8)
