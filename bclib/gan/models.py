"""Class-conditional generator and critic whose resolution is a parameter (32-512).

Generator: latent vector z concatenated with a learned class embedding ->
Dense to a 4x4 map -> blocks of (nearest-neighbour upsampling, 3x3 conv,
LeakyReLU) x2 until the target resolution -> 1x1 conv -> tanh, images in
[-1, 1]. Upsampling followed by convolution is used instead of transposed
convolutions, which produce checkerboard artefacts.

Critic: blocks of (3x3 conv, LeakyReLU) x2 + average pooling down to 4x4 ->
dense feature vector phi(x) -> unbounded score ``w . phi(x) + embed(y) . phi(x)``
(a projection discriminator, Miyato & Koyama 2018). No batch normalisation:
it couples the samples of a batch and breaks the per-sample gradient penalty.

Departures from the paper's wording (see docs/gan.md): the paper describes the
discriminator's output as the probability that an image is real; a Wasserstein
critic outputs an unbounded score instead, and the hinge loss of its Eq. 2 is
applied to that score.
"""

from __future__ import annotations

import math

from ..backend import keras as _keras

keras = _keras()
layers = keras.layers
ops = keras.ops


def channels_at(resolution: int, max_channels: int = 256, channel_base: int = 4096) -> int:
    """Feature maps at a given spatial size: fewer as the maps get larger (StyleGAN-style budget)."""
    return int(max(8, min(max_channels, channel_base // resolution)))


def _check_resolution(resolution: int) -> int:
    if resolution < 32 or resolution > 512 or resolution & (resolution - 1):
        raise ValueError(f"resolution must be a power of two between 32 and 512, got {resolution}")
    return int(math.log2(resolution))


@keras.saving.register_keras_serializable(package="bclib")
class ProjectionScore(layers.Layer):
    """score = phi . embed(y), the class-conditional term of a projection critic."""

    def __init__(self, num_classes: int, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes

    def build(self, input_shape):
        features_shape, _ = input_shape
        self.embedding = layers.Embedding(self.num_classes, features_shape[-1], dtype=self.dtype_policy,
                                          name="class_projection")
        self.embedding.build((None,))

    def call(self, inputs):
        features, labels = inputs
        projected = self.embedding(ops.reshape(labels, (-1,)))
        return ops.sum(features * projected, axis=-1, keepdims=True)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


def build_generator(resolution: int, latent_dim: int, num_classes: int, max_channels: int = 256,
                    channel_base: int = 4096) -> "keras.Model":
    steps = _check_resolution(resolution)

    def channels(size):
        return channels_at(size, max_channels, channel_base)

    z = keras.Input((latent_dim,), name="z")
    label = keras.Input((1,), dtype="int32", name="label")
    embedded = layers.Flatten()(layers.Embedding(num_classes, latent_dim, name="class_embedding")(label))
    x = layers.Concatenate()([z, embedded])
    ch = channels(4)
    x = layers.Dense(4 * 4 * ch, kernel_initializer="he_normal", name="project")(x)
    x = layers.LeakyReLU(0.2)(layers.Reshape((4, 4, ch))(x))
    for level in range(3, steps + 1):
        size = 2**level
        ch = channels(size)
        x = layers.UpSampling2D(2, interpolation="nearest", name=f"up{size}")(x)
        for i in range(2):
            x = layers.Conv2D(ch, 3, padding="same", kernel_initializer="he_normal", name=f"conv{size}_{i}")(x)
            x = layers.LeakyReLU(0.2)(x)
    image = layers.Conv2D(3, 1, activation="tanh", dtype="float32", name="to_rgb")(x)
    return keras.Model([z, label], image, name="generator")


def build_critic(resolution: int, num_classes: int, max_channels: int = 256, channel_base: int = 4096) -> "keras.Model":
    """Critic with two outputs: the score and the feature vector phi(x) (used by feature matching and probes)."""
    steps = _check_resolution(resolution)

    def channels(size):
        return channels_at(size, max_channels, channel_base)

    image = keras.Input((resolution, resolution, 3), name="image")
    label = keras.Input((1,), dtype="int32", name="label")
    x = layers.Conv2D(channels(resolution), 1, name="from_rgb")(image)
    x = layers.LeakyReLU(0.2)(x)
    for level in range(steps, 2, -1):
        size = 2**level
        for i, ch in enumerate((channels(size), channels(size // 2))):
            x = layers.Conv2D(ch, 3, padding="same", kernel_initializer="he_normal", name=f"conv{size}_{i}")(x)
            x = layers.LeakyReLU(0.2)(x)
        x = layers.AveragePooling2D(2, name=f"down{size}")(x)
    x = layers.Flatten()(x)
    # The head runs in float32 even under a mixed-precision policy.
    features = layers.LeakyReLU(0.2, dtype="float32", name="features")(
        layers.Dense(channels(4), kernel_initializer="he_normal", dtype="float32", name="feature_dense")(x))
    unconditional = layers.Dense(1, dtype="float32", name="score_linear")(features)
    conditional = ProjectionScore(num_classes, dtype="float32", name="score_projection")([features, label])
    score = layers.Add(dtype="float32", name="score")([unconditional, conditional])
    return keras.Model([image, label], [score, features], name="critic")
