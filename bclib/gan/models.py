"""Class-conditional generator and critic whose resolution is a parameter (32-512).

Generator: latent vector z concatenated with a learned class embedding ->
Dense to a 4x4 map -> blocks of (nearest-neighbour upsampling, 3x3 conv,
LeakyReLU) x2 until the target resolution -> 1x1 conv -> tanh, images in
[-1, 1]. Upsampling followed by convolution is used instead of transposed
convolutions, which produce checkerboard artefacts. With ``normalized_conditioning``
(StyleGAN2's conditioning) z and the class embedding (N(0, 1) weights) are each
scaled to unit second moment before they are joined, so neither drowns the other;
the z half is where generation-time truncation acts (:class:`SecondMoment`).

Critic: blocks of (3x3 conv, LeakyReLU) x2 + average pooling down to 4x4 ->
[minibatch standard deviation + 3x3 conv at 4x4] -> dense feature vector phi(x)
-> unbounded score ``w . phi(x) + embed(y) . phi(x)`` (a projection
discriminator, Miyato & Koyama 2018; with ``normalized_conditioning`` the
embedding is normalised and the projection divided by sqrt(dim phi), as in
StyleGAN2-ADA's conditional epilogue). No batch normalisation: it couples the
samples of a batch and breaks the per-sample gradient penalty. The minibatch
standard deviation (:class:`MinibatchStdDev`, StyleGAN2's group form) couples
the images of small groups through one statistic only, on purpose: it lets the
critic see a batch's lack of variety.

Departures from the paper's wording (see docs/gan.md): the paper describes the
discriminator's output as the probability that an image is real; bclib's critic
(hinge loss with R1 in the real profiles, WGAN-GP in the smoke ones) outputs an
unbounded score instead, and the generator loss of its Eq. 2, max(0, 1 - D), is
applied to that score.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, NamedTuple, Optional

from ..backend import keras as _keras
from ..backend import mixed_precision_policy

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


def normalize_2nd_moment(x, eps: float = 1e-8):
    """x scaled so that the mean of its squares over the last axis is 1 (StyleGAN2's normalisation)."""
    return x * ops.rsqrt(ops.mean(ops.square(x), axis=-1, keepdims=True) + eps)


@keras.saving.register_keras_serializable(package="bclib")
class ProjectionScore(layers.Layer):
    """score = phi . embed(y), the class-conditional term of a projection critic.

    ``normalize``: the embedding has N(0, 1) weights, each class's vector is scaled to
    unit second moment, and the dot product is divided by sqrt(dim phi), so that at
    initialisation the term has the size of the unconditional one (StyleGAN2-ADA's
    conditional critic); otherwise Keras' default embedding and the raw dot product.
    """

    def __init__(self, num_classes: int, normalize: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.num_classes, self.normalize = num_classes, bool(normalize)

    def build(self, input_shape):
        features_shape, _ = input_shape
        self.dim = int(features_shape[-1])
        initializer = keras.initializers.RandomNormal(0, 1) if self.normalize else "uniform"
        self.embedding = layers.Embedding(self.num_classes, self.dim, dtype=self.dtype_policy,
                                          embeddings_initializer=initializer, name="class_projection")
        self.embedding.build((None,))

    def call(self, inputs):
        features, labels = inputs
        projected = self.embedding(ops.reshape(labels, (-1,)))
        if not self.normalize:
            return ops.sum(features * projected, axis=-1, keepdims=True)
        projected = normalize_2nd_moment(projected)
        return ops.sum(features * projected, axis=-1, keepdims=True) / math.sqrt(self.dim)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "normalize": self.normalize}


@keras.saving.register_keras_serializable(package="bclib")
class SecondMoment(layers.Layer):
    """x scaled to unit second moment over its last axis; with ``truncation``, times a factor psi.

    The generator normalises z with ``truncation=True``. That layer's one non-trainable
    weight ``psi`` (1 while training) is the truncation trick of this architecture:
    there is no mapping network, hence no W space and no mean w; the normalised latent
    has mean 0 over the latent distribution, so moving it towards its mean by psi is
    ``psi * normalize(z)`` (:func:`bclib.gan.generate.sample` sets psi for one draw
    and puts it back). The class embedding is normalised without it.
    """

    def __init__(self, truncation: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.truncation = bool(truncation)

    def build(self, input_shape):
        if self.truncation:
            self.psi = self.add_weight(shape=(), initializer="ones", trainable=False, name="psi")

    def call(self, x):
        x = normalize_2nd_moment(x)
        return x * ops.cast(self.psi, x.dtype) if self.truncation else x

    def get_config(self):
        return {**super().get_config(), "truncation": self.truncation}


@keras.saving.register_keras_serializable(package="bclib")
class MinibatchStdDev(layers.Layer):
    """StyleGAN2's minibatch standard deviation: ``channels`` feature maps appended to x (N, H, W, C).

    The batch is split into groups of ``group_size`` images; image j belongs to group
    j mod (N / group_size), as in StyleGAN2. The C channels are split into ``channels``
    parts; for each group and part the standard deviation over the group's images of
    every feature, averaged over the part's channels and all positions, becomes one
    constant map appended to each image of the group. Images of different groups do
    not influence each other. A batch that ``group_size`` does not divide uses the
    largest group size that divides it (1 for a single image: the maps are then 0 + eps).
    """

    def __init__(self, group_size: int = 4, channels: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.group_size, self.channels = int(group_size), int(channels)

    def build(self, input_shape):
        if int(input_shape[-1]) % self.channels:
            raise ValueError(f"minibatch-stddev channels ({self.channels}) must divide the critic's "
                             f"{input_shape[-1]} feature maps")

    def _group(self, n):
        sizes = ops.arange(1, self.group_size + 1, dtype="int32")
        return ops.max(ops.where(ops.equal(ops.mod(n, sizes), 0), sizes, 1))

    def call(self, x):
        n = ops.shape(x)[0]
        height, width, c = x.shape[1], x.shape[2], x.shape[3]
        f = self.channels
        g = self._group(n)
        y = ops.reshape(ops.cast(x, "float32"), (g, -1, height, width, f, c // f))  # [G, N/G, H, W, F, c/F]
        y = y - ops.mean(y, axis=0, keepdims=True)
        y = ops.sqrt(ops.mean(ops.square(y), axis=0) + 1e-8)  # [N/G, H, W, F, c/F]
        y = ops.mean(y, axis=(1, 2, 4))  # [N/G, F]
        y = ops.tile(ops.reshape(y, (-1, 1, 1, f)), (g, height, width, 1))  # row g * N/G + i is group i
        return ops.concatenate([x, ops.cast(y, x.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + self.channels)

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size, "channels": self.channels}


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


def _conditioning(z, label, latent_dim: int, num_classes: int, normalized: bool):
    """The generator's input code: z joined with the class embedding (both normalised, or raw)."""
    if not normalized:
        embedded = layers.Flatten()(layers.Embedding(num_classes, latent_dim, name="class_embedding")(label))
        return layers.Concatenate(name="conditioning")([z, embedded])
    # N(0, 1) embedding weights: Adam's steps (about lr each) are then small relative changes, as in
    # the equalised layers; the scale itself is removed by the normalisation
    embedded = layers.Flatten()(layers.Embedding(num_classes, latent_dim, name="class_embedding",
                                                 embeddings_initializer=keras.initializers.RandomNormal(0, 1))(label))
    embedded = SecondMoment(name="class_normalization")(embedded)
    return layers.Concatenate(name="conditioning")([SecondMoment(truncation=True, name="z_normalization")(z),
                                                    embedded])


def build_generator(resolution: int, latent_dim: int, num_classes: int, max_channels: int = 256,
                    channel_base: int = 4096, equalized_lr: bool = False,
                    normalized_conditioning: bool = False) -> "keras.Model":
    steps = _check_resolution(resolution)
    eq = equalized_lr

    def channels(size):
        return channels_at(size, max_channels, channel_base)

    z = keras.Input((latent_dim,), name="z")
    label = keras.Input((1,), dtype="int32", name="label")
    x = _conditioning(z, label, latent_dim, num_classes, normalized_conditioning)
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
                 equalized_lr: bool = False, mbstd_group: int = 0, mbstd_channels: int = 1,
                 normalized_conditioning: bool = False) -> "keras.Model":
    """Critic with two outputs: the score and the feature vector phi(x) (used by feature matching and probes).

    ``mbstd_group`` > 0 appends the minibatch standard deviation (``mbstd_channels`` maps) at 4x4,
    followed by one more 3x3 convolution, before the dense head (StyleGAN2's epilogue).
    """
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
    if mbstd_group > 0:
        x = MinibatchStdDev(mbstd_group, mbstd_channels, name="minibatch_stddev")(x)
        x = layers.LeakyReLU(0.2)(_conv(eq, channels(4), 3, name="conv4")(x))
    x = layers.Flatten()(x)
    # The head runs in float32 even under a mixed-precision policy.
    features = layers.LeakyReLU(0.2, dtype="float32", name="features")(
        _dense(eq, channels(4), dtype="float32", name="feature_dense")(x))
    unconditional = (EqualizedDense(1, gain=1.0, dtype="float32", name="score_linear") if eq else
                     layers.Dense(1, dtype="float32", name="score_linear"))(features)
    conditional = ProjectionScore(num_classes, normalize=normalized_conditioning, dtype="float32",
                                  name="score_projection")([features, label])
    score = layers.Add(dtype="float32", name="score")([unconditional, conditional])
    return keras.Model([image, label], [score, features], name="critic")


class Networks(NamedTuple):
    """The networks one training run updates: generator, critic and the generator's EMA copy (or None)."""

    generator: "keras.Model"
    critic: "keras.Model"
    generator_ema: Optional["keras.Model"]


def build_networks(cfg, conditions: int, log: Callable[[str], None] = print) -> Networks:
    """Generator, critic and (with ``cfg.ema_kimg``) EMA generator for ``conditions`` conditions, as the
    settings ``cfg`` (``params.gan``) ask, under the compute policy asked for."""
    # bfloat16 compute (float32 weights and outputs) when asked: meant for GPUs; no loss scaling needed.
    previous_policy = keras.mixed_precision.dtype_policy()
    policy = mixed_precision_policy(cfg.mixed_precision)  # bfloat16 only where the GPU has it
    if cfg.mixed_precision and policy == "float32":
        log("gan.mixed_precision: this GPU has no bfloat16 units; training in float32")
    if policy != "float32":
        keras.mixed_precision.set_dtype_policy(policy)

    def new_generator():
        return build_generator(cfg.resolution, cfg.latent_dim, conditions, cfg.max_channels, cfg.channel_base,
                               cfg.equalized_lr, cfg.normalized_conditioning)

    try:  # the build order (generator, critic, EMA copy) is the order of Keras' weight initialisation draws
        generator = new_generator()
        critic = build_critic(cfg.resolution, conditions, cfg.max_channels, cfg.channel_base, cfg.equalized_lr,
                              cfg.mbstd_group, cfg.mbstd_channels, cfg.normalized_conditioning)
        generator_ema = None
        if cfg.ema_kimg:
            generator_ema = new_generator()
            generator_ema.set_weights(generator.get_weights())
    finally:
        keras.mixed_precision.set_dtype_policy(previous_policy)
    return Networks(generator, critic, generator_ema)


def load_generator(snapshot: Path, prefer_ema: bool = True):
    """The generator of a snapshot (its EMA copy when there is one), loaded in Keras safe mode."""
    path = snapshot / "generator_ema.keras"
    if not (prefer_ema and path.is_file()):
        path = snapshot / "generator.keras"
    return keras.models.load_model(path, safe_mode=True, compile=False)


def load_critic(snapshot: Path):
    return keras.models.load_model(snapshot / "critic.keras", safe_mode=True, compile=False)
