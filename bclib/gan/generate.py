"""Labelled synthetic images from a trained cWGAN snapshot.

``generate(snapshot, "benign", n=640, seed=0, out_dir=...)`` writes PNGs sized
like the training images (the size recorded in the snapshot) into
``out_dir/<class>/`` plus ``out_dir/manifest.csv`` with columns
``file, class, seed, snapshot, kimg, gan_training_set`` (the fingerprint of the
images the GAN was trained on, see :mod:`bclib.gan.provenance`). The same snapshot, class, n and seed give
the same images. The folder is assembled under a temporary name and renamed,
so it is never half-written; :func:`bclib.data.index.index_generated` reads it
back as a table that can be mixed into a training set.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Optional

import numpy as np
from PIL import Image

from ..backend import tensorflow
from ..errors import UserError
from ..io import atomic_directory
from .provenance import MANIFEST_COLUMN
from .train import latest_snapshot, list_snapshots, load_generator, read_state, to_uint8

tf = tensorflow()

MANIFEST = "manifest.csv"


def resolve_snapshot(path: str | Path) -> Path:
    """A snapshot folder, or a training output folder meaning its newest complete snapshot."""
    path = Path(path)
    snapshot = latest_snapshot(path)
    if snapshot is None:
        raise UserError(f"{path}: no complete cWGAN snapshot here (expected state.json or snapshot-* folders)")
    return snapshot


def sample(generator, class_index: int, n: int, seed: int, latent_dim: int, batch_size: int = 64) -> np.ndarray:
    """n images of one class as uint8 (n, r, r, 3); latents drawn statelessly from ``seed``."""
    z_all = tf.random.stateless_normal([n, latent_dim], seed=[int(seed), 0])
    chunks = []
    for start in range(0, n, batch_size):
        z = z_all[start:start + batch_size]
        y = tf.fill([tf.shape(z)[0], 1], class_index)
        chunks.append(to_uint8(generator([z, y], training=False)))
    return np.concatenate(chunks) if chunks else np.zeros((0, 1, 1, 3), np.uint8)


def conditions_for(state: dict, class_name: str, n: int, magnification: Optional[str] = None) -> list[tuple]:
    """(condition index, count, magnification or None) triples that make ``n`` images of a class.

    A model conditioned on the class only has one condition per class. A model also
    conditioned on magnification (``gan.condition_magnification``) uses the asked
    magnification, or, when none is asked, spreads the images over the magnifications
    in the class's training proportions (recorded in the snapshot).
    """
    classes = state["class_names"]
    if class_name not in classes:
        raise UserError(f"--class {class_name!r}: the snapshot knows {', '.join(classes)}")
    k = classes.index(class_name)
    magnifications = state.get("magnifications") or []
    if not magnifications:
        if magnification is not None:
            raise UserError("--magnification: this snapshot is not conditioned on magnification")
        return [(k, n, None)]
    m = len(magnifications)
    if magnification is not None:
        if magnification not in magnifications:
            raise UserError(f"--magnification {magnification!r}: the snapshot knows {', '.join(magnifications)}")
        return [(k * m + magnifications.index(magnification), n, magnification)]
    from .train import _apportion

    shares = dict((int(i), int(c)) for i, c in state.get("condition_shares", {}).get(class_name, []))
    counts = _apportion([shares.get(k * m + j, 0) for j in range(m)], n)
    return [(k * m + j, c, magnifications[j]) for j, c in enumerate(counts) if c > 0]


def _class_list(class_names) -> list[str]:
    names = [class_names] if isinstance(class_names, str) else list(class_names)
    names = [n.strip() for name in names for n in name.split(",") if n.strip()]
    if not names:
        raise UserError("--class: name at least one class to generate")
    return list(dict.fromkeys(names))


def generate(snapshot: str | Path, class_names: str | list[str], n: int, seed: int, out_dir: str | Path,
             size: Optional[tuple[int, int]] = None, force: bool = False,
             magnification: Optional[str] = None) -> Path:
    """Write ``n`` generated images of each class in ``class_names`` (one name, a list, or names joined
    by commas), each class into ``out_dir/<class>/`` (and of ``magnification``, for a model
    conditioned on it); return ``out_dir``."""
    snapshot = resolve_snapshot(snapshot)
    state = read_state(snapshot)
    classes = _class_list(class_names)
    plans = {c: conditions_for(state, c, max(n, 1), magnification) for c in classes}
    if n < 1:
        raise UserError("--n must be at least 1")
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        if not force:
            raise UserError(f"{out}: folder is not empty; choose another --out or pass --force")
        if not (out / MANIFEST).is_file():
            raise UserError(f"{out}: not a folder of generated images (no {MANIFEST}); refusing to overwrite")
    width, height = size or tuple(state["source_size"])
    generator = load_generator(snapshot)
    latent = state["gan"]["latent_dim"]
    rows = []
    with atomic_directory(out) as tmp:
        for position, class_name in enumerate(classes):
            # The first class keeps the seed's own latents; every other class gets its own stream.
            class_seed = seed + 104729 * position
            conditions = plans[class_name]
            parts = [(sample(generator, c, count, class_seed if len(conditions) == 1 else class_seed + 7919 * j,
                             latent), mag) for j, (c, count, mag) in enumerate(conditions)]
            rows += _write_class(tmp, class_name, parts, seed, snapshot, state, (width, height))
        fields = ["file", "class", "seed", "snapshot", "kimg", MANIFEST_COLUMN]
        fields += ["magnification"] if any("magnification" in r for r in rows) else []
        with open(tmp / MANIFEST, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
    return out


def _write_class(tmp: Path, class_name: str, parts: list, seed: int, snapshot: Path, state: dict,
                 size: tuple[int, int]) -> list[dict]:
    """Save one class's images as PNGs at the training images' size; return their manifest rows."""
    width, height = size
    (tmp / class_name).mkdir()
    rows, i = [], 0
    for images, mag in parts:
        for image in images:
            name = f"{class_name}/cwgan_{class_name}_s{seed}_{i:05d}.png"
            resized = tf.image.resize(image[None].astype(np.float32), (height, width), antialias=True)[0]
            Image.fromarray(np.clip(np.round(resized.numpy()), 0, 255).astype(np.uint8)).save(tmp / name)
            row = {"file": name, "class": class_name, "seed": seed, "snapshot": snapshot.name,
                   "kimg": round(float(state["kimg"]), 3), MANIFEST_COLUMN: state.get("training_set", "")}
            if mag is not None:
                row["magnification"] = mag
            rows.append(row)
            i += 1
    return rows


__all__ = ["generate", "conditions_for", "resolve_snapshot", "sample", "list_snapshots", "MANIFEST"]
