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


@keras.saving.register_keras_serializable(package="bclib")
class EqualizedDense(layers.Layer):
    """Dense layer with an equalised learning rate (Karras et al. 2018).

    The weights are stored as N(0, 1) draws and multiplied by gain / sqrt(fan_in) at
    every call, so that Adam's step (which is about ``lr`` per weight whatever the
    weight's scale) changes every layer by the same *relative* amount. StyleGAN2-ADA's
    learning rate 0.0025, which the paper's Table 7 takes over, assumes this
    parametrisation; with ordinary He-initialised weights (std ~0.02 in a wide layer)
    the same step size is ~10% of a weight per step and training blows up.
    """

    def __init__(self, units: int, gain: float = math.sqrt(2.0), **kwargs):
        super().__init__(**kwargs)
        self.units, self.gain = int(units), float(gain)

    def build(self, input_shape):
        fan_in = int(input_shape[-1])
        self.scale = self.gain / math.sqrt(fan_in)
        self.kernel = self.add_weight(shape=(fan_in, self.units), initializer=keras.initializers.RandomNormal(0, 1),
                                      name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, inputs):
        return ops.matmul(inputs, ops.cast(self.kernel * self.scale, inputs.dtype)) + ops.cast(self.bias, inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "gain": self.gain}


@keras.saving.register_keras_serializable(package="bclib")
class EqualizedConv2D(layers.Layer):
    """Same-padded convolution with an equalised learning rate (see :class:`EqualizedDense`)."""

    def __init__(self, filters: int, kernel_size: int, gain: float = math.sqrt(2.0), **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.gain = int(filters), int(kernel_size), float(gain)

    def build(self, input_shape):
        fan_in = int(input_shape[-1]) * self.kernel_size**2
        self.scale = self.gain / math.sqrt(fan_in)
        self.kernel = self.add_weight(shape=(self.kernel_size, self.kernel_size, int(input_shape[-1]), self.filters),
                                      initializer=keras.initializers.RandomNormal(0, 1), name="kernel")
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")

    def call(self, inputs):
        kernel = ops.cast(self.kernel * self.scale, inputs.dtype)
        return ops.conv(inputs, kernel, padding="same") + ops.cast(self.bias, inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size, "gain": self.gain}


def _conv(equalized: bool, filters: int, size: int, name: str, gain: float = math.sqrt(2.0), **kwargs):
    if equalized:
        return EqualizedConv2D(filters, size, gain=gain, name=name, **kwargs)
    return layers.Conv2D(filters, size, padding="same", kernel_initializer="he_normal", name=name, **kwargs)


def _dense(equalized: bool, units: int, name: str, gain: float = math.sqrt(2.0), **kwargs):
    if equalized:
        return EqualizedDense(units, gain=gain, name=name, **kwargs)
    return layers.Dense(units, kernel_initializer="he_normal", name=name, **kwargs)


def build_generator(resolution: int, latent_dim: int, num_classes: int, max_channels: int = 256,
                    channel_base: int = 4096, equalized_lr: bool = False) -> "keras.Model":
    steps = _check_resolution(resolution)
    eq = equalized_lr

    def channels(size):
        return channels_at(size, max_channels, channel_base)

    z = keras.Input((latent_dim,), name="z")
    label = keras.Input((1,), dtype="int32", name="label")
    embedded = layers.Flatten()(layers.Embedding(num_classes, latent_dim, name="class_embedding")(label))
    x = layers.Concatenate()([z, embedded])
    ch = channels(4)
    x = _dense(eq, 4 * 4 * ch, name="project")(x)
    x = layers.LeakyReLU(0.2)(layers.Reshape((4, 4, ch))(x))
    for level in range(3, steps + 1):
        size = 2**level
        ch = channels(size)
        x = layers.UpSampling2D(2, interpolation="nearest", name=f"up{size}")(x)
        for i in range(2):
            x = _conv(eq, ch, 3, name=f"conv{size}_{i}")(x)
            x = layers.LeakyReLU(0.2)(x)
    if eq:
        image = layers.Activation("tanh", dtype="float32")(EqualizedConv2D(3, 1, gain=1.0, dtype="float32",
                                                                            name="to_rgb")(x))
    else:
        image = layers.Conv2D(3, 1, activation="tanh", dtype="float32", name="to_rgb")(x)
    return keras.Model([z, label], image, name="generator")


def build_critic(resolution: int, num_classes: int, max_channels: int = 256, channel_base: int = 4096,
                 equalized_lr: bool = False) -> "keras.Model":
    """Critic with two outputs: the score and the feature vector phi(x) (used by feature matching and probes)."""
    steps = _check_resolution(resolution)
    eq = equalized_lr

    def channels(size):
        return channels_at(size, max_channels, channel_base)

    image = keras.Input((resolution, resolution, 3), name="image")
    label = keras.Input((1,), dtype="int32", name="label")
    x = _conv(eq, channels(resolution), 1, name="from_rgb")(image) if eq else \
        layers.Conv2D(channels(resolution), 1, name="from_rgb")(image)
    x = layers.LeakyReLU(0.2)(x)
    for level in range(steps, 2, -1):
        size = 2**level
        for i, ch in enumerate((channels(size), channels(size // 2))):
            x = _conv(eq, ch, 3, name=f"conv{size}_{i}")(x)
            x = layers.LeakyReLU(0.2)(x)
        x = layers.AveragePooling2D(2, name=f"down{size}")(x)
    x = layers.Flatten()(x)
    # The head runs in float32 even under a mixed-precision policy.
    features = layers.LeakyReLU(0.2, dtype="float32", name="features")(
        _dense(eq, channels(4), dtype="float32", name="feature_dense")(x))
    unconditional = (EqualizedDense(1, gain=1.0, dtype="float32", name="score_linear") if eq else
                     layers.Dense(1, dtype="float32", name="score_linear"))(features)
    conditional = ProjectionScore(num_classes, dtype="float32", name="score_projection")([features, label])
    score = layers.Add(dtype="float32", name="score")([unconditional, conditional])
    return keras.Model([image, label], [score, features], name="critic")
