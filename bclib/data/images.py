"""Reading one image safely: checks, mode conversion, size bounds.

Every loader and the tf.data pipeline read pixels through :func:`load_rgb`,
so an odd file (16-bit, palette, RGBA, grayscale, TIFF) looks the same to
the rest of the code: an ``uint8`` array of shape (height, width, 3).
:func:`inspect_image` is the check the loaders run on every file before it
enters an index; a file that fails it is reported as a problem and skipped,
never allowed to crash a run half-way through training.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = {".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp"}
# Bounds on what is accepted as a histology tile. The real images are 700x460
# (BreakHis) and 2048x1536 (BACH); anything above MAX_PIXELS is refused before
# decoding (a decompression bomb cannot exhaust memory), anything below
# MIN_SIDE carries no tissue.
MAX_PIXELS = 64_000_000
MIN_SIDE = 16


class ImageProblem(Exception):
    """A file that cannot be used as an image; the message says why."""


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    mode: str


def is_image_name(path: str | os.PathLike) -> bool:
    name = os.path.basename(path)
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


def _open(path: Path) -> Image.Image:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ImageProblem(f"cannot read file ({exc.strerror})") from None
    if size == 0:
        raise ImageProblem("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except UnidentifiedImageError:
        raise ImageProblem("not a readable image (unknown or corrupt format)") from None
    except Image.DecompressionBombError:
        raise ImageProblem(f"image dimensions too large (over {MAX_PIXELS:,} pixels)") from None
    except OSError as exc:
        raise ImageProblem(f"cannot open image ({exc})") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        image.close()
        raise ImageProblem(f"image dimensions too large ({width}x{height}, limit {MAX_PIXELS:,} pixels)")
    if min(width, height) < MIN_SIDE:
        image.close()
        raise ImageProblem(f"image too small ({width}x{height}, minimum side {MIN_SIDE} px)")
    return image


def _decode(image: Image.Image) -> np.ndarray:
    try:
        image.load()
    except Image.DecompressionBombError:
        raise ImageProblem(f"image dimensions too large (over {MAX_PIXELS:,} pixels)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageProblem(f"truncated or corrupt image data ({exc})") from None
    return to_rgb(image)


def to_rgb(image: Image.Image) -> np.ndarray:
    """Any PIL image as uint8 RGB; 16-bit data is scaled, alpha is dropped."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        array = np.asarray(image).astype(np.float64)
        top = 65535.0 if array.max(initial=0) > 255 else 255.0
        array = np.clip(array / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(array[..., None], 3, axis=-1)
    if mode == "F":
        array = np.asarray(image, dtype=np.float64)
        lo, hi = np.nanmin(array), np.nanmax(array)
        array = np.zeros_like(array) if hi <= lo else (array - lo) / (hi - lo) * 255.0
        return np.repeat(array.astype(np.uint8)[..., None], 3, axis=-1)
    if mode != "RGB":
        if mode == "P" and "transparency" in image.info:
            image = image.convert("RGBA")
        image = image.convert("RGB")
    return np.asarray(image, dtype=np.uint8)


def inspect_image(path: str | os.PathLike) -> ImageInfo:
    """Check that ``path`` decodes in full; raise ImageProblem with the reason if not."""
    with _open(Path(path)) as image:
        info = ImageInfo(image.size[0], image.size[1], image.mode)
        _decode(image)
    return info


def load_rgb(path: str | os.PathLike) -> np.ndarray:
    """Decode ``path`` to an uint8 (height, width, 3) array; raise ImageProblem if unusable."""
    with _open(Path(path)) as image:
        return _decode(image)
