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
    """The dataset a profile names, labelled for its task and with its patients as ``data.patient_id`` says:
    the one entry point every stage uses (``data.dataset``, ``data.root``, ``data.task`` and
    ``data.patient_id`` always go together)."""
    index = index_dataset(params.data.dataset, params.data.root, params.data.task)
    return by_accession(index) if params.data.patient_id == "accession" else index


def by_accession(index: DatasetIndex) -> DatasetIndex:
    """``index`` with each BreakHis patient id cut to its accession number (``14-22549AB`` -> ``14-22549``):
    slide folders that share one (14-22549AB, CD and G; 14-21998AB, CD and EF) become one patient, so no
    patient split can put them on two sides."""
    from dataclasses import replace

    frame = index.frame.assign(patient=index.frame["patient"].astype(str).str.replace(r"[A-Za-z]+$", "",
                                                                                      regex=True))
    merged = index.frame.groupby(frame["patient"])["patient"].nunique()
    note = (f"data.patient_id accession: {int((merged > 1).sum())} accession number(s) join several slide "
            f"folders ({', '.join(merged[merged > 1].index[:5])})" if (merged > 1).any() else
            "data.patient_id accession: no two slide folders share an accession number")
    return replace(index, frame=frame, notes=[*index.notes, note])


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
