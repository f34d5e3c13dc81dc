"""Dataset indexes: one tidy table per dataset, read from the layouts users have.

``index_dataset("breakhis", root)`` and ``index_dataset("bach", root)`` find the images below
``root``, check every one and return a :class:`~bclib.data.records.DatasetIndex` (its columns
are described in :mod:`bclib.data.records`). BreakHis is read by file name, whatever the tree
(:mod:`bclib.data.breakhis`), with its published folds when a folds file is there
(:mod:`bclib.data.folds`); BACH from its class folders and ground truth (:mod:`bclib.data.bach`).
A root with no usable images at all is a :class:`~bclib.errors.UserError`.

The task (``data.task``) decides what ``label`` means: BreakHis ``binary`` (benign/malignant,
the default) or ``subtype`` (its eight subtypes, see :func:`apply_task`); BACH has only its four
classes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..errors import UserError
from .bach import index_bach
from .breakhis import index_breakhis
from .index_cache import cached_index
from .records import (
    COLUMNS,
    DatasetIndex,
    add_problem,
    apply_task,
    check_task,
    dataset_is_synthetic,
    fingerprint_files,
    fingerprint_tree,
    frame_content_key,
    make_frame,
    readable_rows,
)

__all__ = ["COLUMNS", "DatasetIndex", "apply_task", "dataset_is_synthetic", "fingerprint_files", "fingerprint_tree",
           "frame_content_key", "index_bach", "index_breakhis", "index_dataset", "index_generated"]


def index_dataset(dataset: str, root: str | os.PathLike, task: str = "binary") -> DatasetIndex:
    """Index ``root`` as ``dataset`` (``breakhis`` or ``bach``) labelled for ``task`` (``binary``/``subtype``).

    The index is kept on disk and reused while nothing it depends on has changed
    (:mod:`bclib.data.index_cache`), so only the first call decodes the images.
    """
    builders = {"breakhis": index_breakhis, "bach": index_bach}
    if dataset not in builders:
        raise UserError(f"unknown dataset '{dataset}' (expected breakhis or bach)")
    check_task(dataset, task)
    root = Path(root).resolve()
    if not root.is_dir():
        raise UserError(f"{root}: dataset folder does not exist")
    return apply_task(cached_index(dataset, root, lambda: builders[dataset](root)), task)


def index_from_params(params) -> DatasetIndex:
    """The dataset a profile names, labelled for its task: the one entry point every stage uses
    (``data.dataset``, ``data.root`` and ``data.task`` always go together)."""
    return index_dataset(params.data.dataset, params.data.root, params.data.task)


def index_generated(folder: str | os.PathLike, class_names: list[str]) -> DatasetIndex:
    """Read a folder written by ``bclib gan generate`` (its ``manifest.csv``) as an index.

    Rows have ``subtype`` = ``cwgan`` and no patient or magnification, so they can be
    concatenated to a training split (``pd.concat([train, generated.frame])``).
    """
    folder = Path(folder).resolve()
    manifest = folder / "manifest.csv"
    if not manifest.is_file():
        raise UserError(f"{folder}: no manifest.csv; not a folder written by `bclib gan generate`")
    table = pd.read_csv(manifest, dtype=str)
    problems: list[dict] = []
    candidates = []
    for name, klass in zip(table["file"], table["class"]):
        path = folder / name
        if klass not in class_names:
            add_problem(problems, folder, path, f"class '{klass}' is not one of {class_names}; skipped")
            continue
        candidates.append((path, {"label": klass, "subtype": "cwgan", "magnification": "", "patient": ""}))
    rows = readable_rows(candidates, folder, problems)
    if not rows:
        raise UserError(f"{folder}: manifest.csv lists no usable images")
    return DatasetIndex("generated", folder, list(class_names), make_frame(rows, class_names), problems,
                        synthetic=True)
