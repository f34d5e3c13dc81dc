"""Trees in the layouts users have, built from the real BreakHis archive's 7,909 file names.

Every image is the same tiny PNG (or JPEG): the tests are about names, folders and folds, not
pixels. The names and per-folder counts come from ``bclib/reference/breakhis_archive_counts.tsv``.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from bclib.data.layouts import BREAKHIS_SUBTYPES
from bclib.reference import breakhis_archive_counts

N_ARCHIVE = 7909
SHARED_PATIENT = "14-13412"


def tiny_image(fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((16, 16, 3), 200, np.uint8)).save(buffer, format=fmt)
    return buffer.getvalue()


def archive_names() -> list[dict]:
    """One dict per real image: name, class, subtype, folder (slide), mag ('40X'), patient."""
    rows = []
    for r in breakhis_archive_counts().itertuples():
        code = BREAKHIS_SUBTYPES[r.subtype][1]
        patient = r.patient_folder.split("_", 3)[3]
        for seq in range(1, r.images + 1):
            name = f"SOB_{r._1[0].upper()}_{code}-{patient}-{r.magnification[:-1]}-{seq:03d}.png"
            rows.append({"name": name, "class": r._1, "subtype": r.subtype, "folder": r.patient_folder,
                         "mag": r.magnification, "patient": patient})
    return rows


def official_relpath(image: dict) -> str:
    return (f"BreaKHis_v1/histology_slides/breast/{image['class']}/SOB/{image['subtype']}/{image['folder']}/"
            f"{image['mag']}/{image['name']}")


def write_tree(root: Path, images: list[dict], relpath, data: bytes, suffix: str = ".png") -> Path:
    """Write every image at ``relpath(image)`` below ``root`` (the suffix replaced by ``suffix``)."""
    for image in images:
        path = root / relpath(image)
        path = path.with_suffix(suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def published_folds(images: list[dict], seed: int = 0) -> list[tuple[int, str, str, dict]]:
    """(fold, mag, grp, image) rows like the published folds: folders assigned 70/30 per class, and
    the shared patient's ductal carcinoma folder in train, its lobular carcinoma folder in test."""
    folders = sorted({(i["class"], i["folder"]) for i in images})
    rows = []
    for fold in range(1, 6):
        rng = np.random.default_rng([seed, fold])
        test = set()
        for klass in ("benign", "malignant"):
            members = [f for c, f in folders if c == klass and SHARED_PATIENT not in f]
            test.update(rng.permutation(members)[: round(0.3 * len(members))].tolist())
        test.add(f"SOB_M_LC_{SHARED_PATIENT}")
        rows += [(fold, i["mag"][:-1], "test" if i["folder"] in test else "train", i) for i in images]
    return rows


def write_folds_csv(path: Path, rows, filename) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["fold", "mag", "grp", "filename"])
        writer.writerows((fold, mag, grp, filename(image)) for fold, mag, grp, image in rows)
    return path


def write_dsfolds(folder: Path, rows) -> Path:
    for fold in range(1, 6):
        lines = [f"{image['name']}|{mag}|{fold}|{grp}" for k, mag, grp, image in rows if k == fold]
        (folder / f"dsfold{fold}.txt").write_text("\n".join(lines) + "\n")
    return folder


def link_tree(source_root: Path, root: Path, images: list[dict], relpath) -> Path:
    """Hard links of the official tree's files at new places (cheap copies of a re-organised archive)."""
    for image in images:
        target = root / relpath(image)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(source_root / official_relpath(image), target)
    return root
