"""The dataset index as a table, and the pieces every loader shares.

A :class:`DatasetIndex` has one row per usable image in ``frame``:

============= ==============================================================
path          absolute path of the image file (symbolic links are kept as found)
relpath       path relative to the root the user gave
label         class name (``benign``/``malignant``; ``normal``/``benign``/``in_situ``/``invasive``;
              BreakHis with ``task="subtype"``: the subtype, e.g. ``adenosis``)
label_index   position of ``label`` in ``class_names``
subtype       BreakHis subtype (e.g. ``adenosis``, from the file name); BACH: the class folder
magnification BreakHis ``40X`` ... ``400X``; BACH: empty
patient       BreakHis ``<year>-<slide id>`` (e.g. ``14-22549AB``); BACH: empty (no ids are published)
width, height, mode  as stored on disk
user_folder   ``train``/``val``/``test`` when the copy files the image under a folder of that name
              (a split made by whoever re-organised the archive: reported by ``bclib audit``, never used)
============= ==============================================================

Files that cannot be used are listed in ``problems`` with the reason and left out; files that
are not images (no image suffix, hidden files) are ignored. ``notes`` are facts about the data
that are not problems but change how it should be read (a patient filed under two subtypes, a
user-made train/test folder structure).
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Optional

import pandas as pd

from ..errors import UserError
from .images import ImageProblem, inspect_image, is_image_name
from .layouts import BREAKHIS_SUBTYPES, SYNTHETIC_MARKER, TASKS, class_names

COLUMNS = ["path", "relpath", "label", "label_index", "subtype", "magnification", "patient",
           "width", "height", "mode", "user_folder"]


@dataclass
class DatasetIndex:
    dataset: str
    root: Path
    class_names: list[str]
    frame: pd.DataFrame
    problems: list[dict] = field(default_factory=list)
    synthetic: bool = False
    folds: Optional[pd.DataFrame] = None  # published BreakHis folds: fold, mag, grp, path
    task: str = "binary"  # what ``label`` means: binary or (BreakHis) subtype
    notes: list[str] = field(default_factory=list)
    folds_source: str = ""  # the published folds file read (relative to root where possible)

    @property
    def has_patients(self) -> bool:
        return bool(self.frame["patient"].astype(bool).any())

    def fingerprint(self) -> str:
        """A cheap, stable identity of the indexed images (see :func:`fingerprint_files`)."""
        return fingerprint_files(self.frame["path"])

    def provenance(self) -> str:
        """One line saying what data a result came from."""
        kind = "SYNTHETIC embedded data (not real patients)" if self.synthetic else "real data"
        return f"{self.dataset} - {kind} - {len(self.frame)} images - fingerprint {self.fingerprint()}"


def fingerprint_files(paths: Iterable[str | os.PathLike]) -> str:
    """sha256 over the sorted (file name, size in bytes) of ``paths``, 16 hex digits.

    The file name, not the path, is the image's identity (BreakHis and BACH names are unique),
    so the same images give the same fingerprint whichever level of the archive is the root and
    however a copy was re-organised. Sizes rather than contents keep it fast on gigabytes; any
    added, removed, renamed or re-encoded file changes it.
    """
    entries = sorted((os.path.basename(p), os.path.getsize(p)) for p in paths)
    digest = hashlib.sha256()
    for name, size in entries:
        digest.update(f"{name}\0{size}\n".encode())
    return digest.hexdigest()[:16]


def frame_content_key(frame) -> str:
    """sha256 (16 hex digits) over each row's image path, size and modification time, in row order.

    Cheap (no decoding) and sensitive to an image rewritten in place under the same
    name, as a retrained cWGAN does; the key of every decoded-image or feature cache.
    """
    digest = hashlib.sha256()
    for path in frame["path"].astype(str):
        stat = os.stat(path)
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def walk_files(folder: Path) -> list[Path]:
    """Every non-hidden file below ``folder``, sorted, following symbolic links to folders.

    A linked folder is entered once: a link that leads back to a folder already walked (a loop,
    or a second link to the same folder) is not entered again.
    """
    files, seen = [], set()
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        try:
            stat = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        if (stat.st_dev, stat.st_ino) in seen:
            dirnames[:] = []
            continue
        seen.add((stat.st_dev, stat.st_ino))
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        files.extend(Path(dirpath) / name for name in sorted(filenames) if not name.startswith("."))
    return files


def fingerprint_tree(root: str | os.PathLike) -> str:
    """:func:`fingerprint_files` over every image file below ``root`` (no decoding)."""
    return fingerprint_files([p for p in walk_files(Path(root).resolve()) if is_image_name(p)])


def relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def add_problem(problems: list, root: Path, path: Path, text: str) -> None:
    problems.append({"path": relative(path, root), "problem": text})


def find_dir(root: Path, accept, max_depth: int = 4) -> Optional[Path]:
    """Breadth-first search for the first folder that ``accept`` says is the one."""
    level = [root]
    for _ in range(max_depth + 1):
        nxt = []
        for folder in level:
            if accept(folder):
                return folder
            try:
                nxt.extend(sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")))
            except OSError:
                continue
        level = nxt
    return None


def is_synthetic(start: Path) -> bool:
    """True when a bclib synthetic-data marker sits in ``start`` or any folder above it."""
    return any((folder / SYNTHETIC_MARKER).is_file() for folder in [start, *start.parents])


def dataset_is_synthetic(root: str | os.PathLike) -> bool:
    """Whether ``root`` belongs to a bclib synthetic dataset (marker above, at, or just below it)."""
    root = Path(root).resolve()
    return is_synthetic(root) or any((child / SYNTHETIC_MARKER).is_file()
                                     for child in root.glob("*") if child.is_dir())


def _check_images(paths: list[Path]) -> list:
    """inspect_image over many files in threads (PIL releases the GIL while decoding)."""
    def check(path):
        try:
            return inspect_image(path)
        except ImageProblem as exc:
            return exc

    workers = min(16, 2 * (os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(check, paths))


def readable_rows(candidates: list[tuple[Path, dict]], root: Path, problems: list) -> list[dict]:
    """Index rows for the candidate files that decode; the others become problems."""
    rows = []
    for (path, meta), info in zip(candidates, _check_images([p for p, _ in candidates])):
        if isinstance(info, ImageProblem):
            add_problem(problems, root, path, f"{info}; skipped")
            continue
        rows.append({"path": str(path), "relpath": relative(path, root), "user_folder": "", **meta,
                     "width": info.width, "height": info.height, "mode": info.mode})
    return rows


def make_frame(rows: Iterable[dict], class_names: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=COLUMNS)
    frame["user_folder"] = frame["user_folder"].fillna("").astype(str)
    frame["label_index"] = frame["label"].map({c: i for i, c in enumerate(class_names)}).astype("int64")
    return frame.sort_values("relpath", kind="stable").reset_index(drop=True)


def check_task(dataset: str, task: str) -> None:
    if task not in TASKS:
        raise UserError(f"unknown task '{task}' (expected {' or '.join(TASKS)})")
    if task == "subtype" and dataset != "breakhis":
        raise UserError(f"task subtype is BreakHis only; {dataset} has its {len(class_names(dataset))} classes "
                        "(use task: binary)")


def apply_task(index: DatasetIndex, task: str) -> DatasetIndex:
    """``index`` labelled for ``task``: BreakHis ``binary`` (benign/malignant) or ``subtype`` (eight classes).

    ``label`` and ``label_index`` are rewritten from the ``subtype`` column, which is kept as it is, and
    ``class_names`` follows; the same index when it already has the task. BACH knows only ``binary``
    (its four classes, unchanged); ``subtype`` on it is a :class:`~bclib.errors.UserError`.
    """
    check_task(index.dataset, task)
    if index.task == task:
        return index
    names = class_names(index.dataset, task)
    to_label = {s: (s if task == "subtype" else klass) for s, (klass, _) in BREAKHIS_SUBTYPES.items()}
    frame = index.frame.assign(label=index.frame["subtype"].map(to_label))
    frame["label_index"] = frame["label"].map({c: i for i, c in enumerate(names)}).astype("int64")
    return replace(index, class_names=names, frame=frame, task=task)
