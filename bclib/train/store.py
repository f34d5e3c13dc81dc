"""Frozen-trunk outputs, computed once per image and kept on disk in float16.

Because the pretrained parts of a model are frozen in the first stage, their
output for an image never changes: it is computed once and stored, and the
trainable top is fitted on the stored arrays (``benchmarks/bench_train.py``
measures how much faster that is than pushing every image through the
backbones every epoch).

**Memory does not grow with the dataset.** The fusion model's three taps at
224 px are 501,760 numbers per image (2 MB in float32, 15.9 GB for BreakHis).
A store is therefore written batch by batch to one ``.npy`` file per tap
(float16, which halves the disk and keeps three significant digits: ample for
post-ReLU activations, see ``tests/test_store.py``) and read back batch by batch
with plain file reads (:class:`StoreReader`) inside ``tf.data``: neither writing
nor training ever holds more than a few batches. Reads avoid ``mmap`` on
purpose: pages of a memory map count towards the process's resident memory.

**Keys.** A store's folder name is a hash of everything that determines its
numbers (:func:`store_key`): the trunk (model, weights, input size, calibration),
each image's path, size and modification time (so a regenerated cWGAN image
with the same name gets new features), the augmentation applied, the stain
reference the images were normalised onto (its hash), the source code
of the models, the input pipeline and this module, and the TensorFlow, Keras and
NumPy versions. A stale store is never read; a complete one carries
``meta.json``, written last, and is swapped in whole (written, then renamed).
"""

from __future__ import annotations

import hashlib
import json
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import pandas as pd

from ..backend import tensorflow
from ..data.index import frame_content_key
from ..data.pipeline import make_dataset
from ..io import atomic_directory, write_json_atomic
from ..ledger import code_version, numeric_packages
from ..progress import ProgressLines
from ..rowfile import RowFile, RowFileWriter
from .tradaug import hed_jitter, tradaug_layer

FEATURE_BATCH = 32  # images per batch when computing frozen-trunk features (memory grows with it)
STORE_DTYPE = np.float16
# The code whose change changes the stored numbers.
STORE_CODE = ("models", "data/pipeline.py", "data/images.py", "data/stain.py", "train/store.py", "train/tradaug.py",
              "backend.py")


def store_key(trunk_id: str, frame: pd.DataFrame, image_size: int, augmentation: str = "", stain: str = "",
              geometry: str = "squash") -> str:
    """The name of the store holding ``trunk_id``'s outputs for ``frame``'s images (see the module notes);
    ``stain`` is the key of the stain reference the images are normalised onto ("" for none), ``geometry``
    how they were made square (``data.geometry``: other pixels, other outputs)."""
    what = {"trunk": trunk_id, "images": frame_content_key(frame), "n": len(frame), "size": image_size,
            "augmentation": augmentation, "stain": stain, "code": code_version(STORE_CODE),
            "packages": numeric_packages()}
    if geometry != "squash":  # keys of squashed stores (all of them before data.geometry) stay as they were
        what["geometry"] = geometry
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:20]


def _as_list(outputs):
    return outputs if isinstance(outputs, (list, tuple)) else [outputs]


@dataclass(frozen=True)
class Store:
    """A complete store: ``folder`` with ``tap<k>.npy`` (float16, one row per image) and ``meta.json``."""

    folder: Path
    rows: int
    shapes: tuple[tuple[int, ...], ...]

    @classmethod
    def open(cls, folder: Path) -> Optional["Store"]:
        try:
            meta = json.loads((folder / "meta.json").read_text())
        except (OSError, ValueError):
            return None
        return cls(folder, int(meta["rows"]), tuple(tuple(s) for s in meta["shapes"]))

    def tap(self, k: int) -> Path:
        return self.folder / f"tap{k}.npy"

    def load(self) -> list[np.ndarray]:
        """Every row in memory as float32: for small stores and tests only."""
        return [np.load(self.tap(k)).astype(np.float32) for k in range(len(self.shapes))]


_INFERENCE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _compiled_inference(trunk):
    """One compiled forward pass per trunk, reused by every store it writes (eager calls were ten times
    slower for the fusion trunk, and a new tf.function per store would be traced again each time)."""
    if trunk not in _INFERENCE:
        tf = tensorflow()
        size = tuple(int(d) for d in trunk.input.shape[1:])
        _INFERENCE[trunk] = tf.function(lambda images: trunk(images, training=False),
                                        input_signature=[tf.TensorSpec((None, *size), tf.float32)])
    return _INFERENCE[trunk]


def _finite_float16(batch: np.ndarray) -> np.ndarray:
    limit = np.finfo(STORE_DTYPE).max
    return np.clip(batch, -limit, limit).astype(STORE_DTYPE)


def write_store(trunk, frame: pd.DataFrame, image_size: int, folder: Path,
                augment: Optional[Callable] = None, batch_size: int = FEATURE_BATCH,
                log: Callable[[str], None] = print, stain=None, geometry: str = "squash") -> Store:
    """Run ``frame``'s images (stain-normalised onto ``stain`` if given, made square by ``geometry``) through
    ``trunk`` batch by batch and write the outputs into ``folder``."""
    dataset = make_dataset(frame, image_size, batch_size, cache=False, label_column=None, stain=stain,
                           geometry=geometry)
    if augment is not None:
        dataset = dataset.map(augment, num_parallel_calls=1, deterministic=True)
    infer = _compiled_inference(trunk)
    shapes = tuple(tuple(int(d) for d in t.shape[1:]) for t in _as_list(trunk.output))
    with atomic_directory(folder, keep_existing=True) as tmp:  # named by content (store_key)
        writers = [RowFileWriter(tmp / f"tap{k}.npy", len(frame), shape, STORE_DTYPE) for k, shape in enumerate(shapes)]
        progress = ProgressLines(len(frame), f"trunk outputs ({folder.name[:8]})", "img", log)
        try:
            for images in dataset:
                for writer, output in zip(writers, _as_list(infer(images))):
                    writer.append(_finite_float16(np.asarray(output)))
                progress.update(int(images.shape[0]))
        finally:
            for writer in writers:
                writer.close()
        write_json_atomic(tmp / "meta.json", {"rows": len(frame), "shapes": [list(s) for s in shapes],
                                              "dtype": np.dtype(STORE_DTYPE).name})
    return Store(folder, len(frame), shapes)


def stored_outputs(trunk, frame: pd.DataFrame, image_size: int, folder: Path,
                   augment: Optional[Callable] = None, log: Callable[[str], None] = print, stain=None,
                   geometry: str = "squash") -> Store:
    """The store in ``folder``, written first if it is not there (complete) yet."""
    return Store.open(folder) or write_store(trunk, frame, image_size, folder, augment, log=log, stain=stain,
                                             geometry=geometry)


class StoreReader:
    """Rows of several stores (concatenated in order) read with plain file reads, for ``tf.data``."""

    def __init__(self, stores: Sequence[Store]):
        self.stores = list(stores)
        self.shapes = self.stores[0].shapes
        if any(s.shapes != self.shapes for s in self.stores):
            raise ValueError("stores of different trunks cannot be read together")
        self.offsets = np.cumsum([0] + [s.rows for s in self.stores])
        self.files = [[RowFile(s.tap(k)) for k in range(len(self.shapes))] for s in self.stores]

    @property
    def rows(self) -> int:
        return int(self.offsets[-1])

    def gather(self, rows: np.ndarray) -> list[np.ndarray]:
        """The outputs of ``rows`` (global row numbers, any order) as float32 arrays, one per tap."""
        rows = np.asarray(rows, dtype=np.int64)
        out = [np.empty((len(rows), *shape), np.float32) for shape in self.shapes]
        which = np.searchsorted(self.offsets, rows, side="right") - 1
        for s, files in enumerate(self.files):
            positions = np.flatnonzero(which == s)
            if len(positions):
                for k, file in enumerate(files):
                    out[k][positions] = file.gather(rows[positions] - self.offsets[s])
        return out

    def dataset(self, labels: Optional[np.ndarray], batch_size: int, shuffle: bool = False, seed: int = 0):
        """A ``tf.data.Dataset`` of (outputs, label) batches (outputs alone when ``labels`` is None)."""
        tf = tensorflow()
        n_taps = len(self.shapes)
        ds = tf.data.Dataset.range(self.rows)
        if shuffle:
            ds = ds.shuffle(self.rows, seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size)
        label_array = None if labels is None else np.asarray(labels, dtype=np.int32)

        def read(rows):
            arrays = self.gather(rows)
            return (*arrays, label_array[rows]) if label_array is not None else tuple(arrays)

        types = [tf.float32] * n_taps + ([tf.int32] if label_array is not None else [])

        def load(rows):
            values = tf.numpy_function(read, [rows], types, stateful=False)
            for value, shape in zip(values, self.shapes):
                value.set_shape((None, *shape))
            inputs = values[0] if n_taps == 1 else tuple(values[:n_taps])
            if label_array is None:
                # A 1-tuple: Keras' predict() would read a bare 3-tuple of taps as (x, y, sample_weight).
                return (inputs,)
            values[n_taps].set_shape((None,))
            return inputs, values[n_taps]

        return ds.map(load, num_parallel_calls=1, deterministic=True).prefetch(2)


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
