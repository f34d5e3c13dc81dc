"""Labelled synthetic images from a trained cWGAN snapshot.

``generate(gan_folder, "benign", n=640, seed=0, out_dir=...)`` writes PNGs into
``out_dir/<class>/`` plus ``out_dir/manifest.csv`` with columns
``file, class, seed, snapshot, kimg, gan_training_set`` (the fingerprint of the
images the GAN was trained on, see :mod:`bclib.gan.image_provenance`; a ``truncation``
column when psi < 1). Given a training folder it uses the run's **selected**
snapshot, the one the sweep tables rank best (:mod:`bclib.gan.snapshots`), or
with ``which="latest"`` the newest one. The same snapshot, class, n, seed and
truncation give the same images. The folder is assembled under a temporary name
and renamed, so it is never half-written; :func:`bclib.data.index.index_generated`
reads it back as a table that can be mixed into a training set.

Size: a GAN trained on squashed tiles (``gan.crop: squash``) draws whole tiles,
written at the source tiles' size (e.g. 700x460); one trained on square crops
(``random``, ``centre``) draws a square of side min(h, w) of a tile, written as a
square of that side (460x460), so the tissue is never stretched.

Truncation (``truncation`` = psi < 1): the normalised latent is moved towards its
mean, 0, by psi (:class:`bclib.gan.models.SecondMoment`); for a model without
normalised conditioning z itself is scaled by psi (z has mean 0 too). psi = 0 gives
one image per class; psi = 1 is no truncation.
"""

from __future__ import annotations

import csv
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import numpy as np
from PIL import Image

from ..backend import tensorflow
from ..errors import UserError
from ..io import atomic_directory
from .conditions import apportion
from .image_provenance import MANIFEST_COLUMN
from .models import load_generator
from .snapshots import list_snapshots, read_state, select_snapshot
from .training_images import to_uint8

tf = tensorflow()

MANIFEST = "manifest.csv"


def resolve_snapshot(path: str | Path, which: str = "best") -> Path:
    """A snapshot folder, or a training output folder meaning its selected (``best``) or ``latest`` snapshot."""
    return select_snapshot(path, which)[0]


@contextmanager
def truncated(generator, psi: float):
    """Within the block, ``generator`` draws with truncation psi; yields the factor left for z (1 or psi)."""
    psi = float(psi)
    if not 0.0 <= psi <= 1.0:
        raise UserError(f"--truncation must be between 0 and 1, got {psi:g}")
    layer = next((layer for layer in generator.layers if layer.name == "z_normalization"), None)
    if layer is None:  # raw conditioning: z has mean 0, scale it directly
        yield psi
        return
    before = float(layer.psi.numpy())
    layer.psi.assign(psi)
    try:
        yield 1.0
    finally:
        layer.psi.assign(before)


def sample(generator, class_index: int, n: int, seed: int, latent_dim: int, batch_size: int = 64,
           truncation: float = 1.0) -> np.ndarray:
    """n images of one class as uint8 (n, r, r, 3); latents drawn statelessly from ``seed``."""
    z_all = tf.random.stateless_normal([n, latent_dim], seed=[int(seed), 0])
    chunks = []
    with truncated(generator, truncation) as z_scale:
        for start in range(0, n, batch_size):
            z = z_all[start:start + batch_size] * z_scale
            y = tf.fill([tf.shape(z)[0], 1], class_index)
            chunks.append(to_uint8(generator([z, y], training=False)))
    return np.concatenate(chunks) if chunks else np.zeros((0, 1, 1, 3), np.uint8)


def output_size(state: dict) -> tuple[int, int]:
    """(width, height) of the written images: the source tiles' size for squashed training images,
    else the square of the tiles' short side (what one generated image shows)."""
    width, height = (int(v) for v in state["source_size"])
    if state.get("gan", {}).get("crop", "squash") == "squash":
        return width, height
    side = min(width, height)
    return side, side


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

    shares = dict((int(i), int(c)) for i, c in state.get("condition_shares", {}).get(class_name, []))
    counts = apportion([shares.get(k * m + j, 0) for j in range(m)], n)
    return [(k * m + j, c, magnifications[j]) for j, c in enumerate(counts) if c > 0]


def _class_list(class_names) -> list[str]:
    names = [class_names] if isinstance(class_names, str) else list(class_names)
    names = [n.strip() for name in names for n in name.split(",") if n.strip()]
    if not names:
        raise UserError("--class: name at least one class to generate")
    return list(dict.fromkeys(names))


def generate(snapshot: str | Path, class_names: str | list[str], n: int, seed: int, out_dir: str | Path,
             size: Optional[tuple[int, int]] = None, force: bool = False,
             magnification: Optional[str] = None, which: str = "best", truncation: float = 1.0,
             random_conditions: bool = False) -> Path:
    """Write ``n`` generated images of each class in ``class_names`` (one name, a list, or names joined
    by commas), each class into ``out_dir/<class>/`` (and of ``magnification``, for a model
    conditioned on it); return ``out_dir``. ``snapshot`` is a snapshot folder or a training folder
    (its ``which`` snapshot: ``best``, the selected one, ``latest`` or ``earliest``).

    ``random_conditions``: each image of a class is generated for a class drawn uniformly from all the
    snapshot's classes (seeded), yet filed and labelled under the asked class: the shuffled-label control
    of :mod:`bclib.variants` (manifest column ``conditioning``)."""
    snapshot = resolve_snapshot(snapshot, which)
    state = read_state(snapshot)
    classes = _class_list(class_names)
    plans = {c: conditions_for(state, c, max(n, 1), magnification) for c in classes}
    if random_conditions:
        plans = {c: _random_conditions(state, max(n, 1), seed + 15485863 * k, magnification)
                 for k, c in enumerate(classes)}
    if n < 1:
        raise UserError("--n must be at least 1")
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        if not force:
            raise UserError(f"{out}: folder is not empty; choose another --out or pass --force")
        if not (out / MANIFEST).is_file():
            raise UserError(f"{out}: not a folder of generated images (no {MANIFEST}); refusing to overwrite")
    if not 0.0 <= float(truncation) <= 1.0:
        raise UserError(f"--truncation must be between 0 and 1, got {truncation:g}")
    width, height = size or output_size(state)
    generator = load_generator(snapshot)
    latent = state["gan"]["latent_dim"]
    rows = []
    with atomic_directory(out) as tmp:
        for position, class_name in enumerate(classes):
            # The first class keeps the seed's own latents; every other class gets its own stream.
            class_seed = seed + 104729 * position
            conditions = plans[class_name]
            parts = [(sample(generator, c, count, class_seed if len(conditions) == 1 else class_seed + 7919 * j,
                             latent, truncation=truncation), mag) for j, (c, count, mag) in enumerate(conditions)]
            rows += _write_class(tmp, class_name, parts, seed, snapshot, state, (width, height), truncation)
        fields = ["file", "class", "seed", "snapshot", "kimg", MANIFEST_COLUMN]
        fields += ["truncation"] if truncation < 1 else []
        fields += ["magnification"] if any("magnification" in r for r in rows) else []
        if random_conditions:
            fields.append("conditioning")
            for row in rows:
                row["conditioning"] = "random class"
        with open(tmp / MANIFEST, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
    return out


def _random_conditions(state: dict, n: int, seed: int, magnification: Optional[str]) -> list[tuple]:
    """The conditions of ``n`` images, each of a class drawn uniformly at random (see :func:`generate`)."""
    names = state["class_names"]
    counts = np.bincount(np.random.default_rng(seed).integers(len(names), size=n), minlength=len(names))
    return [condition for name, count in zip(names, counts) if count
            for condition in conditions_for(state, name, int(count), magnification)]


def _write_class(tmp: Path, class_name: str, parts: list, seed: int, snapshot: Path, state: dict,
                 size: tuple[int, int], truncation: float = 1.0) -> list[dict]:
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
            if truncation < 1:
                row["truncation"] = float(truncation)
            rows.append(row)
            i += 1
    return rows


__all__ = ["generate", "conditions_for", "resolve_snapshot", "sample", "list_snapshots", "output_size", "truncated",
           "MANIFEST"]
