"""BACH (ICIAR 2018), as distributed and as users convert it.

``Photos/<Benign|InSitu|Invasive|Normal>/<b|is|iv|n>NNN.tif`` with
``Photos/microscopy_ground_truth.csv``. The ground truth is matched by file name without its
extension, so a copy converted to PNG or JPEG reads the same. The challenge's unlabelled test
set (``ICIAR2018_BACH_Challenge_TestDataset/Photos/test0.tif`` ... ``test99.tif``) is
recognised and refused for indexing (it has no labels; ``bclib predict`` classifies it).
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path
from typing import Optional

from ..errors import UserError
from .images import is_image_name
from .layouts import BACH_CLASS_NAMES, BACH_FOLDERS
from .records import DatasetIndex, add_problem, find_dir, is_synthetic, make_frame, readable_rows, walk_files

_FOLDER_TO_CLASS = {folder: klass for folder, (klass, _, _) in BACH_FOLDERS.items()}
_LABEL_ALIASES = {
    "normal": "normal", "benign": "benign", "insitu": "in_situ", "in_situ": "in_situ",
    "in situ": "in_situ", "invasive": "invasive",
}
_TEST_PHOTO = re.compile(r"^test\d+\.(?:tiff?|png|jpe?g)$", re.IGNORECASE)


def _stem(name: str) -> str:
    return os.path.splitext(name)[0]


def _photos_dir(root: Path) -> Optional[Path]:
    def accept(folder: Path) -> bool:
        return sum((folder / name).is_dir() for name in BACH_FOLDERS) >= 2

    return find_dir(root, accept, max_depth=3)


def _read_ground_truth(photos: Path, root: Path, problems: list) -> Optional[dict[str, tuple[str, str]]]:
    """{file stem: (file name as listed, class)} from microscopy_ground_truth.csv (beside or above the
    class folders)."""
    location = next((f / "microscopy_ground_truth.csv" for f in (photos, photos.parent)
                     if (f / "microscopy_ground_truth.csv").is_file()), None)
    if location is None:
        return None
    truth: dict[str, tuple[str, str]] = {}
    with open(location, newline="", encoding="utf-8-sig") as fh:
        for number, row in enumerate(csv.reader(fh), start=1):
            if not row or not "".join(row).strip():
                continue
            if len(row) < 2:
                add_problem(problems, root, location, f"line {number}: expected filename,class; ignored")
                continue
            name, raw = row[0].strip(), row[1].strip()
            label = _LABEL_ALIASES.get(raw.lower())
            if label is None:
                if number == 1:  # a header line
                    continue
                add_problem(problems, root, location, f"line {number}: unknown class '{raw}'; ignored")
                continue
            truth[_stem(name)] = (name, label)
    return truth


def _refuse_test_set(root: Path) -> None:
    photos = [p for p in walk_files(root) if _TEST_PHOTO.match(p.name)]
    if photos:
        raise UserError(f"{root}: this is the BACH challenge's unlabelled test set ({len(photos)} photos named "
                        "test<N>): it has no labels, so it cannot be used to train or evaluate; "
                        "`bclib predict` classifies it")


def _class_candidates(photos: Path, root: Path, truth, problems: list) -> tuple[list, set]:
    candidates, seen = [], set()
    for folder, klass in _FOLDER_TO_CLASS.items():
        class_dir = photos / folder
        if not class_dir.is_dir():
            add_problem(problems, root, class_dir, f"class folder '{folder}' is missing")
            continue
        files = [p for p in walk_files(class_dir) if is_image_name(p)]
        if not files:
            add_problem(problems, root, class_dir, "class folder has no images")
        for path in files:
            seen.add(_stem(path.name))
            if truth is not None:
                listed = truth.get(_stem(path.name), (None, None))[1]
                if listed is None:
                    add_problem(problems, root, path, "not in microscopy_ground_truth.csv; label taken from its folder")
                elif listed != klass:
                    add_problem(problems, root, path, f"folder says {klass}, ground truth says {listed}; skipped")
                    continue
            candidates.append((path, {"label": klass, "subtype": folder, "magnification": "", "patient": ""}))
    return candidates, seen


def index_bach(root: str | os.PathLike) -> DatasetIndex:
    root = Path(root).resolve()
    if not root.is_dir():
        raise UserError(f"{root}: dataset folder does not exist")
    photos = _photos_dir(root)
    if photos is None:
        _refuse_test_set(root)
        raise UserError(f"{root}: no BACH dataset here (looked for Photos/<Benign|InSitu|Invasive|Normal>)")
    problems: list[dict] = []
    truth = _read_ground_truth(photos, root, problems)
    candidates, seen = _class_candidates(photos, root, truth, problems)
    if truth is not None:
        for stem in sorted(set(truth) - seen):
            add_problem(problems, root, photos / truth[stem][0],
                        "listed in microscopy_ground_truth.csv but the file is missing")
    rows = readable_rows(candidates, root, problems)
    if not rows:
        raise UserError(f"{root}: BACH layout found but it holds no readable images")
    return DatasetIndex("bach", root, list(BACH_CLASS_NAMES), make_frame(rows, BACH_CLASS_NAMES), problems,
                        synthetic=is_synthetic(photos))
