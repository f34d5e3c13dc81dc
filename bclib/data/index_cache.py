"""Indexes kept on disk, so that a dataset is decoded once, not once per job.

Indexing checks that every image decodes: about 2.5 minutes for BreakHis' 7,909 tiles on two
cores, paid again by the GAN, every training job, the report and each notebook. The finished
index is therefore stored, keyed by everything that determines it: the dataset, the resolved
root, every file below it (path, size, modification time) and the folds, ground-truth or
marker files above it that the loaders read, and the source code of :mod:`bclib.data` and
:mod:`bclib.reference`. Any added, removed, replaced or touched file makes a new key, so a
stale index is never read. The store is ``$BCLIB_CACHE_DIR`` (default
``$XDG_CACHE_HOME/bclib`` or ``~/.cache/bclib``), ``index/<key>.json``; an unreadable
entry is rebuilt. ``BCLIB_CACHE_DIR=off`` disables it.

Entries are JSON (the tables in pandas' Table Schema form, which keeps their column types), not
pickles: cache folders get copied and shared, and loading a pickle can run whatever code it names.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Callable, Optional

import pandas as pd

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


ENTRY_FORMAT = 1  # bumped when the entry's layout changes; entries of another format are rebuilt


def _table(frame: Optional[pd.DataFrame]) -> Optional[str]:
    return None if frame is None else frame.to_json(orient="table", index=False)


def _frame(text: Optional[str]) -> Optional[pd.DataFrame]:
    return None if text is None else pd.read_json(io.StringIO(text), orient="table")


def index_to_json(index: DatasetIndex) -> str:
    return json.dumps({
        "format": ENTRY_FORMAT, "dataset": index.dataset, "root": str(index.root), "class_names": index.class_names,
        "frame": _table(index.frame), "problems": index.problems, "synthetic": index.synthetic,
        "folds": _table(index.folds), "task": index.task, "notes": index.notes, "folds_source": index.folds_source,
    }, default=str)


def index_from_json(text: str) -> DatasetIndex:
    """The index an entry holds; ValueError (or KeyError, TypeError) when it is not one of this format."""
    entry = json.loads(text)
    if entry.get("format") != ENTRY_FORMAT:
        raise ValueError("an index entry of another format")
    return DatasetIndex(entry["dataset"], Path(entry["root"]), list(entry["class_names"]), _frame(entry["frame"]),
                        list(entry["problems"]), bool(entry["synthetic"]), _frame(entry["folds"]), entry["task"],
                        list(entry["notes"]), entry["folds_source"])


def cached_index(dataset: str, root: Path, build: Callable[[], DatasetIndex]) -> DatasetIndex:
    """The index of ``root`` from the store when its key is there, else ``build()``, stored for next time."""
    folder = cache_dir()
    if folder is None:
        return build()
    path = folder / "index" / f"{index_key(dataset, root)}.json"
    if path.is_file():
        try:
            return index_from_json(path.read_text())
        except (OSError, ValueError, KeyError, TypeError):
            pass  # unreadable or of another format: rebuilt below
    index = build()
    try:
        with atomic_path(path) as tmp:
            tmp.write_text(index_to_json(index))
    except OSError:
        pass  # a read-only or full cache folder costs time, never a result
    return index
