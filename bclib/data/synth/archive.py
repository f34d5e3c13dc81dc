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
from .staining_optics import Stain, render
from .tissue import Biology, Patient, draw_tissue

MARKER = SYNTHETIC_MARKER
GENERATOR_VERSION = 4  # 3: tuned against real BreakHis tiles (benchmarks/bench_realism.py); 4: class-linked dyes
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
# The embedded dataset (`bclib synth --layout breakhis`, `make data`): twice the patients, one image per
# patient and magnification. Patient-level scores need patients more than images: its test part holds
# about 21 patients (10 with the defaults above) for the same number of tiles.
EMBEDDED_PATIENTS = {subtype: 2 * n for subtype, n in DEFAULT_PATIENTS.items()}
EMBEDDED_IMAGES_PER_MAGNIFICATION = 1

# Pixels per tissue unit (about 3 micrometres) on a 700x460 tile. The optical
# ratio 40X:400X is 1:10; it is compressed a little so that nuclei stay
# visible at 40X and a gland still fits at 400X.
UNIT_PIXELS = {40: 1.6, 100: 3.4, 200: 6.6, 400: 13.0}
BACH_UNIT_PIXELS = 4.5  # BACH photos (2048x1536, 0.42 um/px) downsampled to the default 512x384


# Typical dye strengths (haematoxylin, eosin) of a BreakHis class's slides. In the real tiles
# (../shared/realdata, 342 tiles, 46 patients) malignant tiles carry about twice the benign eosin
# density (mean OD 0.0135 vs 0.0063) and slightly less haematoxylin (0.018 vs 0.022): the classes were
# stained and photographed apart, a colour difference any classifier can use. The generator copies it.
CLASS_DYES = {"benign": (1.12, 0.70), "malignant": (0.88, 1.45)}


def draw_patient(keys: tuple, kind: str) -> Patient:
    """A patient's stain (from ``keys`` and, for BreakHis, the class) and biology (from ``keys`` and the kind)."""
    klass = BREAKHIS_SUBTYPES[kind][0] if kind in BREAKHIS_SUBTYPES else None
    h_scale, e_scale = CLASS_DYES.get(klass, (1.0, 1.0))
    stain = Stain.draw(_image_rng(*keys, 0), h_scale, e_scale)
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
    # PNG at zlib level 1: the same pixels (lossless), written in half the time of the default level 6 for
    # 9% larger files; `make data` writes 420 tiles on every fresh clone.
    options = {"format": "TIFF"} if path.suffix == ".tif" else {"format": "PNG", "compress_level": 1}
    Image.fromarray(image).save(path, **options)


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
    folders: list[tuple] | None = None,
) -> Path:
    """Write a synthetic BreakHis archive under ``out`` (idempotent).

    ``folders`` ([(subtype, year, patient id, patient number, {40: n, 100: n, ...}), ...]) lists the
    patient folders and their image counts explicitly (the rehearsal archive: the real archive's
    folders); otherwise ``patients_per_subtype`` patients with ``images_per_magnification`` images each.

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
    if folders is None:
        folders = _drawn_folders(seed, patients_per_subtype, images_per_magnification, shared_patient)
    width, height = size
    breast = tmp / "BreaKHis_v1" / "histology_slides" / "breast"
    jobs = []  # one per image: everything needed to draw and write it
    files: list[tuple[str, int, str]] = []  # (relative path, magnification, patient folder)
    for subtype, year, pid, pindex, per_mag in folders:
        klass, code = BREAKHIS_SUBTYPES[subtype]
        letter = klass[0].upper()
        slide = f"SOB_{letter}_{code}_{year}-{pid}"
        subtype_key = list(BREAKHIS_SUBTYPES).index(subtype)
        for mag in _MAGNIFICATIONS:
            for seq in range(1, int(per_mag.get(mag, 0)) + 1):
                name = f"SOB_{letter}_{code}-{year}-{pid}-{mag}-{seq:03d}.png"
                path = breast / klass / "SOB" / subtype / slide / f"{mag}X" / name
                jobs.append((subtype, (height, width), UNIT_PIXELS[mag], (seed, 1, pindex),
                             (seed, 2, pindex, subtype_key, mag, seq), path))
                files.append((path.relative_to(tmp).as_posix(), mag, slide))
    _run_jobs(jobs, workers)

    _write_folds(tmp / "Folds.csv", files, seed, n_folds)
    return _finish(tmp, out, "breakhis", "BreaKHis_v1", seed, len(files), size)


def _drawn_folders(seed: int, patients_per_subtype, images_per_magnification: int, shared_patient: bool) -> list:
    """Patient folders of a drawn synthetic archive: random ids, the same count of images everywhere."""
    counts = dict(DEFAULT_PATIENTS if patients_per_subtype is None else patients_per_subtype)
    unknown = set(counts) - set(BREAKHIS_SUBTYPES)
    if unknown:
        raise UserError(f"unknown BreakHis subtype(s): {', '.join(sorted(unknown))}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xB4EA]))
    all_ids = _patient_ids(rng, sum(counts.values()))
    per_mag = {mag: images_per_magnification for mag in _MAGNIFICATIONS}
    folders, index = [], 0
    for subtype, n in counts.items():
        for _ in range(n):
            folders.append((subtype, int(rng.choice([13, 14])), all_ids[index], index, per_mag))
            index += 1
    if shared_patient and counts.get("ductal_carcinoma") and counts.get("lobular_carcinoma"):
        first_dc = next(f for f in folders if f[0] == "ductal_carcinoma")
        folders.append(("lobular_carcinoma", *first_dc[1:]))
    return folders


def archive_folders() -> list[tuple]:
    """The real BreakHis archive's 82 patient folders with their image counts per magnification (from
    ``bclib/reference/breakhis_archive_counts.tsv``); the two folders of patient 14-13412 share one
    patient number, so they get one patient's stain and habits."""
    from ...reference import breakhis_archive_counts

    counts = breakhis_archive_counts()
    folders, numbers = [], {}
    for (subtype, folder), rows in counts.groupby(["subtype", "patient_folder"], sort=False):
        year, pid = folder.split("_", 3)[3].split("-", 1)
        number = numbers.setdefault(f"{year}-{pid}", len(numbers))
        per_mag = {int(m[:-1]): int(n) for m, n in zip(rows["magnification"], rows["images"])}
        folders.append((subtype, int(year), pid, number, per_mag))
    return folders


def make_breakhis_rehearsal(out: str | Path, seed: int = 0, force: bool = False,
                            workers: int | None = None, size: tuple[int, int] = (700, 460)) -> Path:
    """A synthetic archive with the real BreakHis's structure: its 82 patient folders (81 patients),
    real folder and file names and image counts (7,909 tiles of 700x460). For rehearsing real runs and
    for the scale benchmarks (``benchmarks/bench_scale.py``); drawing it takes tens of minutes on 2 cores."""
    return make_breakhis(out, seed=seed, force=force, workers=workers, folders=archive_folders(), size=size)


def _write_folds(path: Path, files, seed: int, n_folds: int) -> None:
    """Folds.csv in the widely used format: fold,mag,grp,filename (70/30 by patient folder, per class).

    Folders are assigned, not patients, as in the published folds: a patient filed in two folders
    gets its second folder on the other side of every fold, the way the published fold 1 treats
    14-13412 (so the embedded data exercise ``fold_policy``).
    """
    folders = sorted({slide for _, _, slide in files})
    patient_of = {slide: slide.split("_", 3)[3] for slide in folders}
    rows = []
    for fold in range(1, n_folds + 1):
        rng = _image_rng(seed, 3, fold)
        test: set[str] = set()
        for letter in ("B", "M"):
            firsts = {}
            for slide in folders:
                if slide.startswith(f"SOB_{letter}_"):
                    firsts.setdefault(patient_of[slide], slide)
            members = sorted(firsts.values())
            n_test = max(1, int(round(0.3 * len(members))))
            test.update(rng.permutation(members)[:n_test].tolist())
        for slide in folders:  # a patient's second folder: the other side
            first = next(f for f in folders if patient_of[f] == patient_of[slide])
            if slide != first and first not in test:
                test.add(slide)
        for rel, mag, slide in files:
            rows.append((fold, mag, "test" if slide in test else "train", rel))
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["fold", "mag", "grp", "filename"])
        writer.writerows(rows)


def _bach_numbers(folder: str, n: int) -> list[int]:
    """``n`` photo numbers of a class, spread over eva's two sides (a third held out, at least one)."""
    from ...reference import bach_published_sides

    sides = bach_published_sides()[folder]
    held = [k for k in sorted(sides) if sides[k] == "held_out"]
    kept = [k for k in sorted(sides) if sides[k] == "train"]
    n_held = min(len(held), max(1, round(n / 3))) if n > 1 else 0
    n_kept = min(len(kept), n - n_held)
    pick = lambda pool, k: [pool[int(i)] for i in np.linspace(0, len(pool) - 1, k)] if k else []  # noqa: E731
    return sorted(pick(kept, n_kept) + pick(held, n_held))


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
    ids, so each image gets its own stain signature. The photos are numbered
    as real ones (1..100 per class), a third of them from the numbers that
    eva's patient-aware division holds out, so the default split has a test part.
    """
    out = Path(out)
    tmp = _prepare(out, force)
    if tmp is None:
        return out
    width, height = size
    photos = tmp / "ICIAR2018_BACH_Challenge" / "Photos"
    truth, jobs = [], []
    for class_index, (folder, (klass, prefix, gt_label)) in enumerate(BACH_FOLDERS.items()):
        for number in _bach_numbers(folder, images_per_class):
            name = f"{prefix}{number:03d}.tif"
            keys = (seed, 4, class_index, number)
            jobs.append((klass, (height, width), BACH_UNIT_PIXELS * 460 / 384, keys, keys + (1,),
                         photos / folder / name))
            truth.append((name, gt_label))
    _run_jobs(jobs, workers)
    with open(photos / "microscopy_ground_truth.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(truth)
    return _finish(tmp, out, "bach", "ICIAR2018_BACH_Challenge", seed, len(truth), size)
