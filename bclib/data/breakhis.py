"""BreakHis, read by file name whatever the folder tree.

Every BreakHis file name says what the image is:
``SOB_<B|M>_<code>-<year>-<slide>-<magnification>-<seq>.<ext>`` gives the class (B/M), the
subtype (its code), the patient (``<year>-<slide>``) and the magnification. So the archive is
read from the names of the files below the root, in any tree: the official
``BreaKHis_v1/histology_slides/breast/<class>/SOB/<subtype>/<slide>/<mag>X/`` at any level,
the Kaggle copy's extra ``BreaKHis_v1/BreaKHis_v1/`` nesting, copies re-organised by
magnification, class or subtype, flat folders, user-made ``train/``/``test/`` folders, and
PNG, JPEG or TIFF files. Folder names that carry the same information (a class, a subtype, a
slide or a magnification) are checked against the name; a disagreement is a problem and the
file is left out. A ``train``/``val``/``test`` folder is recorded in ``user_folder`` and
reported, never used to split.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional

import pandas as pd

from ..errors import UserError
from .folds import read_published_folds
from .images import is_image_name
from .layouts import BREAKHIS_CLASSES, BREAKHIS_MAGNIFICATIONS, BREAKHIS_SUBTYPES
from .records import (
    DatasetIndex,
    add_problem,
    apply_task,
    check_task,
    find_dir,
    is_synthetic,
    make_frame,
    readable_rows,
    relative,
    walk_files,
)

NAME_RULE = "SOB_<B|M>_<code>-<year>-<slide>-<mag>-<seq>.<png|jpg|jpeg|tif|tiff>"
_NAME = re.compile(
    r"^SOB_(?P<letter>[BM])_(?P<code>[A-Z]+)-(?P<year>\d+)-(?P<slide>[0-9]+[A-Za-z]*)"
    r"-(?P<mag>\d+)-(?P<seq>\d+)\.(?:png|jpe?g|tiff?)$",
    re.IGNORECASE,
)
_SLIDE_FOLDER = re.compile(r"^SOB_(?P<letter>[BM])_(?P<code>[A-Z]+)_(?P<patient>\d+-[0-9]+[A-Za-z]*)$", re.IGNORECASE)
_MAG_IN_FOLDER = re.compile(r"(?<![0-9])(40|100|200|400)\s*X(?![0-9A-Za-z])", re.IGNORECASE)
_CODE_TO_SUBTYPE = {code: subtype for subtype, (_, code) in BREAKHIS_SUBTYPES.items()}
_SUBTYPE_SPELLINGS = {**{s: s for s in BREAKHIS_SUBTYPES}, "phyllodes_tumour": "phyllodes_tumor"}
_USER_PARTS = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
               "test": "test", "testing": "test"}


def parse_name(name: str) -> Optional[dict]:
    """The labels a BreakHis file name encodes, or None when ``name`` is not one.

    Raises ValueError with the reason when the name has the form but its parts contradict
    each other (an unknown code or magnification, a code of the other class).
    """
    match = _NAME.match(name)
    if match is None:
        return None
    letter, code = match["letter"].upper(), match["code"].upper()
    label = "benign" if letter == "B" else "malignant"
    subtype = _CODE_TO_SUBTYPE.get(code)
    mag = f"{int(match['mag'])}X"
    if subtype is None:
        raise ValueError(f"unknown subtype code '{code}'")
    if BREAKHIS_SUBTYPES[subtype][0] != label:
        raise ValueError(f"subtype code '{code}' contradicts class letter '{letter}'")
    if mag not in BREAKHIS_MAGNIFICATIONS:
        raise ValueError(f"unknown magnification '{mag}'")
    return {"label": label, "subtype": subtype, "magnification": mag,
            "patient": f"{match['year']}-{match['slide'].upper()}"}


def _folder_disagreement(folder: str, meta: dict) -> Optional[str]:
    """Why the folder name ``folder`` contradicts the labels of a file inside it (None: it does not)."""
    lower = folder.lower()
    subtype = _SUBTYPE_SPELLINGS.get(re.sub(r"[\s\-]+", "_", lower))
    if lower in BREAKHIS_CLASSES and lower != meta["label"]:
        return f"folder '{folder}' says {lower}, the file name says {meta['label']}"
    if subtype is not None and subtype != meta["subtype"]:
        return f"folder '{folder}' says {subtype}, the file name says {meta['subtype']}"
    slide = _SLIDE_FOLDER.match(folder)
    if slide is not None:
        code = _CODE_TO_SUBTYPE.get(slide["code"].upper())
        if code != meta["subtype"] or slide["patient"].upper() != meta["patient"]:
            return f"slide folder '{folder}' and the file name disagree on subtype or patient"
    mags = {f"{m}X" for m in _MAG_IN_FOLDER.findall(folder)}
    if len(mags) == 1 and mags != {meta["magnification"]}:
        return f"folder '{folder}' says {mags.pop()}, the file name says {meta['magnification']}"
    return None


def _user_folder(folders: tuple[str, ...]) -> str:
    """The innermost train/val/test folder a file is filed under ('' when none)."""
    return next((_USER_PARTS[f.lower()] for f in reversed(folders) if f.lower() in _USER_PARTS), "")


def _official_breast_dir(root: Path) -> Optional[Path]:
    """The official ``.../histology_slides/breast`` folder at or below ``root``, if the tree has one."""
    return find_dir(root, lambda folder: any((folder / c / "SOB").is_dir() for c in BREAKHIS_CLASSES))


def _official_layout_problems(breast: Path, root: Path, problems: list) -> None:
    """Missing class, subtype or magnification folders of the official tree (a partial download)."""
    for klass in BREAKHIS_CLASSES:
        if not (breast / klass).is_dir():
            add_problem(problems, root, breast / klass, f"class folder '{klass}' is missing")
    for subtype, (klass, _) in BREAKHIS_SUBTYPES.items():
        folder = breast / klass / "SOB" / subtype
        if (breast / klass).is_dir() and not folder.is_dir():
            add_problem(problems, root, folder, f"subtype folder '{subtype}' is missing")
        elif folder.is_dir() and not any(is_image_name(p) for p in walk_files(folder)):
            add_problem(problems, root, folder, "subtype folder has no images")
        if folder.is_dir():
            for slide in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
                missing = [m for m in BREAKHIS_MAGNIFICATIONS if not (slide / m).is_dir()]
                if missing:
                    add_problem(problems, root, slide, f"slide has no {', '.join(missing)} folder(s)")


def _candidates(root: Path, problems: list) -> tuple[list[tuple[Path, dict]], int]:
    """(path, labels) of every BreakHis-named image below ``root``, and the count of other image files."""
    candidates, kept, others = [], {}, 0
    for path in walk_files(root):
        if not is_image_name(path):
            continue
        try:
            meta = parse_name(path.name)
        except ValueError as exc:
            add_problem(problems, root, path, f"{exc}; skipped")
            continue
        if meta is None:
            others += 1
            add_problem(problems, root, path, f"file name is not a BreakHis name ({NAME_RULE}); skipped")
            continue
        folders = path.relative_to(root).parts[:-1]
        reason = next((r for r in (_folder_disagreement(f, meta) for f in folders) if r), None)
        if reason:
            add_problem(problems, root, path, f"{reason}; skipped")
            continue
        key = os.path.splitext(path.name)[0].upper()
        if key in kept:
            add_problem(problems, root, path, f"a second copy of {relative(kept[key], root)}; skipped")
            continue
        kept[key] = path
        candidates.append((path, {**meta, "user_folder": _user_folder(folders)}))
    return candidates, others


def _patients_filed_twice(frame: pd.DataFrame) -> list[str]:
    """One note per patient id filed under two subtypes (14-13412 in the real archive)."""
    notes = []
    per_patient = frame.groupby("patient")["subtype"].nunique()
    for patient in per_patient[per_patient > 1].index:
        counts = frame.loc[frame["patient"] == patient, "subtype"].value_counts().sort_index()
        parts = ", ".join(f"{s} {n}" for s, n in counts.items())
        real = " (the real archive's 82 patient folders are 81 patients)" if patient == "14-13412" else ""
        notes.append(f"patient {patient} is filed under {len(counts)} subtypes ({parts} images); bclib treats it "
                     f"as one patient, so no patient split puts its images on two sides{real}; with task subtype "
                     "it carries two labels")
    return notes


def _user_folder_note(frame: pd.DataFrame) -> list[str]:
    named = frame[frame["user_folder"] != ""]
    if named.empty:
        return []
    patients = {side: set(rows["patient"]) for side, rows in named.groupby("user_folder")}
    shared = sorted(p for p in set().union(*patients.values()) if sum(p in s for s in patients.values()) > 1)
    parts = ", ".join(f"{side}/ {int((named['user_folder'] == side).sum())} images of {len(p)} patients"
                      for side, p in patients.items())
    both = f"; {len(shared)} patient(s) in more than one of them ({', '.join(shared[:5])})" if shared else ""
    return [f"this copy files images under user-made folders ({parts}){both}: bclib does not use them; "
            "its splits come from data.split (see `bclib audit`)"]


def index_breakhis(root: str | os.PathLike, task: str = "binary") -> DatasetIndex:
    """Index every BreakHis-named image below ``root``; ``task`` ``subtype`` labels images by subtype."""
    check_task("breakhis", task)
    root = Path(root).resolve()
    if not root.is_dir():
        raise UserError(f"{root}: dataset folder does not exist")
    problems: list[dict] = []
    breast = _official_breast_dir(root)
    if breast is not None:
        _official_layout_problems(breast, root, problems)
    candidates, others = _candidates(root, problems)
    if not candidates and breast is None:
        what = f"{others} image file(s), none named" if others else "no image files named"
        raise UserError(f"{root}: no BreakHis dataset here ({what} {NAME_RULE} below it)")
    rows = readable_rows(candidates, root, problems)
    if not rows:
        raise UserError(f"{root}: BreakHis layout found but it holds no readable images")
    frame = make_frame(rows, BREAKHIS_CLASSES)
    folds, source = read_published_folds(root, frame, problems)
    index = DatasetIndex("breakhis", root, list(BREAKHIS_CLASSES), frame, problems,
                         synthetic=is_synthetic(Path(os.path.commonpath(list(frame["path"])))) or is_synthetic(root),
                         folds=folds, notes=_patients_filed_twice(frame) + _user_folder_note(frame),
                         folds_source=source)
    return apply_task(index, task)
