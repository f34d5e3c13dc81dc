"""The cWGAN's images as arrays: training tiles decoded once into a row file, their centre squares, uint8
conversion of generator outputs and picture grids (the trainer's fakes grids, notebook 01's figures)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..io import atomic_path
from ..rowfile import RowFile, RowFileWriter


def stored_width(frame: pd.DataFrame, resolution: int, crop: str) -> int:
    """Width of the stored training images: ``resolution`` (square), or for ``crop: random`` the tiles'
    long side at a short side of ``resolution`` (the median aspect ratio of ``frame``'s images)."""
    if crop != "random" or frame.empty:
        return int(resolution)
    width, height = frame["width"].astype(float).to_numpy(), frame["height"].astype(float).to_numpy()
    ratio = float(np.median(np.maximum(width, height) / np.maximum(np.minimum(width, height), 1.0)))
    return max(int(resolution), int(round(resolution * ratio)))


def _decoded_batches(frame: pd.DataFrame, resolution: int, width: int, crop: str, batch_size: int):
    from ..data.pipeline import cover_dataset, make_dataset

    if crop == "squash":  # the whole tile resized to a square (its axes scaled differently)
        return make_dataset(frame, resolution, batch_size, cache=False, label_column=None)
    return cover_dataset(frame, resolution, width, batch_size)  # aspect kept: centre square or a wider strip


def training_images(frame: pd.DataFrame, resolution: int, folder: Path, batch_size: int = 32,
                    crop: str = "squash") -> RowFile:
    """The training images decoded once into a uint8 row file in ``folder`` (rows in ``frame``'s order),
    read back batch by batch: memory does not grow with the dataset.

    ``crop`` (``gan.crop``): ``squash`` stores each tile resized to resolution x resolution; ``centre``
    its centre square of side min(h, w), resized; ``random`` the tile resized to a short side of
    ``resolution`` *keeping its aspect ratio* (resolution x :func:`stored_width`; a 700x460 tile at 64 px
    is stored as 64x97), from which the trainer cuts a random square for every image it shows.

    The file is named by the images' paths, sizes and modification times, the stored shape and the
    crop, so a changed training set is decoded again; older files in ``folder`` are deleted.
    """
    from ..data.index import frame_content_key

    folder = Path(folder)
    width = stored_width(frame, resolution, crop)
    path = folder / f"images-{resolution}x{width}-{crop}-{frame_content_key(frame)}.npy"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("images-*.npy"):
            old.unlink()
        with atomic_path(path) as tmp:
            writer = RowFileWriter(tmp, len(frame), (resolution, width, 3), np.uint8)
            try:
                for batch in _decoded_batches(frame, resolution, width, crop, batch_size):
                    writer.append(np.clip(np.round(batch.numpy()), 0, 255).astype(np.uint8))
            finally:
                writer.close()
    return RowFile(path)


class CentreSquares:
    """The centre squares of stored (r x w) training images, read like an array of (r x r) images.

    What the snapshot scores, the fakes grids' real rows and the memorisation checks see when
    the trainer stores wider strips for random crops (``gan.crop: random``): deterministic, so
    the real features are cached once.
    """

    def __init__(self, source):
        self.source = source  # a RowFile or a RowView
        side, width = source.shape[1], source.shape[2]
        self.start, self.side = (width - side) // 2, side
        self.shape = (len(source), side, side, *source.shape[3:])
        self.row_shape = self.shape[1:]

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, key) -> np.ndarray:
        images = self.source[key]
        return np.ascontiguousarray(images[..., self.start:self.start + self.side, :])

    def view(self, rows) -> "CentreSquares":
        return CentreSquares(self.source.view(rows))

    @property
    def fingerprint(self) -> str:
        import hashlib

        base = getattr(self.source, "fingerprint", None) or self.source.content_id()
        return hashlib.sha256(f"{base}:centre{self.side}".encode()).hexdigest()[:16]


def load_images_u8(frame: pd.DataFrame, resolution: int, batch_size: int = 32, crop: str = "squash") -> np.ndarray:
    """Decode every image of ``frame`` once (tf.data) as uint8 (N, r, r, 3): resized to a square
    (``crop: squash``) or its centre square (``centre`` and ``random``, the images the trainer's scores use)."""
    batches = _decoded_batches(frame, resolution, resolution, "squash" if crop == "squash" else "centre", batch_size)
    batches = [np.clip(np.round(batch.numpy()), 0, 255).astype(np.uint8) for batch in batches]
    return np.concatenate(batches) if batches else np.zeros((0, resolution, resolution, 3), np.uint8)


def to_uint8(images) -> np.ndarray:
    """Generator output in [-1, 1] -> uint8 [0, 255]."""
    images = np.asarray(images, dtype=np.float32)
    return np.clip(np.round((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def image_grid(rows: Sequence[np.ndarray], border: int = 2) -> np.ndarray:
    """Tile rows of uint8 images (each (n, h, w, 3)) into one image with white borders."""
    n = max(len(r) for r in rows)
    h, w = rows[0].shape[1:3]
    grid = np.full((len(rows) * (h + border) + border, n * (w + border) + border, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, image in enumerate(row):
            y, x = border + i * (h + border), border + j * (w + border)
            grid[y:y + h, x:x + w] = image
    return grid


def square_view(images, side: int):
    """What scores and checks see of the stored training images: themselves when (side x side) squares,
    else their centre squares (:class:`CentreSquares`)."""
    return CentreSquares(images) if images.row_shape[1] > side else images


def save_fakes_grid(generator, latents, n_conditions: int, path: Path) -> Path:
    """A PNG grid of ``generator``'s images from the fixed ``latents``, one row per condition."""
    from ..backend import tensorflow

    tf = tensorflow()
    rows = []
    for label in range(n_conditions):
        y = tf.fill([latents.shape[0], 1], label)
        rows.append(to_uint8(generator([latents, y], training=False)))
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(image_grid(rows)).save(tmp, format="PNG")
    return path
