"""Stain normalisation of H&E tiles: Macenko et al. (2009) and Reinhard et al. (2001), on numpy.

``data.stain_normalization`` (``none`` | ``macenko`` | ``reinhard``) maps every
decoded image onto the colour of one *reference* tile before it is resized:

* **Macenko**: optical density ``OD = -log((I + 1) / Io)`` with ``Io = 240``;
  pixels with OD below ``beta = 0.15`` in any channel are background; the two
  stain vectors are the ``alpha = 1`` and ``99`` percentile angles of the tissue
  OD projected on its two main principal directions (hematoxylin first); an
  image is re-synthesised with the reference's stain matrix and its stain
  concentrations rescaled so their 99th percentiles match the reference's.
  The constants and steps are those of Macenko's paper and of torchstain's numpy
  backend, which ``tests/test_stain.py`` compares against when it is installed.
* **Reinhard**: per-channel mean and standard deviation in CIE Lab
  (``skimage.color.rgb2lab``) are moved onto the reference's.

The reference is chosen from **training images only** (:func:`choose_reference`:
the training image whose Lab statistics are closest to the training median) and
cached as JSON under a key of the training files and the method
(:func:`cached_reference`), so the validation and test images never influence
the colour every image is mapped onto.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pandas as pd

from ..errors import UserError
from ..io import write_text_atomic
from .images import load_rgb
from .index import frame_content_key

METHODS = ("macenko", "reinhard")
STAIN_METHODS = METHODS  # the name bclib.data exports
IO = 240.0  # Macenko: transmitted light intensity
BETA = 0.15  # Macenko: optical density below which a pixel is background (in any channel)
ALPHA = 1.0  # Macenko: percentile of the extreme stain angles
MIN_TISSUE_PIXELS = 64  # fewer tissue pixels than this: no stain to measure
MAX_CANDIDATES = 200  # training images whose statistics choose the reference (evenly spaced, path order)
CANDIDATE_STRIDE = 4  # every 4th row and column when measuring a candidate
FORMAT_VERSION = 1  # bump when the reference computation changes: cached references are then recomputed


@dataclass(frozen=True)
class StainReference:
    """What a tile is normalised onto: Macenko's stain matrix (3 x 2, H then E, unit columns) and 99th
    percentile concentrations, or Reinhard's Lab mean and standard deviation; ``source`` names the tile."""

    method: str
    stain_matrix: Optional[tuple] = None
    max_concentrations: Optional[tuple] = None
    lab_mean: Optional[tuple] = None
    lab_std: Optional[tuple] = None
    source: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "StainReference":
        raw = json.loads(text)
        for name in ("stain_matrix", "max_concentrations", "lab_mean", "lab_std"):
            value = raw.get(name)
            raw[name] = None if value is None else _as_tuple(value)
        return cls(**raw)

    @property
    def key(self) -> str:
        """A short hash of the reference's numbers: part of every cache key downstream of normalisation."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]


def _as_tuple(value):
    return tuple(_as_tuple(v) for v in value) if isinstance(value, (list, tuple, np.ndarray)) else float(value)


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise UserError(f"unknown stain normalisation '{method}' (expected {', '.join(METHODS)})")


def _check_rgb(image) -> np.ndarray:
    """``image`` as a (h, w, 3) uint8 array, or a UserError saying what is wrong with it."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise UserError(f"stain normalisation needs an RGB image of shape (height, width, 3), got {image.shape}")
    if image.dtype != np.uint8:
        if not np.issubdtype(image.dtype, np.number) or image.size == 0 or image.min() < 0 or image.max() > 255:
            raise UserError(f"stain normalisation needs uint8 RGB values in [0, 255] (got {image.dtype})")
        image = np.rint(image).astype(np.uint8)
    return image


def optical_density(pixels: np.ndarray) -> np.ndarray:
    """Beer-Lambert optical density of (n, 3) uint8 pixels, with Macenko's ``Io``."""
    return -np.log((pixels.astype(np.float64) + 1.0) / IO)


def tissue_pixels(pixels: np.ndarray) -> np.ndarray:
    """The (m, 3) OD of the pixels that carry stain (OD >= beta in every channel)."""
    od = optical_density(pixels)
    return od[np.all(od >= BETA, axis=1)]


def _no_tissue(what: str) -> UserError:
    return UserError(f"{what} holds no stained tissue (fewer than {MIN_TISSUE_PIXELS} pixels with optical "
                     f"density >= {BETA} in every channel): a blank or background tile cannot be stain-normalised")


def macenko_stains(pixels: np.ndarray, what: str = "the image") -> tuple[np.ndarray, np.ndarray]:
    """Macenko's stain matrix (3 x 2, hematoxylin then eosin) and 99th percentile concentrations."""
    he, concentrations = _stains_and_concentrations(pixels, what)
    return he, np.percentile(concentrations, 99, axis=1)


def _stains_and_concentrations(pixels: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    """The stain matrix and the (2, n) stain concentrations of every pixel."""
    tissue = tissue_pixels(pixels)
    if len(tissue) < MIN_TISSUE_PIXELS:
        raise _no_tissue(what)
    _, vectors = np.linalg.eigh(np.cov(tissue.T))
    plane = vectors[:, 1:3][:, ::-1].copy()  # the two largest, main direction first
    if plane[:, 0].sum() < 0:  # eigenvector signs are arbitrary; OD is positive, so angles stay in (-pi/2, pi/2)
        plane[:, 0] *= -1
    projected = tissue @ plane
    phi = np.arctan2(projected[:, 1], projected[:, 0])
    extremes = [plane @ np.array([np.cos(a), np.sin(a)]) for a in np.percentile(phi, [ALPHA, 100 - ALPHA])]
    # Hematoxylin absorbs red more than eosin does: the vector with the larger red OD comes first.
    he = np.stack(sorted(extremes, key=lambda v: -v[0]), axis=1)
    he /= np.linalg.norm(he, axis=0, keepdims=True)
    # Least-squares concentrations through the 2 x 3 pseudo-inverse (what lstsq returns, ~5x faster here).
    return he, np.linalg.pinv(he) @ optical_density(pixels).T


def _lab(pixels: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2lab

    return rgb2lab(pixels.reshape(-1, 1, 3).astype(np.float64) / 255.0).reshape(-1, 3)


def lab_statistics(pixels: np.ndarray, what: str = "the image") -> tuple[np.ndarray, np.ndarray]:
    """Per-channel Lab mean and standard deviation of (n, 3) uint8 pixels (refused without tissue)."""
    if len(tissue_pixels(pixels)) < MIN_TISSUE_PIXELS:
        raise _no_tissue(what)
    lab = _lab(pixels)
    return lab.mean(axis=0), lab.std(axis=0)


def _pixels(images) -> np.ndarray:
    """One (n, 3) uint8 array of the pixels of one image or of a sequence of images."""
    if isinstance(images, np.ndarray) and images.ndim == 3:
        images = [images]
    if not len(images):
        raise UserError("a stain reference needs at least one image")
    return np.concatenate([_check_rgb(image).reshape(-1, 3) for image in images])


def fit_reference(images, method: str, source: str = "") -> StainReference:
    """The stain reference of one image or a sequence of images (their pixels pooled)."""
    _check_method(method)
    pixels = _pixels(images)
    what = f"reference image {source}" if source else "the reference image"
    if method == "macenko":
        he, max_c = macenko_stains(pixels, what)
        return StainReference(method, stain_matrix=_as_tuple(he), max_concentrations=_as_tuple(max_c),
                              source=source)
    mean, std = lab_statistics(pixels, what)
    if np.any(std <= 1e-6):
        raise UserError(f"{what} has a single colour in Lab (zero standard deviation): choose another tile")
    return StainReference(method, lab_mean=_as_tuple(mean), lab_std=_as_tuple(std), source=source)


def _macenko(pixels: np.ndarray, reference: StainReference) -> np.ndarray:
    _, concentrations = _stains_and_concentrations(pixels, "the image")
    max_c = np.percentile(concentrations, 99, axis=1)
    concentrations *= (np.asarray(reference.max_concentrations) / np.maximum(max_c, 1e-6))[:, None]
    return IO * np.exp(-np.asarray(reference.stain_matrix) @ concentrations).T


def reinhard_lab(lab: np.ndarray, reference: StainReference) -> np.ndarray:
    """Reinhard's transfer in Lab: each channel standardised, then given the reference's mean and std."""
    mean, std = lab.mean(axis=0), lab.std(axis=0)
    return (lab - mean) / np.maximum(std, 1e-6) * np.asarray(reference.lab_std) + np.asarray(reference.lab_mean)


def _reinhard(pixels: np.ndarray, reference: StainReference) -> np.ndarray:
    from skimage.color import lab2rgb

    if len(tissue_pixels(pixels)) < MIN_TISSUE_PIXELS:
        raise _no_tissue("the image")
    lab = reinhard_lab(_lab(pixels), reference)
    return lab2rgb(lab.reshape(-1, 1, 3)).reshape(-1, 3) * 255.0


def normalize(image, reference: StainReference, blank: str = "raise") -> np.ndarray:
    """``image`` (h, w, 3) with its stain mapped onto ``reference``'s, as uint8.

    A tile without stained tissue raises a UserError (``blank="raise"``) or comes back unchanged
    (``blank="keep"``, what the input pipeline uses: there is no stain to map on a background tile).
    """
    _check_method(reference.method)
    image = _check_rgb(image)
    pixels = image.reshape(-1, 3)
    try:
        out = _macenko(pixels, reference) if reference.method == "macenko" else _reinhard(pixels, reference)
    except UserError:
        if blank == "keep":
            return image
        raise
    return np.clip(np.rint(out), 0, 255).astype(np.uint8).reshape(image.shape)


def _candidate_statistics(frame: pd.DataFrame, load: Callable) -> tuple[list[str], np.ndarray]:
    """Paths and Lab (mean, std) of up to MAX_CANDIDATES training images; tiles without tissue are skipped."""
    paths = sorted(frame["path"].astype(str))
    if len(paths) > MAX_CANDIDATES:
        paths = [paths[i] for i in np.linspace(0, len(paths) - 1, MAX_CANDIDATES).round().astype(int)]
    kept, stats = [], []
    for path in paths:
        image = _check_rgb(load(path))[::CANDIDATE_STRIDE, ::CANDIDATE_STRIDE]
        try:
            mean, std = lab_statistics(image.reshape(-1, 3), path)
        except UserError:
            continue
        kept.append(path)
        stats.append(np.concatenate([mean, std]))
    return kept, np.array(stats)


def choose_reference(frame: pd.DataFrame, load: Callable = load_rgb) -> str:
    """The training image (``part == "train"`` rows only) whose Lab mean and std are closest to the
    training median; deterministic (ties go to the first path in sorted order)."""
    if "part" not in frame.columns:
        raise UserError("choosing a stain reference needs the split's 'part' column (train/val/test)")
    train = frame[frame["part"] == "train"]
    if train.empty:
        raise UserError("choosing a stain reference needs training images; the split has none")
    paths, stats = _candidate_statistics(train, load)
    if not paths:
        raise UserError("no training image holds stained tissue: cannot choose a stain reference")
    distance = np.linalg.norm(stats - np.median(stats, axis=0), axis=1)
    return paths[int(np.argmin(distance))]


def reference_key(frame: pd.DataFrame, method: str) -> str:
    """What determines the reference: the training images (paths, sizes, times), the method, the constants."""
    train = frame[frame["part"] == "train"] if "part" in frame.columns else frame
    train = train.sort_values("path", kind="stable")
    what = {"images": frame_content_key(train), "n": len(train), "method": method, "version": FORMAT_VERSION,
            "constants": [IO, BETA, ALPHA, MIN_TISSUE_PIXELS, MAX_CANDIDATES, CANDIDATE_STRIDE]}
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:20]


def cached_reference(frame: pd.DataFrame, method: str, folder: str | Path,
                     load: Callable = load_rgb) -> Optional[StainReference]:
    """The stain reference of ``frame``'s training rows for ``method`` (None for ``none``), read from
    ``folder/<method>-<key>.json`` or chosen, fitted and written there (atomically) first."""
    if method == "none":
        return None
    _check_method(method)
    path = Path(folder) / f"{method}-{reference_key(frame, method)}.json"
    if path.is_file():
        return StainReference.from_json(path.read_text())
    source = choose_reference(frame, load)
    reference = fit_reference(load(source), method, source=source)
    write_text_atomic(path, reference.to_json() + "\n")
    return reference

