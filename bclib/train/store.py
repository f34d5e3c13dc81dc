"""Frozen-trunk outputs, computed once per image and kept on disk.

Because the pretrained parts of a model are frozen in the first stage, their
output for an image never changes: it is computed once and cached, and the
trainable top is fitted on the cached arrays (``benchmarks/bench_train.py``
measures how much faster that is than pushing every image through the
backbones every epoch).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import pandas as pd

from ..backend import tensorflow
from ..data.pipeline import make_dataset
from ..io import atomic_path
from .augment import hed_jitter, tradaug_layer

FEATURE_BATCH = 32  # images per batch when computing frozen-trunk features (memory grows with it)


def frame_key(frame: pd.DataFrame) -> str:
    return hashlib.sha256("\n".join(frame["path"]).encode()).hexdigest()[:16]


def _as_list(outputs):
    return outputs if isinstance(outputs, (list, tuple)) else [outputs]


def trunk_outputs(trunk, frames: Sequence[pd.DataFrame], image_size: int, batch_size: int,
                  caches: Sequence[Optional[Path]], augment: Optional[Callable] = None) -> list:
    """Trunk outputs for every row of each frame: per frame an array, or a list of arrays for several taps.

    Outputs are cached per frame as ``.npz``; the frames not cached yet are run
    through the trunk together in one ``predict`` call (each call traces the
    trunk anew, which costs seconds for the three-backbone model).
    """
    results: list = [None] * len(frames)
    missing = []
    for i, cache in enumerate(caches):
        if cache is not None and cache.is_file():
            with np.load(cache) as stored:
                arrays = [stored[f"a{k}"] for k in range(len(stored.files))]
            results[i] = arrays[0] if len(arrays) == 1 else arrays
        else:
            missing.append(i)
    if not missing:
        return results
    together = pd.concat([frames[i] for i in missing], ignore_index=True)
    # Inference batches are larger than training batches (no gradients are kept), and
    # predict() runs the trunk as one compiled function: calling it eagerly batch by
    # batch was ten times slower for the three-backbone trunk on CPU.
    dataset = make_dataset(together, image_size, max(batch_size, FEATURE_BATCH), cache=False, label_column=None)
    if augment is not None:
        dataset = dataset.map(augment, num_parallel_calls=1, deterministic=True)
    outputs = [np.asarray(a) for a in _as_list(trunk.predict(dataset, verbose=0))]
    start = 0
    for i in missing:
        stop = start + len(frames[i])
        arrays = [a[start:stop] for a in outputs]
        start = stop
        if caches[i] is not None:
            with atomic_path(caches[i]) as tmp:
                np.savez(tmp, **{f"a{k}": a for k, a in enumerate(arrays)})
        results[i] = arrays[0] if len(arrays) == 1 else arrays
    return results


def concatenate(blocks):
    """Row-wise concatenation of trunk outputs (arrays, or lists of arrays for several taps)."""
    if isinstance(blocks[0], list):
        return [np.concatenate([b[i] for b in blocks]) for i in range(len(blocks[0]))]
    return np.concatenate(blocks)


def offline_augmenter(seed: int, stain_sigma: float):
    """One offline TradAug copy (plus optional HED stain jitter) as a function on image batches."""
    tf = tensorflow()
    layer = tradaug_layer(seed)
    rng = np.random.default_rng(seed)

    def augment(batch):
        out = layer(batch, training=True)
        if stain_sigma > 0:
            out = tf.numpy_function(lambda b: np.stack([hed_jitter(x, rng, stain_sigma) for x in b]), [out], tf.float32)
        return out

    return augment
