"""A DINOv2-family Vision Transformer in Keras 3 layers and ops, built from an :class:`EncoderConfig`.

The model takes RGB images in [0, 255] of any size, resizes them to the encoder's input size,
normalises them with its authors' statistics, and returns one embedding per image:

    patches (Conv2D, stride = patch) -> class token, register tokens, position embeddings
    -> pre-norm blocks: x + ls1 * attention(norm1(x)); x + ls2 * ffn(norm2(x)) -> final norm -> pooling

Random weights unless :func:`bclib.models.foundation.checkpoint.load_checkpoint` fills them.
:func:`encoder_variables` names every weight once; the checkpoint readers translate to those names.
"""

from __future__ import annotations

import numpy as np

from ...backend import keras as _keras
from .config import EncoderConfig
from .resample import resize_matrix

keras = _keras()
layers = keras.layers
ops = keras.ops
_serializable = keras.saving.register_keras_serializable(package="bclib.foundation")


@_serializable
class EncoderPreprocess(layers.Layer):
    """[0, 255] RGB -> the encoder's input size -> /255 -> (x - mean) / std.

    An image already at the input size is not resampled. Others are resized whole (bilinear,
    antialiased), not cropped: the tiles bclib classifies are the field of view to keep."""

    def __init__(self, input_size: int, mean, std, **kwargs):
        super().__init__(**kwargs)
        self.input_size, self.mean, self.std = int(input_size), tuple(mean), tuple(std)

    def call(self, images):
        images = ops.cast(images, "float32")
        if tuple(images.shape[1:3]) != (self.input_size, self.input_size):
            images = ops.image.resize(images, (self.input_size, self.input_size), interpolation="bilinear",
                                      antialias=True)
        mean = ops.convert_to_tensor(self.mean, "float32")
        std = ops.convert_to_tensor(self.std, "float32")
        return (images / 255.0 - mean) / std

    def get_config(self):
        return {**super().get_config(), "input_size": self.input_size, "mean": self.mean, "std": self.std}


@_serializable
class TokenEmbedding(layers.Layer):
    """Patch tokens -> [class, registers..., patches] with learned positions.

    The stored position grid (the training resolution's) is resized to the input grid with
    PyTorch's bicubic rule (:mod:`.resample`) when the two differ, as transformers' and timm's
    DINOv2 do; when they agree it is used as stored. Which prefix tokens have a position follows
    ``prefix_positions``. Registers never have one in transformers' layout: they are inserted after
    the positions are added."""

    def __init__(self, hidden_size: int, num_register_tokens: int, trained_grid: int, input_grid: int,
                 prefix_positions: str = "cls", antialias: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size, self.num_register_tokens = int(hidden_size), int(num_register_tokens)
        self.trained_grid, self.input_grid = int(trained_grid), int(input_grid)
        self.prefix_positions, self.antialias = prefix_positions, bool(antialias)
        self.positioned_prefix = {"cls": 1, "none": 0, "all": 1 + self.num_register_tokens}[prefix_positions]
        self.grid_matrix = resize_matrix(self.input_grid, self.trained_grid, self.antialias).astype("float32")

    def build(self, input_shape):
        init = keras.initializers.TruncatedNormal(stddev=0.02)
        self.cls_token = self.add_weight(shape=(1, 1, self.hidden_size), initializer=init, name="cls_token")
        self.register_tokens = None
        if self.num_register_tokens:
            self.register_tokens = self.add_weight(shape=(1, self.num_register_tokens, self.hidden_size),
                                                   initializer="zeros", name="register_tokens")
        self.position_embeddings = self.add_weight(
            shape=(1, self.positioned_prefix + self.trained_grid ** 2, self.hidden_size), initializer=init,
            name="position_embeddings")

    def grid_positions(self):
        """The position grid at the input grid, as (1, input_grid**2, hidden)."""
        grid = self.position_embeddings[0, self.positioned_prefix:]
        if self.input_grid == self.trained_grid:
            return grid[None]
        grid = ops.reshape(grid, (self.trained_grid, self.trained_grid, self.hidden_size))
        matrix = ops.convert_to_tensor(self.grid_matrix)
        grid = ops.einsum("hi,ijc,wj->hwc", matrix, grid, matrix)
        return ops.reshape(grid, (1, self.input_grid ** 2, self.hidden_size))

    def call(self, patches):
        batch = ops.shape(patches)[0]
        cls = ops.broadcast_to(self.cls_token, (batch, 1, self.hidden_size))
        registers = []
        if self.register_tokens is not None:
            registers = [ops.broadcast_to(self.register_tokens, (batch, self.num_register_tokens, self.hidden_size))]
        prefix_positions = self.position_embeddings[:, :self.positioned_prefix]
        patches = patches + self.grid_positions()
        if self.prefix_positions == "cls":
            cls = cls + prefix_positions
        elif self.prefix_positions == "all":
            prefix = ops.concatenate([cls] + registers, axis=1) + prefix_positions
            return ops.concatenate([prefix, patches], axis=1)
        return ops.concatenate([cls] + registers + [patches], axis=1)

    def get_config(self):
        return {**super().get_config(), "hidden_size": self.hidden_size,
                "num_register_tokens": self.num_register_tokens, "trained_grid": self.trained_grid,
                "input_grid": self.input_grid, "prefix_positions": self.prefix_positions,
                "antialias": self.antialias}


@_serializable
class LayerScale(layers.Layer):
    """x * gamma, one learned factor per channel (DINOv2's layer scale)."""

    def __init__(self, value: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.value = float(value)

    def build(self, input_shape):
        self.gamma = self.add_weight(shape=(input_shape[-1],), initializer=keras.initializers.Constant(self.value),
                                     name="gamma")

    def call(self, x):
        return x * self.gamma

    def get_config(self):
        return {**super().get_config(), "value": self.value}


@_serializable
class SelfAttention(layers.Layer):
    """Multi-head self-attention with one fused query/key/value projection (query, key, value
    blocks in that order, heads contiguous inside each) and an output projection."""

    def __init__(self, hidden_size: int, num_heads: int, qkv_bias: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size, self.num_heads, self.qkv_bias = int(hidden_size), int(num_heads), bool(qkv_bias)
        self.head_size = self.hidden_size // self.num_heads
        self.qkv = layers.Dense(3 * self.hidden_size, use_bias=self.qkv_bias, name="qkv")
        self.proj = layers.Dense(self.hidden_size, name="proj")

    def build(self, input_shape):
        self.qkv.build(input_shape)
        self.proj.build(input_shape)

    def call(self, x):
        tokens = x.shape[1]
        qkv = ops.reshape(self.qkv(x), (-1, tokens, 3, self.num_heads, self.head_size))
        query, key, value = (ops.transpose(qkv[:, :, i], (0, 2, 1, 3)) for i in range(3))  # (batch, head, token, d)
        scores = ops.matmul(query, ops.transpose(key, (0, 1, 3, 2))) * (self.head_size ** -0.5)
        context = ops.matmul(ops.softmax(scores, axis=-1), value)
        context = ops.reshape(ops.transpose(context, (0, 2, 1, 3)), (-1, tokens, self.hidden_size))
        return self.proj(context)

    def get_config(self):
        return {**super().get_config(), "hidden_size": self.hidden_size, "num_heads": self.num_heads,
                "qkv_bias": self.qkv_bias}


@_serializable
class FeedForward(layers.Layer):
    """The block's MLP: fc1 -> GELU (exact) or SiLU -> fc2; or SwiGLU, whose fc1 is twice ``width``
    wide and splits into a gate half and a value half: fc2(silu(gate) * value)."""

    def __init__(self, hidden_size: int, width: int, swiglu: bool = False, activation: str = "gelu", **kwargs):
        super().__init__(**kwargs)
        self.hidden_size, self.width, self.swiglu, self.activation = int(hidden_size), int(width), bool(swiglu), \
            activation
        self.fc1 = layers.Dense(self.width * (2 if self.swiglu else 1), name="fc1")
        self.fc2 = layers.Dense(self.hidden_size, name="fc2")

    def build(self, input_shape):
        self.fc1.build(input_shape)
        self.fc2.build(tuple(input_shape[:-1]) + (self.width,))

    def call(self, x):
        hidden = self.fc1(x)
        if self.swiglu:
            gate, value = hidden[..., :self.width], hidden[..., self.width:]
            hidden = ops.silu(gate) * value
        elif self.activation == "gelu":
            hidden = ops.gelu(hidden, approximate=False)
        else:
            hidden = ops.silu(hidden)
        return self.fc2(hidden)

    def get_config(self):
        return {**super().get_config(), "hidden_size": self.hidden_size, "width": self.width,
                "swiglu": self.swiglu, "activation": self.activation}


@_serializable
class EncoderBlock(layers.Layer):
    """One pre-norm transformer block with layer scale on both residual branches."""

    def __init__(self, hidden_size: int, num_heads: int, ffn_width: int, swiglu: bool = False,
                 activation: str = "gelu", qkv_bias: bool = True, layer_norm_eps: float = 1e-6,
                 layerscale_value: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.settings = dict(hidden_size=int(hidden_size), num_heads=int(num_heads), ffn_width=int(ffn_width),
                             swiglu=bool(swiglu), activation=activation, qkv_bias=bool(qkv_bias),
                             layer_norm_eps=float(layer_norm_eps), layerscale_value=float(layerscale_value))
        self.norm1 = layers.LayerNormalization(epsilon=layer_norm_eps, name="norm1")
        self.attention = SelfAttention(hidden_size, num_heads, qkv_bias, name="attention")
        self.ls1 = LayerScale(layerscale_value, name="ls1")
        self.norm2 = layers.LayerNormalization(epsilon=layer_norm_eps, name="norm2")
        self.ffn = FeedForward(hidden_size, ffn_width, swiglu, activation, name="ffn")
        self.ls2 = LayerScale(layerscale_value, name="ls2")

    def build(self, input_shape):
        for layer in (self.norm1, self.attention, self.ls1, self.norm2, self.ffn, self.ls2):
            layer.build(input_shape)

    def call(self, x):
        x = x + self.ls1(self.attention(self.norm1(x)))
        return x + self.ls2(self.ffn(self.norm2(x)))

    def get_config(self):
        return {**super().get_config(), **self.settings}


@_serializable
class TokenPooling(layers.Layer):
    """The embedding: the class token, or the class token beside the mean of the patch tokens
    (register tokens are neither)."""

    def __init__(self, pooling: str, prefix_tokens: int, **kwargs):
        super().__init__(**kwargs)
        self.pooling, self.prefix_tokens = pooling, int(prefix_tokens)

    def call(self, tokens):
        cls = tokens[:, 0]
        if self.pooling == "cls":
            return cls
        return ops.concatenate([cls, ops.mean(tokens[:, self.prefix_tokens:], axis=1)], axis=-1)

    def get_config(self):
        return {**super().get_config(), "pooling": self.pooling, "prefix_tokens": self.prefix_tokens}


def build_vit(config: EncoderConfig, name: str | None = None):
    """The encoder as a ``keras.Model``: float images (batch, height, width, 3) in [0, 255] ->
    (batch, config.embedding_size)."""
    images = keras.Input((None, None, 3), name="images")
    x = EncoderPreprocess(config.input_size, config.mean, config.std, name="preprocess")(images)
    x = layers.Conv2D(config.hidden_size, config.patch_size, strides=config.patch_size, name="patch_embed")(x)
    x = layers.Reshape((config.input_grid ** 2, config.hidden_size), name="patch_tokens")(x)
    x = TokenEmbedding(config.hidden_size, config.num_register_tokens, config.trained_grid, config.input_grid,
                       config.prefix_positions, config.interpolation_antialias, name="tokens")(x)
    activation = "silu" if config.use_swiglu_ffn else config.hidden_act
    for index in range(config.num_hidden_layers):
        x = EncoderBlock(config.hidden_size, config.num_attention_heads, config.ffn_width, config.use_swiglu_ffn,
                         activation, config.qkv_bias, config.layer_norm_eps, config.layerscale_value,
                         name=f"block_{index}")(x)
    x = layers.LayerNormalization(epsilon=config.layer_norm_eps, name="norm")(x)
    embedding = TokenPooling(config.pooling, config.prefix_tokens, name="pooling")(x)
    return keras.Model(images, embedding, name=name or config.name.replace("-", "_").replace("+", "_"))


def encoder_variables(model, config: EncoderConfig) -> dict:
    """Every weight of a :func:`build_vit` model under one name: ``cls_token``, ``register_tokens``,
    ``position_embeddings``, ``patch_embed.kernel``/``bias``, ``blocks.{i}.{norm1,attention.qkv,
    attention.proj,ls1,norm2,ffn.fc1,ffn.fc2,ls2}.{kernel,bias,gamma,beta}``, ``norm.gamma``/``beta``."""
    tokens = model.get_layer("tokens")
    found = {"cls_token": tokens.cls_token, "position_embeddings": tokens.position_embeddings}
    if tokens.register_tokens is not None:
        found["register_tokens"] = tokens.register_tokens
    patch = model.get_layer("patch_embed")
    found.update({"patch_embed.kernel": patch.kernel, "patch_embed.bias": patch.bias})
    for index in range(config.num_hidden_layers):
        block = model.get_layer(f"block_{index}")
        parts = {"norm1": block.norm1, "attention.qkv": block.attention.qkv, "attention.proj": block.attention.proj,
                 "norm2": block.norm2, "ffn.fc1": block.ffn.fc1, "ffn.fc2": block.ffn.fc2}
        for part, layer in parts.items():
            for attribute in ("kernel", "bias", "gamma", "beta"):
                variable = getattr(layer, attribute, None)
                if variable is not None:
                    found[f"blocks.{index}.{part}.{attribute}"] = variable
        found[f"blocks.{index}.ls1.gamma"] = block.ls1.gamma
        found[f"blocks.{index}.ls2.gamma"] = block.ls2.gamma
    norm = model.get_layer("norm")
    found.update({"norm.gamma": norm.gamma, "norm.beta": norm.beta})
    return found


def embed(model, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Embeddings of a batch of [0, 255] images as a float32 NumPy array."""
    return np.asarray(model.predict(np.asarray(images, "float32"), batch_size=batch_size, verbose=0), "float32")
