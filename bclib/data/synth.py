"""Embedded synthetic datasets in the exact on-disk layouts of BreakHis and BACH.

The real datasets cannot be downloaded on the machines that build and test
this project, so bclib draws its own H&E-like tiles and files them exactly as
the real archives do. The same loaders then read both.

How a tile is drawn
-------------------
Tissue is modelled as two stain concentration maps, haematoxylin (nuclei,
blue-purple) and eosin (stroma and cytoplasm, pink), in optical-density units.
They are turned into RGB with the Beer-Lambert model of
:func:`skimage.color.combine_stains`, using a stain matrix that is perturbed
per patient. On top of that:

* **class signal** - benign tissue has sparse, small, uniform nuclei arranged
  in gland-like rings around pale lumens; malignant tissue has dense, large,
  pleomorphic, darker nuclei in disordered sheets. The distributions overlap,
  so the task is learnable but not trivial;
* **subtype morphology** - e.g. fibroadenoma has streaky stroma and elongated
  ducts, lobular carcinoma single-file chains, mucinous carcinoma pale mucin
  lakes, papillary carcinoma finger-like fronds;
* **magnification** - the same tissue is drawn at a scale that grows with the
  magnification (40X small and many structures, 400X few large ones);
* **patient signature** - each patient has its own stain hue and strength,
  stroma texture, brightness and noise. An image-level split therefore lets a
  classifier recognise patients it has already seen, as it can on the real data.

Everything is deterministic for a seed: each image has its own random stream
derived from (seed, patient, magnification, sequence number), so the bytes
do not depend on generation order. A ``BCLIB_SYNTHETIC.json`` marker is
written at the top of every generated dataset; loaders look for it and every
output built on such data says it is synthetic.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage
from skimage import color, draw

from ..errors import UserError
from .layouts import BACH_FOLDERS, BREAKHIS_MAGNIFICATIONS, BREAKHIS_SUBTYPES, SYNTHETIC_MARKER

MARKER = SYNTHETIC_MARKER
GENERATOR_VERSION = 1
_MAGNIFICATIONS = [int(m[:-1]) for m in BREAKHIS_MAGNIFICATIONS]  # 40, 100, 200, 400

# Patients per subtype in the default synthetic set: 12 benign and 22 malignant
# patients, about a third benign like the real data (24 of 82 patients, 31% of images).
DEFAULT_PATIENTS = {
    "adenosis": 3, "fibroadenoma": 3, "phyllodes_tumor": 3, "tubular_adenoma": 3,
    "ductal_carcinoma": 10, "lobular_carcinoma": 4, "mucinous_carcinoma": 4, "papillary_carcinoma": 4,
}

# Drawing scale per magnification: compressed relative to the optical ratio
# (1:10) so that nuclei stay visible at 40X on a small tile.
_ZOOM = {40: 0.45, 100: 0.65, 200: 0.9, 400: 1.3}

_LOG_ADJUST = -np.log(1e-6)  # skimage's optical-density scale in combine_stains


# ---------------------------------------------------------------------------
# Patients and stains


@dataclass(frozen=True)
class PatientStyle:
    """The per-patient signature that makes image-level splits leak."""

    stain_matrix: np.ndarray  # 3x3 rows: H, E, residual stain vectors
    h_strength: float
    e_strength: float
    stroma_sigma: float
    brightness: float
    noise: float
    nucleus_scale: float

    @classmethod
    def draw(cls, rng: np.random.Generator) -> "PatientStyle":
        base = color.rgb_from_hed.copy()
        base[0] += rng.normal(0, 0.05, 3)  # haematoxylin hue
        base[1] += rng.normal(0, 0.05, 3)  # eosin hue
        base = np.clip(base, 0.02, None)
        base /= np.linalg.norm(base, axis=1, keepdims=True)
        return cls(
            stain_matrix=base,
            h_strength=float(rng.uniform(0.85, 1.15)),
            e_strength=float(rng.uniform(0.75, 1.25)),
            stroma_sigma=float(rng.uniform(2.0, 7.0)),
            brightness=float(rng.uniform(-0.06, 0.04)),
            noise=float(rng.uniform(0.005, 0.03)),
            nucleus_scale=float(rng.uniform(0.9, 1.1)),
        )


def _stain_to_rgb(h_od: np.ndarray, e_od: np.ndarray, style: PatientStyle, rng: np.random.Generator) -> np.ndarray:
    stains = np.stack([h_od * style.h_strength, e_od * style.e_strength, np.zeros_like(h_od)], axis=-1)
    rgb = color.combine_stains(stains / _LOG_ADJUST, style.stain_matrix)
    rgb = rgb + style.brightness + rng.normal(0, style.noise, rgb.shape)
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


# ---------------------------------------------------------------------------
# Tissue primitives (optical-density maps, height x width)


def _smooth_noise(rng, shape, sigma, anisotropy=1.0):
    field = ndimage.gaussian_filter(rng.normal(size=shape), sigma=(sigma, sigma * anisotropy))
    return field / (field.std() + 1e-8)


def _stroma(rng, shape, style, zoom, streaky=False, density=0.55):
    anisotropy = 4.0 if streaky else 1.0
    texture = _smooth_noise(rng, shape, style.stroma_sigma * zoom, anisotropy)
    fibres = _smooth_noise(rng, shape, 1.0, 6.0 if streaky else 2.0)
    return np.clip(density + 0.18 * texture + 0.08 * fibres, 0.05, None)


def _nuclei(h_od, rng, centers, radius, pleomorphism, darkness, elongation=1.0):
    """Draw nuclei as filled ellipses with granular chromatin."""
    shape = h_od.shape
    for r, c in centers:
        size = max(0.8, radius * rng.lognormal(0, pleomorphism))
        ry = size * rng.uniform(0.8, 1.2)
        rx = size * elongation * rng.uniform(0.8, 1.2)
        rr, cc = draw.ellipse(r, c, ry, rx, shape=shape, rotation=rng.uniform(0, np.pi))
        value = darkness * rng.uniform(0.85, 1.15)
        h_od[rr, cc] = np.maximum(h_od[rr, cc], value * rng.uniform(0.75, 1.0, rr.size))


def _random_points(rng, shape, n):
    return np.column_stack([rng.uniform(0, shape[0], n), rng.uniform(0, shape[1], n)])


def _ring_points(rng, center, ry, rx, spacing, angle=0.0, jitter=0.1):
    perimeter = np.pi * (ry + rx)
    n = max(5, int(perimeter / spacing))
    t = np.linspace(0, 2 * np.pi, n, endpoint=False) + rng.uniform(0, 2 * np.pi)
    y, x = ry * np.sin(t), rx * np.cos(t)
    ca, sa = np.cos(angle), np.sin(angle)
    pts = np.column_stack([center[0] + y * ca - x * sa, center[1] + y * sa + x * ca])
    return pts + rng.normal(0, jitter * spacing, pts.shape)


def _glands(h_od, e_od, rng, n, size, nucleus_r, elongation=1.0, filled=False, darkness=0.9, pleo=0.1):
    """Gland-like rings: a pale lumen (or one filled with cells) lined by nuclei."""
    shape = h_od.shape
    for center in _random_points(rng, shape, n):
        ry = size * rng.uniform(0.7, 1.3)
        rx = ry * elongation * rng.uniform(0.8, 1.2)
        angle = rng.uniform(0, np.pi)
        rr, cc = draw.ellipse(center[0], center[1], ry, rx, shape=shape, rotation=angle)
        e_od[rr, cc] *= 0.25
        if filled:  # carcinoma in situ: the lumen is packed with atypical cells
            inner = center + rng.normal(0, 0.35, (int(ry * rx / (nucleus_r**2 * 3)) + 3, 2)) * [ry, rx]
            _nuclei(h_od, rng, inner, nucleus_r * 1.3, 0.3, darkness * 1.1)
        _nuclei(h_od, rng, _ring_points(rng, center, ry, rx, nucleus_r * 2.6, angle), nucleus_r, pleo, darkness)


def _chains(h_od, rng, n_chains, length, nucleus_r, darkness, pleo):
    """Single-file lines of cells (lobular carcinoma's infiltrative pattern)."""
    for start in _random_points(rng, h_od.shape, n_chains):
        direction = rng.uniform(0, 2 * np.pi)
        steps = np.arange(int(length / (nucleus_r * 2.4)))[:, None] * nucleus_r * 2.4
        wobble = np.cumsum(rng.normal(0, 0.15, len(steps)))
        pts = start + steps * np.column_stack([np.sin(direction + wobble), np.cos(direction + wobble)])
        _nuclei(h_od, rng, pts, nucleus_r, pleo, darkness)


def _fronds(h_od, e_od, rng, n, width, nucleus_r, darkness, pleo):
    """Finger-like fibrovascular cores lined by stacked nuclei (papillary pattern)."""
    shape = h_od.shape
    for start in _random_points(rng, shape, n):
        direction = rng.uniform(0, 2 * np.pi)
        length = width * rng.uniform(3, 6)
        t = np.linspace(0, length, int(length / (nucleus_r * 1.8)))
        axis = np.column_stack([np.sin(direction), np.cos(direction)])
        normal = np.column_stack([np.cos(direction), -np.sin(direction)])
        core = start + t[:, None] * axis
        for side in (-1, 1):
            edge = core + side * width / 2 * normal + rng.normal(0, nucleus_r * 0.4, core.shape)
            _nuclei(h_od, rng, edge, nucleus_r, pleo, darkness)
        rr, cc = draw.polygon(
            np.r_[core[:, 0] - width / 3 * normal[0, 0], core[::-1, 0] + width / 3 * normal[0, 0]],
            np.r_[core[:, 1] - width / 3 * normal[0, 1], core[::-1, 1] + width / 3 * normal[0, 1]],
            shape=shape,
        )
        e_od[rr, cc] *= 1.4


def _mucin_lakes(e_od, h_od, rng, n, size):
    shape = e_od.shape
    for center in _random_points(rng, shape, n):
        ry, rx = size * rng.uniform(0.7, 1.4, 2)
        rr, cc = draw.ellipse(center[0], center[1], ry, rx, shape=shape, rotation=rng.uniform(0, np.pi))
        e_od[rr, cc] *= 0.15
        h_od[rr, cc] = np.maximum(h_od[rr, cc], 0.12)  # faint bluish mucin


def draw_tissue(kind: str, shape: tuple[int, int], zoom: float, style: PatientStyle, rng: np.random.Generator) -> np.ndarray:
    """Draw one RGB tile (uint8, height x width x 3) of the given tissue kind."""
    area = shape[0] * shape[1] / (460 * 700)  # densities are defined for a 700x460 tile
    scale = zoom * (min(shape) / 460) * style.nucleus_scale  # structure size follows the tile size
    r_small, r_large = 3.2 * scale, 5.6 * scale

    def count(per_tile):  # more, smaller structures at low magnification
        return max(1, int(round(per_tile * area / zoom**2 * rng.uniform(0.8, 1.2))))

    streaky = kind in ("fibroadenoma", "phyllodes_tumor")
    e_od = _stroma(rng, shape, style, zoom, streaky=streaky)
    h_od = 0.04 * np.clip(_smooth_noise(rng, shape, 3.0) + 1, 0, None)

    if kind in ("adenosis", "benign"):
        _glands(h_od, e_od, rng, count(14), 28 * scale, r_small)
        _nuclei(h_od, rng, _random_points(rng, shape, count(60)), r_small * 0.9, 0.1, 0.6)
    elif kind == "tubular_adenoma":
        _glands(h_od, e_od, rng, count(30), 18 * scale, r_small)
    elif kind == "fibroadenoma":
        _glands(h_od, e_od, rng, count(6), 30 * scale, r_small, elongation=3.0)
        _nuclei(h_od, rng, _random_points(rng, shape, count(50)), r_small * 0.8, 0.1, 0.55, elongation=2.5)
    elif kind == "phyllodes_tumor":
        _glands(h_od, e_od, rng, count(4), 40 * scale, r_small, elongation=4.0)
        _nuclei(h_od, rng, _random_points(rng, shape, count(260)), r_small * 0.8, 0.15, 0.75, elongation=2.2)
    elif kind == "normal":
        e_od *= 0.7
        _glands(h_od, e_od, rng, count(5), 30 * scale, r_small * 0.9, darkness=0.75)
        _nuclei(h_od, rng, _random_points(rng, shape, count(25)), r_small * 0.8, 0.1, 0.5)
    elif kind == "in_situ":
        _glands(h_od, e_od, rng, count(8), 34 * scale, r_large * 0.8, filled=True, darkness=1.05, pleo=0.25)
    elif kind in ("ductal_carcinoma", "invasive"):
        n = count(420)
        nests = _random_points(rng, shape, max(2, n // 60))
        pts = nests[rng.integers(0, len(nests), n)] + rng.normal(0, 45 * scale, (n, 2))
        _nuclei(h_od, rng, pts, r_large, 0.3, 1.15)
    elif kind == "lobular_carcinoma":
        _chains(h_od, rng, count(18), 160 * scale, r_large * 0.8, 1.05, 0.2)
        _nuclei(h_od, rng, _random_points(rng, shape, count(60)), r_large * 0.8, 0.25, 1.0)
    elif kind == "mucinous_carcinoma":
        _mucin_lakes(e_od, h_od, rng, count(5), 70 * scale)
        n = count(220)
        clusters = _random_points(rng, shape, max(2, n // 25))
        pts = clusters[rng.integers(0, len(clusters), n)] + rng.normal(0, 14 * scale, (n, 2))
        _nuclei(h_od, rng, pts, r_large, 0.3, 1.1)
    elif kind == "papillary_carcinoma":
        _fronds(h_od, e_od, rng, count(7), 26 * scale, r_large * 0.85, 1.1, 0.25)
        _nuclei(h_od, rng, _random_points(rng, shape, count(80)), r_large, 0.3, 1.05)
    else:
        raise ValueError(f"unknown tissue kind {kind!r}")
    return _stain_to_rgb(h_od, e_od, style, rng)


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
    kind, shape, zoom, style_keys, image_keys, path = job
    style = PatientStyle.draw(_image_rng(*style_keys))
    image = draw_tissue(kind, shape, zoom, style, _image_rng(*image_keys))
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
    images_per_magnification: int = 3,
    size: tuple[int, int] = (700, 460),
    shared_patient: bool = True,
    n_folds: int = 5,
    force: bool = False,
    workers: int | None = None,
) -> Path:
    """Write a synthetic BreakHis archive under ``out`` (idempotent).

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
            for seq in range(1, images_per_magnification + 1):
                name = f"SOB_{letter}_{code}-{year}-{pid}-{mag}-{seq:03d}.png"
                path = breast / klass / "SOB" / subtype / slide / f"{mag}X" / name
                subtype_key = list(BREAKHIS_SUBTYPES).index(subtype)
                jobs.append((subtype, (height, width), _ZOOM[mag], (seed, 1, pindex), (seed, 2, pindex, subtype_key, mag, seq), path))
                files.append((path.relative_to(tmp).as_posix(), mag, f"{year}-{pid}"))
    _run_jobs(jobs, workers)

    _write_folds(tmp / "Folds.csv", files, patients, seed, n_folds)
    return _finish(tmp, out, "breakhis", "BreaKHis_v1", seed, len(files), size)


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
            jobs.append((klass, (height, width), 1.0, keys, keys + (1,), photos / folder / name))
            truth.append((name, gt_label))
    _run_jobs(jobs, workers)
    with open(photos / "microscopy_ground_truth.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(truth)
    return _finish(tmp, out, "bach", "ICIAR2018_BACH_Challenge", seed, len(truth), size)
