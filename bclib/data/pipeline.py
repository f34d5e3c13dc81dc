"""tf.data input pipelines: decode, resize, cache, shuffle, batch, prefetch.

Images come out as ``float32`` in [0, 255], shape (size, size, 3): each model
applies its own backbone's ``preprocess_input`` inside itself, so the input
pipeline never normalises (one shared normalisation for backbones that expect
different ones is a classic silent bug).

Decoding goes through :func:`bclib.data.images.load_rgb` (PIL), which reads
TIFF (BACH) as well as PNG and converts every colour mode to RGB. How a tile
becomes the model's square input is its *geometry* (``data.geometry``):
``squash`` resizes the whole tile to a square with antialiasing, as the paper
resizes its tiles (a 700x460 BreakHis tile is squashed by 1.52 along its long
side); ``crop`` takes its centre square of side min(h, w), unsquashed, exactly as
the cWGAN's training-image cache cuts it (:func:`decode_cover`, shared with
:mod:`bclib.gan.training_images`), so real tiles and the GAN's square images reach the
classifiers with the same geometry. With a
stain reference (``data.stain_normalization``, :mod:`bclib.data.stain`) each
image is stain-normalised at its native resolution, before the resize; a tile
without stained tissue passes unchanged.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd

from .images import load_rgb
from .stain import StainReference, normalize

MEMORY_CACHE_BYTES = 1 << 30  # decoded float32 images kept in memory by cache=True, at most


def _tf():
    from ..backend import tensorflow  # imported lazily: `bclib audit` and friends do not need TensorFlow

    return tensorflow()


def _read(path, stain: Optional[StainReference] = None):
    """A tf op: the uint8 (H, W, 3) image at ``path`` (PIL), stain-normalised onto ``stain`` if given."""
    tf = _tf()

    def _load(p):  # p arrives as a numpy bytes scalar or 0-d array
        p = p.item() if hasattr(p, "item") else p
        image = load_rgb(p.decode() if isinstance(p, bytes) else str(p))
        return image if stain is None else normalize(image, stain, blank="keep")

    image = tf.numpy_function(_load, [path], tf.uint8, stateful=False)
    image.set_shape([None, None, 3])
    return image


GEOMETRIES = ("squash", "crop")  # data.geometry: how a tile becomes the classifiers' square input


def decode_resize(path, size: int, stain: Optional[StainReference] = None, geometry: str = "squash"):
    """A tf op: read ``path`` with PIL, stain-normalise it onto ``stain`` (if given) and make it a
    (size, size) square, float32 in [0, 255]: the whole image resized with antialiasing (``geometry``
    ``squash``) or its centre square of side min(h, w) (``crop``: :func:`decode_cover`, the cut of the
    cWGAN's training images)."""
    tf = _tf()
    if geometry == "crop":
        return decode_cover(path, size, size, stain)
    if geometry != "squash":
        raise ValueError(f"unknown geometry {geometry!r}: expected one of {', '.join(GEOMETRIES)}")
    image = tf.image.resize(tf.cast(_read(path, stain), tf.float32), (size, size), method="bilinear", antialias=True)
    return tf.clip_by_value(image, 0.0, 255.0)


def decode_cover(path, height: int, width: int, stain: Optional[StainReference] = None):
    """A tf op: the image at ``path`` (stain-normalised onto ``stain`` if given) scaled *keeping its
    aspect ratio* until it covers (height, width), then its centre (height, width) cut out; float32 in
    [0, 255].

    A portrait image is first turned a quarter (tiles have no preferred orientation), so the
    long side is the width. With height == width this is the centre square of side min(h, w).
    """
    tf = _tf()
    image = _read(path, stain)
    image = tf.cond(tf.shape(image)[0] > tf.shape(image)[1], lambda: tf.image.rot90(image), lambda: image)
    size = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.maximum(height / size[0], width / size[1])
    target = tf.maximum(tf.cast(tf.math.ceil(size * scale - 1e-3), tf.int32), [height, width])
    image = tf.image.resize(tf.cast(image, tf.float32), target, method="bilinear", antialias=True)
    image = tf.image.resize_with_crop_or_pad(image, height, width)
    return tf.clip_by_value(image, 0.0, 255.0)


def cover_dataset(frame: pd.DataFrame, height: int, width: int, batch_size: int):
    """Batches of :func:`decode_cover` images of ``frame``'s rows, in order (no labels, no cache)."""
    tf = _tf()
    paths = tf.constant(frame["path"].astype(str).to_numpy())
    ds = tf.data.Dataset.from_tensor_slices(paths)
    ds = ds.map(lambda p: decode_cover(p, height, width), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def make_dataset(
    frame: pd.DataFrame,
    image_size: int,
    batch_size: int,
    shuffle: bool = False,
    seed: int = 0,
    cache: bool | str = True,
    label_column: Optional[str] = "label_index",
    drop_remainder: bool = False,
    stain: Optional[StainReference] = None,
    geometry: str = "squash",
):
    """A batched ``tf.data.Dataset`` of (image, label) over the rows of ``frame``.

    ``cache=True`` keeps decoded, resized images in memory after the first
    pass, but only while they fit in :data:`MEMORY_CACHE_BYTES` (BreakHis at
    224 px would take 4.7 GB and grow with the dataset; larger sets are decoded
    again every epoch instead); a string caches them to that file prefix; False
    re-decodes every epoch. With ``label_column=None`` only images are yielded.
    ``stain``: the stain reference every image is normalised onto (None: colours untouched).
    ``geometry``: ``squash`` (the whole tile resized to a square) or ``crop`` (its centre square):
    :func:`decode_resize`.
    """
    tf = _tf()
    autotune = tf.data.AUTOTUNE
    paths = tf.constant(frame["path"].astype(str).to_numpy())
    if label_column is None:
        ds = tf.data.Dataset.from_tensor_slices(paths)
        ds = ds.map(lambda p: decode_resize(p, image_size, stain, geometry), num_parallel_calls=autotune,
                    deterministic=True)
    else:
        labels = tf.constant(frame[label_column].to_numpy().astype(np.int32))
        ds = tf.data.Dataset.from_tensor_slices((paths, labels))
        ds = ds.map(lambda p, y: (decode_resize(p, image_size, stain, geometry), y), num_parallel_calls=autotune,
                    deterministic=True)
    if cache is True and len(frame) * image_size * image_size * 3 * 4 > MEMORY_CACHE_BYTES:
        cache = False
    if cache:
        ds = ds.cache(cache if isinstance(cache, str) else "")
    if shuffle:
        ds = ds.shuffle(max(1, len(frame)), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(autotune)


def load_batch(paths, image_size: int, stain: Optional[StainReference] = None,
               geometry: str = "squash") -> np.ndarray:
    """Decode a handful of images eagerly (figures, predictions) as the classifiers see them (``geometry``:
    :func:`decode_resize`): (n, size, size, 3) float32."""
    tf = _tf()
    return np.stack([decode_resize(tf.constant(str(p)), image_size, stain, geometry).numpy() for p in paths])
