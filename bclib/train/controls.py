"""The images a control variant adds (:mod:`bclib.variants`): as many of each class as the cwgan run takes.

The counts come from the cwgan run of the same split and ``train.cwgan_images`` (the GAN images it would
take, :func:`bclib.train.data.generated_training_images`), so a control differs from the GAN arm in where
its images come from and in nothing else. Images that have to be made (TradAug copies, the GAN's images
for random classes or from its earliest snapshot) are written once into
``<output_dir>/cache/controls/<variant>/<key>/``, the key hashing everything that decides them (the drawn
tiles or the snapshot's state, the counts, the seed, the size and geometry): a changed input is a new
folder, never a stale one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.index import index_generated
from ..layout import Layout
from ..source_hash import code_version
from ..variants import Variant

MANIFEST = "manifest.csv"


def class_counts(generated: pd.DataFrame) -> dict[str, int]:
    """{class: images} of the GAN images a cwgan run takes, in the order the classes appear."""
    return {c: int(n) for c, n in generated["label"].value_counts(sort=False).items()}


def draw_copies(real_train: pd.DataFrame, counts: dict[str, int], seed: int) -> pd.DataFrame:
    """``counts[c]`` real training images of each class c drawn with replacement (oversampling), seeded."""
    rng = np.random.default_rng(seed)
    drawn = []
    for label, n in counts.items():
        pool = real_train[real_train["label"] == label]
        if n and pool.empty:
            raise ValueError(f"no real training image of class {label!r} to copy")
        drawn.append(pool.iloc[rng.integers(len(pool), size=n)])
    return pd.concat(drawn, ignore_index=True) if drawn else real_train.iloc[:0]


def _key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def control_images(params, kind: Variant, split: pd.DataFrame, generated: pd.DataFrame,
                   class_names: list[str]) -> pd.DataFrame:
    """The training rows the control ``kind`` adds, at the counts of ``generated`` (the cwgan run's images)."""
    counts = class_counts(generated)
    real_train = split[split["part"] == "train"]
    folder = Layout.of(params).cache("controls") / kind.name
    if kind.extra == "copies":
        return draw_copies(real_train, counts, params.seed).assign(part="train")
    if kind.extra == "tradaug-copies":
        drawn = draw_copies(real_train, counts, params.seed)
        cfg = params.train
        # the code that makes a copy (decode, geometry, TradAug) is part of what decides it
        key = _key(list(drawn["path"].astype(str)), cfg.image_size, params.data.geometry, params.seed,
                   cfg.stain_jitter, code_version(("train/tradaug.py", "train/store.py", "data/pipeline.py")))
        made = write_tradaug_copies(drawn, folder / key, cfg.image_size, params.data.geometry, params.seed,
                                    cfg.stain_jitter)
        return _read(made, class_names, counts, subtype="tradaug-copy")
    if kind.extra in ("gan-shuffled", "gan-early"):
        from ..gan.generate import generate, resolve_snapshot

        which = "earliest" if kind.extra == "gan-early" else "best"
        snapshot = resolve_snapshot(Layout.of(params).gan(params.data.setting_folder), which)
        n, truncation = max(counts.values()), params.gan.truncation
        key = _key(hashlib.sha256((snapshot / "state.json").read_bytes()).hexdigest(), list(counts), n,
                   params.seed, truncation, kind.name)
        target = folder / key
        if not (target / MANIFEST).is_file():
            generate(snapshot, list(counts), n, params.seed, target, force=True, truncation=truncation,
                     random_conditions=kind.extra == "gan-shuffled")
        return _read(target, class_names, counts, subtype=f"cwgan-{kind.extra[4:]}")
    raise ValueError(f"variant {kind.name} adds no control images")


def _read(folder: Path, class_names: list[str], counts: dict[str, int], subtype: str) -> pd.DataFrame:
    """The first ``counts[c]`` images of each class of a written folder, as training rows."""
    frame = index_generated(folder, class_names).frame.assign(part="train", subtype=subtype)
    return pd.concat([frame[frame["label"] == c].iloc[:n] for c, n in counts.items()], ignore_index=True)


def write_tradaug_copies(drawn: pd.DataFrame, target: Path, image_size: int, geometry: str, seed: int,
                         stain_jitter: float) -> Path:
    """Each drawn tile as the classifiers see it (``image_size``, ``geometry``), transformed once by TradAug
    (:func:`bclib.train.store.offline_augmenter`), saved as a PNG with a ``manifest.csv``; kept if there."""
    if (target / MANIFEST).is_file():
        return target
    from PIL import Image

    from ..data.pipeline import load_batch
    from ..io import atomic_directory
    from .store import offline_augmenter

    augment = offline_augmenter(seed, stain_jitter)
    rows = []
    with atomic_directory(target, keep_existing=True) as tmp:  # named by its key: another writer's copy is ours
        for start in range(0, len(drawn), 32):  # batches keep memory flat whatever the count
            chunk = drawn.iloc[start:start + 32]
            images = np.asarray(augment(load_batch(chunk["path"], image_size, geometry=geometry)))
            for i, (image, label) in enumerate(zip(images, chunk["label"]), start=start):
                name = f"{label}/tradaug_copy_{i:05d}.png"
                (tmp / label).mkdir(exist_ok=True)
                Image.fromarray(np.clip(np.round(image), 0, 255).astype(np.uint8)).save(tmp / name)
                rows.append({"file": name, "class": label})
        pd.DataFrame(rows, columns=["file", "class"]).to_csv(tmp / MANIFEST, index=False)
    return target
