"""Loading a downloaded checkpoint folder (``config.json`` + ``model.safetensors``) into a
:func:`~bclib.models.foundation.vit.build_vit` model.

Two naming schemes are read, told apart by their tensor names:

* transformers (``Dinov2Model``, ``Dinov2WithRegistersModel``; optionally under a ``dinov2.`` or
  ``dinov2_with_registers.`` prefix): ``embeddings.cls_token``, ``encoder.layer.{i}.attention.
  attention.query.weight``, ``encoder.layer.{i}.layer_scale1.lambda1``, ``layernorm.weight``, ...
* timm (``VisionTransformer``): ``cls_token``, ``reg_token``, ``pos_embed``, ``blocks.{i}.attn.qkv.
  weight`` (query, key and value fused), ``blocks.{i}.ls1.gamma``, ``norm.weight``, ...

Every weight of the model must come from exactly one tensor group of the file and every tensor of
the file must be used, except the few that only training or a classification head needs
(:data:`UNUSED`). A missing, unexpected or mis-shaped tensor is a :class:`UserError` naming the
tensor and the folder. PyTorch stores a linear layer's weight as (out, in) and a convolution's as
(out, in, kh, kw); Keras wants (in, out) and (kh, kw, in, out).
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ...errors import UserError
from .config import EncoderConfig

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
SHARD_INDEX = "model.safetensors.index.json"
TRANSFORMERS_PREFIXES = ("dinov2.", "dinov2_with_registers.")
# Tensors a frozen encoder does not use: masked-image-modelling's mask token, a classifier head.
UNUSED = re.compile(r"^(embeddings\.mask_token|mask_token|classifier\.\w+|head\.\w+)$")


@dataclass(frozen=True)
class Source:
    """Where one model weight comes from: the file's tensors, the shapes they must have, and how
    they become the Keras array."""
    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    combine: Callable[[list[np.ndarray]], np.ndarray]


def _same(shape):
    return Source((), (tuple(shape),), lambda arrays: arrays[0])


def _linear(shape):  # keras (in, out) <- torch (out, in)
    return Source((), ((shape[1], shape[0]),), lambda arrays: arrays[0].T)


def _conv(shape):  # keras (kh, kw, in, out) <- torch (out, in, kh, kw)
    kh, kw, cin, cout = shape
    return Source((), ((cout, cin, kh, kw),), lambda arrays: arrays[0].transpose(2, 3, 1, 0))


def _split_linear(shape):  # keras (in, 3*d) <- torch query, key, value (d, in) each
    d = shape[1] // 3
    return Source((), ((d, shape[0]),) * 3, lambda arrays: np.concatenate([a.T for a in arrays], axis=1))


def _split_bias(shape):
    d = shape[0] // 3
    return Source((), ((d,),) * 3, lambda arrays: np.concatenate(arrays))


def _named(source: Source, *names: str) -> Source:
    return Source(tuple(names), source.shapes, source.combine)


def _block_rule(attribute: str, shape):
    """A block weight other than the fused query/key/value: linear kernels are transposed; biases,
    LayerNorm and layer-scale vectors are kept."""
    return _linear(shape) if attribute == "kernel" else _same(shape)


_TRANSFORMERS_BLOCK = {"norm1": "norm1", "attention.proj": "attention.output.dense", "norm2": "norm2",
                       "ls1": "layer_scale1", "ls2": "layer_scale2"}
_TIMM_BLOCK = {"norm1": "norm1", "attention.qkv": "attn.qkv", "attention.proj": "attn.proj", "norm2": "norm2",
               "ffn.fc1": "mlp.fc1", "ffn.fc2": "mlp.fc2", "ls1": "ls1", "ls2": "ls2"}
_TORCH_ATTRIBUTE = {"kernel": "weight", "bias": "bias", "gamma": "weight", "beta": "bias"}


def _transformers_source(name: str, shape, config: EncoderConfig) -> Source:
    top = {"cls_token": "embeddings.cls_token", "register_tokens": "embeddings.register_tokens",
           "position_embeddings": "embeddings.position_embeddings", "norm.gamma": "layernorm.weight",
           "norm.beta": "layernorm.bias", "patch_embed.bias": "embeddings.patch_embeddings.projection.bias"}
    if name in top:
        return _named(_same(shape), top[name])
    if name == "patch_embed.kernel":
        return _named(_conv(shape), "embeddings.patch_embeddings.projection.weight")
    index, part, attribute = re.match(r"blocks\.(\d+)\.(.+)\.(\w+)$", name).groups()
    layer = f"encoder.layer.{index}"
    if part == "attention.qkv":
        split = _split_linear(shape) if attribute == "kernel" else _split_bias(shape)
        torch_attribute = _TORCH_ATTRIBUTE[attribute]
        return _named(split, *(f"{layer}.attention.attention.{p}.{torch_attribute}" for p in ("query", "key", "value")))
    if part in ("ls1", "ls2"):
        return _named(_same(shape), f"{layer}.{_TRANSFORMERS_BLOCK[part]}.lambda1")
    if part.startswith("ffn."):
        names = ("weights_in", "weights_out") if config.use_swiglu_ffn else ("fc1", "fc2")
        module = f"mlp.{names[0] if part == 'ffn.fc1' else names[1]}"
    else:
        module = _TRANSFORMERS_BLOCK[part]
    return _named(_block_rule(attribute, shape), f"{layer}.{module}.{_TORCH_ATTRIBUTE[attribute]}")


def _timm_source(name: str, shape, config: EncoderConfig) -> Source:
    top = {"cls_token": "cls_token", "register_tokens": "reg_token", "position_embeddings": "pos_embed",
           "norm.gamma": "norm.weight", "norm.beta": "norm.bias", "patch_embed.bias": "patch_embed.proj.bias"}
    if name in top:
        return _named(_same(shape), top[name])
    if name == "patch_embed.kernel":
        return _named(_conv(shape), "patch_embed.proj.weight")
    index, part, attribute = re.match(r"blocks\.(\d+)\.(.+)\.(\w+)$", name).groups()
    torch_attribute = "gamma" if part in ("ls1", "ls2") else _TORCH_ATTRIBUTE[attribute]
    return _named(_block_rule(attribute, shape), f"blocks.{index}.{_TIMM_BLOCK[part]}.{torch_attribute}")


def _tensor_files(folder: Path) -> list[Path]:
    index = folder / SHARD_INDEX
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return [folder / shard for shard in shards]
    if not (folder / WEIGHTS_FILE).is_file():
        raise UserError(f"{folder}: no {WEIGHTS_FILE} (nor {SHARD_INDEX}); download the checkpoint's safetensors "
                        "weights into this folder")
    return [folder / WEIGHTS_FILE]


def _safe_open():
    try:
        from safetensors import safe_open
    except ImportError as error:  # an optional extra: only loading real weights needs it
        raise UserError("reading model.safetensors needs the 'safetensors' package: "
                        "pip install 'bclib[foundation]'") from error
    return safe_open


@dataclass(frozen=True)
class StoredTensor:
    path: Path
    shape: tuple[int, ...]
    dtype: str


def tensor_index(folder: Path) -> dict[str, StoredTensor]:
    """Every tensor in the folder's safetensors file(s), with its file, shape and dtype, read from
    the headers only (a ViT-g's 4 GB are not loaded to check names and shapes)."""
    safe_open = _safe_open()
    index = {}
    for path in _tensor_files(folder):
        with safe_open(str(path), framework="np") as handle:
            for key in handle.keys():
                view = handle.get_slice(key)
                index[key] = StoredTensor(path, tuple(view.get_shape()), view.get_dtype())
    return index


def checkpoint_layout(names, folder: Path) -> tuple[str, str]:
    """("transformers" or "timm", the prefix to strip) from the tensor names."""
    for prefix in ("",) + TRANSFORMERS_PREFIXES:
        if f"{prefix}embeddings.cls_token" in names:
            return "transformers", prefix
    if "cls_token" in names and "pos_embed" in names:
        return "timm", ""
    raise UserError(f"{folder}: neither a transformers DINOv2 checkpoint (no embeddings.cls_token) nor a timm "
                    "ViT (no cls_token/pos_embed)")


def weight_sources(variables: dict, config: EncoderConfig, layout: str, prefix: str) -> dict[str, Source]:
    """Model weight name -> its :class:`Source` in a checkpoint of ``layout``."""
    rule = _transformers_source if layout == "transformers" else _timm_source
    sources = {}
    for name, variable in variables.items():
        source = rule(name, tuple(variable.shape), config)
        sources[name] = Source(tuple(prefix + n for n in source.names), source.shapes, source.combine)
    return sources


def _check_names(sources: dict[str, Source], index: dict[str, StoredTensor], prefix: str, folder: Path):
    wanted = [name for source in sources.values() for name in source.names]
    missing = [name for name in wanted if name not in index]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise UserError(f"{folder}: checkpoint lacks tensor {missing[0]!r}{more}")
    wanted = set(wanted)
    unexpected = [name for name in index if name not in wanted and not UNUSED.match(name.removeprefix(prefix))]
    if unexpected:
        more = f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else ""
        raise UserError(f"{folder}: unexpected tensor {unexpected[0]!r}{more} for this encoder's architecture")


def _check_shapes(sources: dict[str, Source], index: dict[str, StoredTensor], folder: Path):
    for source in sources.values():
        for name, shape in zip(source.names, source.shapes):
            stored = index[name]
            if stored.shape != shape:
                raise UserError(f"{folder}: tensor {name!r} has shape {list(stored.shape)}, this encoder needs "
                                f"{list(shape)}")
            if stored.dtype not in ("F32", "F16", "F64"):
                raise UserError(f"{folder}: tensor {name!r} is {stored.dtype}; only float32/16/64 tensors are read "
                                "(save the checkpoint in float32)")


def load_checkpoint(variables: dict, config: EncoderConfig, folder: Path) -> list[str]:
    """Assign every model weight (``variables``: name -> Keras variable, as from
    :func:`~bclib.models.foundation.vit.encoder_variables`) from the folder's tensors. All names and
    shapes are checked before the first weight changes. Returns the file's tensors left unused."""
    folder = Path(folder)
    index = tensor_index(folder)
    layout, prefix = checkpoint_layout(index, folder)
    sources = weight_sources(variables, config, layout, prefix)
    _check_names(sources, index, prefix, folder)
    _check_shapes(sources, index, folder)
    safe_open = _safe_open()
    with contextlib.ExitStack() as stack:
        handles = {path: stack.enter_context(safe_open(str(path), framework="np"))
                   for path in {stored.path for stored in index.values()}}
        for name, source in sources.items():  # one weight at a time: the file is never all in memory
            arrays = [handles[index[n].path].get_tensor(n).astype("float32") for n in source.names]
            variables[name].assign(source.combine(arrays))
    used = {n for source in sources.values() for n in source.names}
    return sorted(set(index) - used)
