"""Differentiable augmentation of the critic's inputs, at a fixed or an adaptive probability.

With a few thousand training images the critic soon memorises them, its scores
on real and generated images separate, and the generator's gradients stop
meaning anything. Zhao et al. (2020, *DiffAugment*) and Karras et al. (2020,
*StyleGAN2-ADA*) showed that randomly transforming **every** image the critic
sees - real and generated alike, in the critic's and in the generator's step -
prevents this without the transformations leaking into the generated images,
as long as the transformations are differentiable (so the generator is trained
through them) and not applied so often that the critic cannot tell the
transformed distribution from the original one.

:func:`augment` applies, to each image independently and each with probability
``p``: a horizontal flip, a rotation by a multiple of 90 degrees (histology tiles
have no preferred orientation, so on square, unsquashed crops - ``gan.crop`` random or
centre - flips and quarter turns are exact symmetries, safe at any p; the schema refuses
rot90 with squashed tiles), an integer translation by up to ``translate``
of the side with reflected borders, a colour/stain jitter (brightness, contrast,
saturation and a per-channel gain that imitates stain strength) and a cutout of
a square of ``cutout`` of the side. Every operation is a gather, a product or a
sum of the pixels, so gradients reach the generator. Random numbers are drawn
statelessly from ``seed``: the same (images, p, seed) give the same output.

``gan.augment``:

* ``none`` - the critic sees the images as they are;
* ``diffaug`` - the fixed probability ``gan.augment_p`` (DiffAugment's setting is 1);
* ``ada`` - ``p`` starts at 0 and is adjusted every ``gan.ada_interval`` iterations
  from the overfitting heuristic r_t = E[sign(D(real))]: up when r_t exceeds
  ``gan.ada_target`` (0.6 in StyleGAN2-ADA), down otherwise, by so much that p could
  go from 0 to 1 in ``gan.ada_kimg`` kimg (:class:`AdaptiveP`).
"""

from __future__ import annotations

import math

from ..backend import tensorflow

tf = tensorflow()

OPERATIONS = ("xflip", "rot90", "translate", "color", "cutout")


def _fold(seed, key: int):
    return tf.random.experimental.stateless_fold_in(seed, key)


def _chosen(seed, key: int, batch, p):
    """A (batch,) boolean mask, true with probability p for each image."""
    return tf.random.stateless_uniform([batch], seed=_fold(seed, key)) < p


def _reflect(coordinates, size: int):
    """Map integer coordinates into [0, size - 1] by mirroring at the borders (for shifts < size)."""
    coordinates = tf.abs(coordinates)
    return (size - 1) - tf.abs((size - 1) - coordinates)


def augment(images, p, seed, operations=OPERATIONS, translate: float = 0.125, cutout: float = 0.5):
    """Randomly transformed copies of ``images`` (N, H, W, C) in [-1, 1]; see the module docstring.

    ``p`` is a scalar (Python float or tensor); ``seed`` a stateless seed (shape [2]).
    """
    images = tf.convert_to_tensor(images)
    dtype = images.dtype
    p = tf.cast(p, tf.float32)
    seed = tf.cast(seed, tf.int32)
    shape = tf.shape(images)
    batch = shape[0]
    height, width = images.shape[1], images.shape[2]
    x = images

    if "xflip" in operations:
        mask = _chosen(seed, 1, batch, p)
        x = tf.where(mask[:, None, None, None], tf.reverse(x, axis=[2]), x)

    if "rot90" in operations and height == width:
        quarter = tf.random.stateless_uniform([batch], seed=_fold(seed, 3), maxval=4, dtype=tf.int32)
        quarter = tf.where(_chosen(seed, 2, batch, p), quarter, 0)
        # rot90(x, k) for every k, then pick one per image (a selection, so still differentiable)
        turns = [x, tf.image.rot90(x, 1), tf.image.rot90(x, 2), tf.image.rot90(x, 3)]
        out = tf.zeros_like(x)
        for k, turned in enumerate(turns):
            out = tf.where(tf.equal(quarter, k)[:, None, None, None], turned, out)
        x = out

    if "translate" in operations:
        mask = _chosen(seed, 4, batch, p)
        shift = tf.random.stateless_uniform([batch, 2], seed=_fold(seed, 5), minval=-translate, maxval=translate)
        shift = shift * tf.constant([height, width], tf.float32)
        shift = tf.cast(tf.round(shift), tf.int32) * tf.cast(mask, tf.int32)[:, None]
        rows = _reflect(tf.range(height)[None, :] - shift[:, :1], height)
        cols = _reflect(tf.range(width)[None, :] - shift[:, 1:], width)
        x = tf.gather(x, rows, axis=1, batch_dims=1)
        x = tf.gather(x, cols, axis=2, batch_dims=1)

    if "color" in operations:
        def where(key, changed, unchanged):  # images not chosen keep their exact values
            return tf.where(_chosen(seed, key, batch, p)[:, None, None, None], changed, unchanged)

        def normal(key, shape):
            return tf.cast(tf.random.stateless_normal(shape, seed=_fold(seed, key)), dtype)

        x = where(106, x + 0.2 * normal(6, [batch, 1, 1, 1]), x)  # brightness
        mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
        contrast = tf.exp(0.5 * math.log(2.0) * normal(7, [batch, 1, 1, 1]))
        x = where(107, (x - mean) * contrast + mean, x)
        luma = tf.reduce_mean(x, axis=3, keepdims=True)
        saturation = tf.exp(math.log(2.0) * normal(8, [batch, 1, 1, 1]))
        x = where(108, (x - luma) * saturation + luma, x)
        # stain strength: a gain per colour channel on the [0, 1] intensities
        gains = tf.exp(0.1 * normal(9, [batch, 1, 1, 3]))
        x = where(109, (x + 1.0) * gains - 1.0, x)

    if "cutout" in operations:
        mask = _chosen(seed, 10, batch, p)
        centre = tf.random.stateless_uniform([batch, 2], seed=_fold(seed, 11))
        half = cutout / 2.0
        ys = (tf.range(height, dtype=tf.float32) + 0.5) / height
        xs = (tf.range(width, dtype=tf.float32) + 0.5) / width
        inside_y = tf.abs(ys[None, :] - centre[:, :1]) < half
        inside_x = tf.abs(xs[None, :] - centre[:, 1:]) < half
        hole = tf.logical_and(inside_y[:, :, None], inside_x[:, None, :])
        hole = tf.logical_and(hole, mask[:, None, None])
        x = x * tf.cast(tf.logical_not(hole), dtype)[:, :, :, None]

    return x


class AdaptiveP:
    """StyleGAN2-ADA's controller of the augmentation probability.

    Call :meth:`observe` with the critic's real scores of each iteration; every
    ``interval`` iterations :meth:`update` moves p by
    sign(r_t - target) * images_in_interval / (speed_kimg * 1000), where
    r_t = mean(sign(D(real))) over the interval, and clips p to [0, 1].
    """

    def __init__(self, target: float = 0.6, speed_kimg: float = 500.0, interval: int = 4, p: float = 0.0):
        self.target = float(target)
        self.speed_kimg = float(speed_kimg)
        self.interval = int(interval)
        self.p = float(p)
        self.signs: list[float] = []  # running (sum of signs, count) over the current interval
        self.last_rt: float = float("nan")

    def observe(self, sign_sum: float, count: int, batch_images: int) -> None:
        self.signs.append((float(sign_sum), int(count), int(batch_images)))
        if len(self.signs) >= self.interval:
            self.update()

    def update(self) -> None:
        total = sum(s for s, _, _ in self.signs)
        count = sum(c for _, c, _ in self.signs)
        images = sum(b for _, _, b in self.signs)
        self.signs = []
        if count == 0:
            return
        self.last_rt = total / count
        step = math.copysign(1.0, self.last_rt - self.target) * images / (self.speed_kimg * 1000.0)
        self.p = min(max(self.p + step, 0.0), 1.0)

    def state(self) -> dict:
        return {"p": self.p, "signs": [list(s) for s in self.signs], "last_rt": self.last_rt}

    def load(self, state: dict) -> None:
        self.p = float(state["p"])
        self.signs = [tuple(s) for s in state.get("signs", [])]
        self.last_rt = float(state.get("last_rt", float("nan")))
