"""Indexes kept on disk, so that a dataset is decoded once, not once per job.

Indexing checks that every image decodes: about 2.5 minutes for BreakHis' 7,909 tiles on two
cores, paid again by the GAN, every training job, the report and each notebook. The finished
index is therefore stored, keyed by everything that determines it: the dataset, the resolved
root, every file below it (path, size, modification time) and the folds, ground-truth or
marker files above it that the loaders read, and the source code of :mod:`bclib.data` and
:mod:`bclib.reference`. Any added, removed, replaced or touched file makes a new key, so a
stale index is never read. The store is ``$BCLIB_CACHE_DIR`` (default
``$XDG_CACHE_HOME/bclib`` or ``~/.cache/bclib``), ``index/<key>.pickle``; an unreadable
entry is rebuilt. ``BCLIB_CACHE_DIR=off`` disables it.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path
from typing import Callable, Optional

from ..io import atomic_path
from ..source_hash import code_version
from .folds import DSFOLD_FILES, FOLDS_CSV
from .layouts import SYNTHETIC_MARKER
from .records import DatasetIndex, walk_files

_ABOVE_ROOT = (FOLDS_CSV, *DSFOLD_FILES, SYNTHETIC_MARKER, "microscopy_ground_truth.csv")


def cache_dir() -> Optional[Path]:
    """Where indexes are kept (None when ``BCLIB_CACHE_DIR=off``)."""
    chosen = os.environ.get("BCLIB_CACHE_DIR")
    if chosen == "off":
        return None
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bclib"


def index_key(dataset: str, root: Path) -> str:
    """sha256 (24 hex digits) of what an index of ``root`` depends on (see the module notes)."""
    digest = hashlib.sha256(f"{dataset}\0{root}\0{code_version(('data', 'reference'))}\n".encode())
    above = [folder / name for folder in list(root.parents)[:5] for name in _ABOVE_ROOT]
    for path in [*walk_files(root), *(p for p in above if p.is_file())]:
        try:
            stat = path.stat()
        except OSError:  # a broken link: part of the tree as found
            digest.update(f"{path}\0broken\n".encode())
            continue
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:24]


def cached_index(dataset: str, root: Path, build: Callable[[], DatasetIndex]) -> DatasetIndex:
    """The index of ``root`` from the store when its key is there, else ``build()``, stored for next time."""
    folder = cache_dir()
    if folder is None:
        return build()
    path = folder / "index" / f"{index_key(dataset, root)}.pickle"
    if path.is_file():
        try:
            with open(path, "rb") as fh:
                index = pickle.load(fh)
            if isinstance(index, DatasetIndex):
                return index
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            pass  # unreadable or from other code: rebuilt below
    index = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            pickle.dump(index, fh, protocol=pickle.HIGHEST_PROTOCOL)
    except OSError:
        pass  # a read-only or full cache folder costs time, never a result
    return index
