"""Helpers for building damaged or odd files in the tests (nothing binary is committed)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def breast_dir(root: Path) -> Path:
    return root / "BreaKHis_v1" / "histology_slides" / "breast"


def photos_dir(root: Path) -> Path:
    return root / "ICIAR2018_BACH_Challenge" / "Photos"


def first_image(folder: Path, pattern: str = "*.png") -> Path:
    return sorted(folder.rglob(pattern))[0]


def write_png(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(array, mode=mode) if mode else Image.fromarray(array)
    image.save(path, format="PNG")
    return path


def truncate(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def bomb_png(path: Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A tiny file whose PNG header claims enormous dimensions (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def tissue_like(height: int = 64, width: int = 96, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


# Parameters of a tiny classifier run (64 px, untrained MobileNet): format with root= and out=.
TINY_TRAIN = """
seed: 0
data: {{dataset: breakhis, root: {root}}}
train: {{epochs: 3, batch_size: 16, image_size: 64, weights: none, tradaug_copies: 2, learning_rate: 0.001}}
run: {{output_dir: {out}}}
"""
