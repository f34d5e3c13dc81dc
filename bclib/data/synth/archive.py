"""Writing the synthetic archives: patients, file names, Folds.csv, ground truth and the marker file.

See the package docstring (:mod:`bclib.data.synth`) for how tiles are drawn.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from ...errors import UserError
from ..layouts import (
    BACH_FOLDERS,
    BREAKHIS_MAGNIFICATIONS,
    BREAKHIS_SUBTYPES,
    SYNTHETIC_MARKER,
)
from .stain import Stain, render
from .tissue import Biology, Patient, draw_tissue

MARKER = SYNTHETIC_MARKER
GENERATOR_VERSION = 2
_MAGNIFICATIONS = [int(m[:-1]) for m in BREAKHIS_MAGNIFICATIONS]  # 40, 100, 200, 400

# Patients per subtype in the default synthetic set: 16 benign and 36 malignant
# patients (31% benign, as in the real data: 24 of 82 patients, 31% of images),
# two images per patient and magnification. Many patients with few images each
# keep the total near 420 tiles while a patient-disjoint test set still holds
# about ten patients, enough for intervals that say something.
DEFAULT_PATIENTS = {
    "adenosis": 4, "fibroadenoma": 4, "phyllodes_tumor": 4, "tubular_adenoma": 4,
    "ductal_carcinoma": 16, "lobular_carcinoma": 7, "mucinous_carcinoma": 6, "papillary_carcinoma": 7,
}
DEFAULT_IMAGES_PER_MAGNIFICATION = 2

# Pixels per tissue unit (about 3 micrometres) on a 700x460 tile. The optical
# ratio 40X:400X is 1:10; it is compressed a little so that nuclei stay
# visible at 40X and a gland still fits at 400X.
UNIT_PIXELS = {40: 1.6, 100: 3.2, 200: 6.0, 400: 11.0}
BACH_UNIT_PIXELS = 4.5  # BACH photos (2048x1536, 0.42 um/px) downsampled to the default 512x384


def draw_patient(keys: tuple, kind: str) -> Patient:
    """A patient's stain (from ``keys``) and biology (from ``keys`` and the tissue kind)."""
    stain = Stain.draw(_image_rng(*keys, 0))
    biology = Biology.draw(_image_rng(*keys, 1), kind)
    return Patient(stain, biology)


def draw_image(kind: str, shape: tuple[int, int], unit: float, patient: Patient,
               rng: np.random.Generator) -> np.ndarray:
    """One RGB tile (uint8, height x width x 3) of the given tissue kind."""
    scale = min(shape) / 460
    h, e = draw_tissue(kind, shape, unit * scale, patient, rng)
    return render(h, e, patient.stain, rng, pixel_scale=scale)


# ---------------------------------------------------------------------------
# Dataset writers


def _image_rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *keys]))


def _patient_ids(rng: np.random.Generator, n: int) -> list[str]:
    ids: list[str] = []
    letters = ["", "A", "B", "AB", "CD", "EF", "DE", "F"]
    while len(ids) < n:
        candidate = f"{rng.integers(1000, 30000)}{letters[rng.integers(len(letters))]}"
        if candidate not in ids:
            ids.append(candidate)
    return ids


def _draw_and_save(job) -> None:
    kind, shape, unit, patient_keys, image_keys, path = job
    patient = draw_patient(patient_keys, kind)
    image = draw_image(kind, shape, unit, patient, _image_rng(*image_keys))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, format="TIFF" if path.suffix == ".tif" else "PNG")


def _run_jobs(jobs: list, workers: int | None) -> None:
    """Draw the images, in parallel processes when asked (each image has its own seed)."""
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    if workers <= 1 or len(jobs) < 8:
        for job in jobs:
            _draw_and_save(job)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_draw_and_save, jobs, chunksize=8))


def _prepare(out: Path, force: bool) -> Path | None:
    """Return a fresh temporary build folder, or None when ``out`` is already complete."""
    if out.exists():
        if (out / MARKER).is_file() and not force:
            return None
        if not (out / MARKER).is_file():
            raise UserError(f"{out}: folder exists and is not a bclib synthetic dataset; choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))


def _finish(tmp: Path, out: Path, layout: str, archive_folder: str, seed: int, n_images: int,
            size: tuple[int, int]) -> Path:
    """Mark the dataset as synthetic (at its top and in the archive folder), then move it into place."""
    info = {
        "generator": "bclib.data.synth", "version": GENERATOR_VERSION, "layout": layout,
        "seed": seed, "n_images": n_images, "size": list(size),
        "note": "Synthetic H&E-like tiles made by bclib; not real patient data.",
    }
    for folder in (tmp, tmp / archive_folder):
        (folder / MARKER).write_text(json.dumps(info, indent=2) + "\n")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out


def make_breakhis(
    out: str | Path,
    seed: int = 0,
    patients_per_subtype: dict[str, int] | None = None,
    images_per_magnification: int = DEFAULT_IMAGES_PER_MAGNIFICATION,
    size: tuple[int, int] = (700, 460),
    shared_patient: bool = True,
    n_folds: int = 5,
    force: bool = False,
    workers: int | None = None,
    images_per_subtype_magnification: dict[str, dict[int, int]] | None = None,
) -> Path:
    """Write a synthetic BreakHis archive under ``out`` (idempotent).

    ``images_per_subtype_magnification`` ({subtype: {40: n, ...}}) replaces the uniform
    ``images_per_magnification`` by totals per subtype and magnification, spread as
    evenly as possible over that subtype's patients (the rehearsal archive's Table 3).

    Layout (as in the real archive, with Folds.csv beside ``BreaKHis_v1``)::

        out/Folds.csv
        out/BreaKHis_v1/histology_slides/breast/<benign|malignant>/SOB/<subtype>/
            SOB_<B|M>_<code>_<year>-<id>/<mag>X/SOB_<B|M>_<code>-<year>-<id>-<mag>-<seq>.png

    ``size`` is (width, height). With ``shared_patient`` the first ductal
    carcinoma patient also has slides filed under lobular carcinoma, as one
    patient of the real dataset does.
    """
    out = Path(out)
    tmp = _prepare(out, force)
    if tmp is None:
        return out
    counts = dict(DEFAULT_PATIENTS if patients_per_subtype is None else patients_per_subtype)
    unknown = set(counts) - set(BREAKHIS_SUBTYPES)
    if unknown:
        raise UserError(f"unknown BreakHis subtype(s): {', '.join(sorted(unknown))}")
    width, height = size
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xB4EA]))
    all_ids = _patient_ids(rng, sum(counts.values()))
    patients = []  # (subtype, year, id, patient_index)
    index = 0
    for subtype, n in counts.items():
        for _ in range(n):
            patients.append((subtype, int(rng.choice([13, 14])), all_ids[index], index))
            index += 1
    if shared_patient and counts.get("ductal_carcinoma") and counts.get("lobular_carcinoma"):
        first_dc = next(p for p in patients if p[0] == "ductal_carcinoma")
        patients.append(("lobular_carcinoma", first_dc[1], first_dc[2], first_dc[3]))

    breast = tmp / "BreaKHis_v1" / "histology_slides" / "breast"
    jobs = []  # one per image: everything needed to draw and write it
    files: list[tuple[str, int, str]] = []  # (relative path, magnification, patient key)
    for subtype, year, pid, pindex in patients:
        klass, code = BREAKHIS_SUBTYPES[subtype]
        letter = klass[0].upper()
        slide = f"SOB_{letter}_{code}_{year}-{pid}"
        for mag in _MAGNIFICATIONS:
            for seq in range(1, _images_of(patients, (subtype, pindex), mag, images_per_magnification,
                                           images_per_subtype_magnification) + 1):
                name = f"SOB_{letter}_{code}-{year}-{pid}-{mag}-{seq:03d}.png"
                path = breast / klass / "SOB" / subtype / slide / f"{mag}X" / name
                subtype_key = list(BREAKHIS_SUBTYPES).index(subtype)
                jobs.append((subtype, (height, width), UNIT_PIXELS[mag], (seed, 1, pindex),
                             (seed, 2, pindex, subtype_key, mag, seq), path))
                files.append((path.relative_to(tmp).as_posix(), mag, f"{year}-{pid}"))
    _run_jobs(jobs, workers)

    _write_folds(tmp / "Folds.csv", files, patients, seed, n_folds)
    return _finish(tmp, out, "breakhis", "BreaKHis_v1", seed, len(files), size)


# The real archive: patients per subtype (82 in all) and Table 3's images per subtype and magnification.
REAL_PATIENTS = {"adenosis": 4, "fibroadenoma": 10, "phyllodes_tumor": 3, "tubular_adenoma": 7,
                 "ductal_carcinoma": 38, "lobular_carcinoma": 5, "mucinous_carcinoma": 9, "papillary_carcinoma": 6}


def _images_of(patients, who: tuple[str, int], mag: int, uniform: int, totals) -> int:
    """Images of one patient at one magnification: uniform, or its share of the subtype's total."""
    if totals is None:
        return uniform
    subtype, pindex = who
    members = [p[3] for p in patients if p[0] == subtype]
    base, extra = divmod(int(totals[subtype][mag]), len(members))
    return base + (1 if members.index(pindex) < extra else 0)


def make_breakhis_rehearsal(out: str | Path, seed: int = 0, force: bool = False,
                            workers: int | None = None) -> Path:
    """A synthetic archive at the real BreakHis's size: 82 patients, 7,909 tiles of 700x460, the
    subtype x magnification counts of the paper's Table 3. For rehearsing real runs and for the
    scale benchmarks (``benchmarks/bench_scale.py``); drawing it takes tens of minutes on 2 cores."""
    from ...reference import paper_table3

    table = paper_table3()
    totals = {subtype: {int(m[:-1]): int(table.loc[subtype, m]) for m in BREAKHIS_MAGNIFICATIONS}
              for subtype in REAL_PATIENTS}
    return make_breakhis(out, seed=seed, patients_per_subtype=REAL_PATIENTS, force=force, workers=workers,
                         images_per_subtype_magnification=totals)


def _write_folds(path: Path, files, patients, seed: int, n_folds: int) -> None:
    """Folds.csv in the widely used format: fold,mag,grp,filename (patient-wise 70/30 per fold)."""
    patient_class = {f"{year}-{pid}": BREAKHIS_SUBTYPES[sub][0] for sub, year, pid, _ in patients}
    rows = []
    for fold in range(1, n_folds + 1):
        rng = _image_rng(seed, 3, fold)
        test: set[str] = set()
        for klass in ("benign", "malignant"):
            members = sorted(p for p, c in patient_class.items() if c == klass)
            n_test = max(1, int(round(0.3 * len(members))))
            test.update(rng.permutation(members)[:n_test].tolist())
        for rel, mag, patient in files:
            rows.append((fold, mag, "test" if patient in test else "train", rel))
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["fold", "mag", "grp", "filename"])
        writer.writerows(rows)


def make_bach(
    out: str | Path,
    seed: int = 0,
    images_per_class: int = 12,
    size: tuple[int, int] = (512, 384),
    force: bool = False,
    workers: int | None = None,
) -> Path:
    """Write a synthetic ICIAR 2018 BACH archive under ``out`` (idempotent).

    Layout::

        out/ICIAR2018_BACH_Challenge/Photos/<Benign|InSitu|Invasive|Normal>/<b|is|iv|n>NNN.tif
        out/ICIAR2018_BACH_Challenge/Photos/microscopy_ground_truth.csv   (no header: filename,class)

    The real photos are 2048x1536 TIFFs; the default here is a quarter of
    that per side to keep the embedded set small. BACH publishes no patient
    ids, so each image gets its own stain signature.
    """
    out = Path(out)
    tmp = _prepare(out, force)
    if tmp is None:
        return out
    width, height = size
    photos = tmp / "ICIAR2018_BACH_Challenge" / "Photos"
    truth, jobs = [], []
    for class_index, (folder, (klass, prefix, gt_label)) in enumerate(BACH_FOLDERS.items()):
        for number in range(1, images_per_class + 1):
            name = f"{prefix}{number:03d}.tif"
            keys = (seed, 4, class_index, number)
            jobs.append((klass, (height, width), BACH_UNIT_PIXELS * 460 / 384, keys, keys + (1,),
                         photos / folder / name))
            truth.append((name, gt_label))
    _run_jobs(jobs, workers)
    with open(photos / "microscopy_ground_truth.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(truth)
    return _finish(tmp, out, "bach", "ICIAR2018_BACH_Challenge", seed, len(truth), size)
