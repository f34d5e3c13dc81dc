"""Dataset indexes: one tidy table per dataset, read from the real layouts.

``index_dataset("breakhis", root)`` and ``index_dataset("bach", root)`` walk
the archive as it is distributed, check every image, and return a
:class:`DatasetIndex` whose ``frame`` has one row per usable image:

========== ==============================================================
path       absolute path of the image file
relpath    path relative to the root the user gave
label      class name (``benign``/``malignant``; ``normal``/``benign``/``in_situ``/``invasive``;
           BreakHis with ``task="subtype"``: the subtype, e.g. ``adenosis``)
label_index position of ``label`` in ``class_names``
subtype    BreakHis subtype folder (e.g. ``adenosis``); BACH: the class folder
magnification BreakHis ``40X`` ... ``400X``; BACH: empty
patient    BreakHis ``<year>-<slide id>`` (e.g. ``14-22549AB``); BACH: empty (no ids are published)
width, height, mode  as stored on disk
========== ==============================================================

Files that cannot be used are listed in ``problems`` with the reason and
left out; files that are not images (no image suffix, hidden files) are
ignored. A root with no usable images at all is a :class:`~bclib.errors.UserError`.

The task (``data.task``) decides what ``label`` means: BreakHis ``binary``
(benign/malignant, the default) or ``subtype`` (its eight subtypes, see
:func:`apply_task`); BACH has only its four classes.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Optional

import pandas as pd

from ..errors import UserError
from .images import ImageProblem, inspect_image, is_image_name
from .layouts import (
    BACH_CLASS_NAMES,
    BACH_FOLDERS,
    BREAKHIS_CLASSES,
    BREAKHIS_MAGNIFICATIONS,
    BREAKHIS_SUBTYPES,
    SYNTHETIC_MARKER,
    TASKS,
    class_names,
)

_BREAKHIS_NAME = re.compile(
    r"^SOB_(?P<letter>[BM])_(?P<code>[A-Z]+)-(?P<year>\d+)-(?P<slide>[0-9]+[A-Za-z]*)"
    r"-(?P<mag>\d+)-(?P<seq>\d+)\.png$",
    re.IGNORECASE,
)
_CODE_TO_SUBTYPE = {code: subtype for subtype, (_, code) in BREAKHIS_SUBTYPES.items()}
_BACH_FOLDER_TO_CLASS = {folder: klass for folder, (klass, _, _) in BACH_FOLDERS.items()}
_BACH_LABEL_ALIASES = {
    "normal": "normal", "benign": "benign", "insitu": "in_situ", "in_situ": "in_situ",
    "in situ": "in_situ", "invasive": "invasive",
}
COLUMNS = ["path", "relpath", "label", "label_index", "subtype", "magnification", "patient", "width", "height", "mode"]


@dataclass
class DatasetIndex:
    dataset: str
    root: Path
    class_names: list[str]
    frame: pd.DataFrame
    problems: list[dict] = field(default_factory=list)
    synthetic: bool = False
    folds: Optional[pd.DataFrame] = None  # BreakHis Folds.csv: fold, mag, grp, path
    task: str = "binary"  # what ``label`` means: binary or (BreakHis) subtype

    @property
    def has_patients(self) -> bool:
        return bool(self.frame["patient"].astype(bool).any())

    def fingerprint(self) -> str:
        """A cheap, stable identity of the indexed images (see :func:`fingerprint_files`)."""
        return fingerprint_files(self.frame["path"], self.root)

    def provenance(self) -> str:
        """One line saying what data a result came from."""
        kind = "SYNTHETIC embedded data (not real patients)" if self.synthetic else "real data"
        return f"{self.dataset} - {kind} - {len(self.frame)} images - fingerprint {self.fingerprint()}"


def fingerprint_files(paths: Iterable[str | os.PathLike], base: Path) -> str:
    """sha256 over the sorted (path relative to ``base``, size in bytes) of ``paths``, 16 hex digits.

    Sizes rather than contents keep it fast on the real datasets (gigabytes);
    any added, removed, renamed or re-encoded file changes it.
    """
    entries = sorted((Path(p).relative_to(base).as_posix(), os.path.getsize(p)) for p in paths)
    digest = hashlib.sha256()
    for rel, size in entries:
        digest.update(f"{rel}\0{size}\n".encode())
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


def fingerprint_tree(root: str | os.PathLike) -> str:
    """:func:`fingerprint_files` over every image file below ``root`` (no decoding)."""
    root = Path(root).resolve()
    return fingerprint_files([p for p in _walk_files(root) if is_image_name(p)], root)


def _problem(problems: list, root: Path, path: Path, text: str) -> None:
    try:
        rel = path.relative_to(root).as_posix()
    except ValueError:
        rel = str(path)
    problems.append({"path": rel, "problem": text})


def _find_dir(root: Path, accept, max_depth: int = 4) -> Optional[Path]:
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


def _is_synthetic(start: Path) -> bool:
    """True when a bclib synthetic-data marker sits in ``start`` or any folder above it."""
    return any((folder / SYNTHETIC_MARKER).is_file() for folder in [start, *start.parents])


def dataset_is_synthetic(root: str | os.PathLike) -> bool:
    """Whether ``root`` belongs to a bclib synthetic dataset (marker above, at, or just below it)."""
    root = Path(root).resolve()
    return _is_synthetic(root) or any((child / SYNTHETIC_MARKER).is_file()
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


def _readable_rows(candidates: list[tuple[Path, dict]], root: Path, problems: list) -> list[dict]:
    """Index rows for the candidate files that decode; the others become problems."""
    rows = []
    for (path, meta), info in zip(candidates, _check_images([p for p, _ in candidates])):
        if isinstance(info, ImageProblem):
            _problem(problems, root, path, f"{info}; skipped")
            continue
        rows.append({"path": str(path), "relpath": path.relative_to(root).as_posix(), **meta,
                     "width": info.width, "height": info.height, "mode": info.mode})
    return rows


def _frame(rows: Iterable[dict], class_names: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=COLUMNS)
    frame["label_index"] = frame["label"].map({c: i for i, c in enumerate(class_names)}).astype("int64")
    return frame.sort_values("relpath", kind="stable").reset_index(drop=True)


def _walk_files(folder: Path) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        files.extend(Path(dirpath) / name for name in sorted(filenames))
    return files


# ---------------------------------------------------------------------------
# BreakHis


def _breast_dir(root: Path) -> Optional[Path]:
    """The folder holding ``benign/SOB`` and ``malignant/SOB`` (``.../histology_slides/breast``)."""
    return _find_dir(root, lambda folder: any((folder / c / "SOB").is_dir() for c in BREAKHIS_CLASSES))


def index_breakhis(root: str | os.PathLike, task: str = "binary") -> DatasetIndex:
    """Index a BreakHis archive; ``task`` ``subtype`` labels images by subtype (see :func:`apply_task`)."""
    _check_task("breakhis", task)
    root = Path(root).resolve()
    if not root.is_dir():
        raise UserError(f"{root}: dataset folder does not exist")
    breast = _breast_dir(root)
    if breast is None:
        raise UserError(f"{root}: no BreakHis dataset here (looked for histology_slides/breast/<benign|malignant>/SOB)")
    problems: list[dict] = []
    candidates: list[tuple[Path, dict]] = []

    for klass in BREAKHIS_CLASSES:
        if not (breast / klass).is_dir():
            _problem(problems, root, breast / klass, f"class folder '{klass}' is missing")
    for subtype, (klass, _) in BREAKHIS_SUBTYPES.items():
        folder = breast / klass / "SOB" / subtype
        if (breast / klass).is_dir() and not folder.is_dir():
            _problem(problems, root, folder, f"subtype folder '{subtype}' is missing")
        elif folder.is_dir() and not any(is_image_name(p) for p in _walk_files(folder)):
            _problem(problems, root, folder, "subtype folder has no images")
        if folder.is_dir():
            for slide in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
                missing = [m for m in BREAKHIS_MAGNIFICATIONS if not (slide / m).is_dir()]
                if missing:
                    _problem(problems, root, slide, f"slide has no {', '.join(missing)} folder(s)")

    for path in _walk_files(breast):
        if not is_image_name(path):
            continue
        match = _BREAKHIS_NAME.match(path.name)
        if match is None:
            _problem(problems, root, path,
                     "file name does not follow SOB_<B|M>_<code>-<year>-<id>-<mag>-<seq>.png; skipped")
            continue
        parts = path.relative_to(breast).parts  # class, SOB, subtype, slide, magX, file
        letter, code = match["letter"].upper(), match["code"].upper()
        subtype = _CODE_TO_SUBTYPE.get(code)
        mag = f"{int(match['mag'])}X"
        label = "benign" if letter == "B" else "malignant"
        reason = None
        if subtype is None:
            reason = f"unknown subtype code '{code}'"
        elif BREAKHIS_SUBTYPES[subtype][0] != label:
            reason = f"subtype code '{code}' contradicts class letter '{letter}'"
        elif mag not in BREAKHIS_MAGNIFICATIONS:
            reason = f"unknown magnification '{mag}'"
        elif len(parts) == 6 and (parts[0].lower() != label or parts[2].lower() != subtype or parts[4].upper() != mag):
            reason = "folder and file name disagree on class, subtype or magnification"
        if reason:
            _problem(problems, root, path, f"{reason}; skipped")
            continue
        candidates.append((path, {
            "label": label, "subtype": subtype, "magnification": mag,
            "patient": f"{match['year']}-{match['slide']}",
        }))

    rows = _readable_rows(candidates, root, problems)
    if not rows:
        raise UserError(f"{root}: BreakHis layout found but it holds no readable images")
    frame = _frame(rows, BREAKHIS_CLASSES)
    folds = _read_folds(breast, root, frame, problems)
    index = DatasetIndex("breakhis", root, list(BREAKHIS_CLASSES), frame, problems,
                         synthetic=_is_synthetic(breast), folds=folds)
    return apply_task(index, task)


def _check_task(dataset: str, task: str) -> None:
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
    _check_task(index.dataset, task)
    if index.task == task:
        return index
    names = class_names(index.dataset, task)
    to_label = {s: (s if task == "subtype" else klass) for s, (klass, _) in BREAKHIS_SUBTYPES.items()}
    frame = index.frame.assign(label=index.frame["subtype"].map(to_label))
    frame["label_index"] = frame["label"].map({c: i for i, c in enumerate(names)}).astype("int64")
    return replace(index, class_names=names, frame=frame, task=task)


def _read_folds(breast: Path, root: Path, frame: pd.DataFrame, problems: list) -> Optional[pd.DataFrame]:
    """Folds.csv (fold,mag,grp,filename) from the first ancestor of ``breast`` that has one."""
    location = next((f / "Folds.csv" for f in [root, *breast.parents][:5] if (f / "Folds.csv").is_file()), None)
    if location is None:
        return None
    try:
        table = pd.read_csv(location, dtype=str)
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        _problem(problems, root, location, f"cannot read Folds.csv ({exc}); folds unavailable")
        return None
    expected = {"fold", "mag", "grp", "filename"}
    if not expected <= set(table.columns):
        _problem(problems, root, location, f"Folds.csv needs columns {sorted(expected)}; folds unavailable")
        return None
    table["path"] = [os.path.normpath(location.parent / f) for f in table["filename"]]
    known = set(frame["path"])
    unknown = table.loc[~table["path"].isin(known)]
    # Files that exist but were skipped are reported already, with their own reason.
    for name in sorted({f for f, p in zip(unknown["filename"], unknown["path"]) if not os.path.exists(p)}):
        _problem(problems, root, location.parent / name, "listed in Folds.csv but the file is missing; ignored")
    table = table[table["path"].isin(known)].copy()
    table["fold"] = pd.to_numeric(table["fold"], errors="coerce").astype("Int64")
    table["grp"] = table["grp"].str.strip().str.lower()
    return table[["fold", "mag", "grp", "path"]].reset_index(drop=True)


# ---------------------------------------------------------------------------
# BACH


def _photos_dir(root: Path) -> Optional[Path]:
    def accept(folder: Path) -> bool:
        return sum((folder / name).is_dir() for name in BACH_FOLDERS) >= 2

    return _find_dir(root, accept, max_depth=3)


def _read_ground_truth(photos: Path, root: Path, problems: list) -> Optional[dict[str, str]]:
    location = next((f / "microscopy_ground_truth.csv" for f in (photos, photos.parent)
                     if (f / "microscopy_ground_truth.csv").is_file()), None)
    if location is None:
        return None
    truth: dict[str, str] = {}
    with open(location, newline="", encoding="utf-8-sig") as fh:
        for number, row in enumerate(csv.reader(fh), start=1):
            if not row or not "".join(row).strip():
                continue
            if len(row) < 2:
                _problem(problems, root, location, f"line {number}: expected filename,class; ignored")
                continue
            name, raw = row[0].strip(), row[1].strip()
            label = _BACH_LABEL_ALIASES.get(raw.lower())
            if label is None:
                if number == 1:  # a header line
                    continue
                _problem(problems, root, location, f"line {number}: unknown class '{raw}'; ignored")
                continue
            truth[name] = label
    return truth


def index_bach(root: str | os.PathLike) -> DatasetIndex:
    root = Path(root).resolve()
    if not root.is_dir():
        raise UserError(f"{root}: dataset folder does not exist")
    photos = _photos_dir(root)
    if photos is None:
        raise UserError(f"{root}: no BACH dataset here (looked for Photos/<Benign|InSitu|Invasive|Normal>)")
    problems: list[dict] = []
    truth = _read_ground_truth(photos, root, problems)
    candidates: list[tuple[Path, dict]] = []
    seen: set[str] = set()
    for folder, klass in _BACH_FOLDER_TO_CLASS.items():
        class_dir = photos / folder
        if not class_dir.is_dir():
            _problem(problems, root, class_dir, f"class folder '{folder}' is missing")
            continue
        files = [p for p in _walk_files(class_dir) if is_image_name(p)]
        if not files:
            _problem(problems, root, class_dir, "class folder has no images")
        for path in files:
            seen.add(path.name)
            label = klass
            if truth is not None:
                listed = truth.get(path.name)
                if listed is None:
                    _problem(problems, root, path, "not in microscopy_ground_truth.csv; label taken from its folder")
                elif listed != klass:
                    _problem(problems, root, path, f"folder says {klass}, ground truth says {listed}; skipped")
                    continue
            candidates.append((path, {"label": label, "subtype": folder, "magnification": "", "patient": ""}))
    if truth is not None:
        for name in sorted(set(truth) - seen):
            _problem(problems, root, photos / name, "listed in microscopy_ground_truth.csv but the file is missing")

    rows = _readable_rows(candidates, root, problems)
    if not rows:
        raise UserError(f"{root}: BACH layout found but it holds no readable images")
    return DatasetIndex("bach", root, list(BACH_CLASS_NAMES), _frame(rows, BACH_CLASS_NAMES), problems,
                        synthetic=_is_synthetic(photos))


def index_dataset(dataset: str, root: str | os.PathLike, task: str = "binary") -> DatasetIndex:
    """Index ``root`` as ``dataset`` (``breakhis`` or ``bach``) labelled for ``task`` (``binary``/``subtype``)."""
    if dataset == "breakhis":
        return index_breakhis(root, task)
    if dataset == "bach":
        _check_task(dataset, task)
        return index_bach(root)
    raise UserError(f"unknown dataset '{dataset}' (expected breakhis or bach)")


# ---------------------------------------------------------------------------
# Generated images (cWGAN output)


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
            _problem(problems, folder, path, f"class '{klass}' is not one of {class_names}; skipped")
            continue
        candidates.append((path, {"label": klass, "subtype": "cwgan", "magnification": "", "patient": ""}))
    rows = _readable_rows(candidates, folder, problems)
    if not rows:
        raise UserError(f"{folder}: manifest.csv lists no usable images")
    return DatasetIndex("generated", folder, list(class_names), _frame(rows, class_names), problems, synthetic=True)
