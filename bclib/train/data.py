"""The data one classifier run trains, validates and tests on.

Real training images and cWGAN images are kept as separate *parts* so that the
cached trunk outputs of the real part are shared between the variants with and
without generated images. ``stain`` is the stain reference every image of the run
is normalised onto (``data.stain_normalization``), chosen from the real training
images only and cached under ``<output_dir>/cache/stain``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import pandas as pd

from ..data.index import DatasetIndex, apply_task, index_from_params, index_generated
from ..data.splits import split_from_params, split_notes
from ..data.stain import StainReference, cached_reference
from ..errors import UserError
from ..layout import Layout
from ..variants import Variant
from ..variants import variant as kind


@dataclass
class RunData:
    """A run's images: ``parts`` (real training images, then generated ones) and validation and test."""

    index: DatasetIndex
    parts: list[pd.DataFrame]
    val: pd.DataFrame
    test: pd.DataFrame
    stain: Optional[StainReference] = None
    split_notes: list[str] = field(default_factory=list)  # what the split says of itself (bclib.data.splits)

    @property
    def classes(self) -> list[str]:
        return self.index.class_names

    @property
    def real_train(self) -> pd.DataFrame:
        return self.parts[0]

    @property
    def train(self) -> pd.DataFrame:
        return pd.concat(self.parts, ignore_index=True)


def generated_training_images(params, split: pd.DataFrame, class_names: list[str]) -> pd.DataFrame:
    """The cWGAN images of this split (``train.cwgan_images`` of them), refused if their GAN saw any
    validation or test image or patient."""
    from ..gan.image_provenance import check_generated_images
    layout, setting = Layout.of(params), params.data.setting_folder
    folder = layout.generated(setting)
    if not (folder / "manifest.csv").is_file():
        raise UserError(f"variant cwgan needs generated images in {folder}: run notebook 01 "
                        "(or `bclib gan generate`, or `bclib run --jobs 1`) first")
    check_generated_images(layout.gan(setting), folder, split)
    frame = index_generated(folder, class_names).frame.assign(part="train")
    return take_generated(frame, params.train.cwgan_images, split[split["part"] == "train"], folder)


def extra_training_images(params, kind: Variant, split: pd.DataFrame, class_names: list[str]) -> pd.DataFrame:
    """The images ``kind`` adds to the real training images: the split's GAN images, or a control's images at
    the same counts (:mod:`bclib.train.controls`)."""
    generated = generated_training_images(params, split, class_names)
    if kind.extra == "gan":
        return generated
    from .controls import control_images

    return control_images(params, kind, split, generated, class_names)


def take_generated(generated: pd.DataFrame, dose, real_train: pd.DataFrame, folder) -> pd.DataFrame:
    """The generated images a run adds: all (``dose`` None), ``dose`` of them split over the generated
    classes in proportion to what each has (largest remainders), or, for ``"balance"``, as many of each
    generated class as bring it up to the largest class of ``real_train``. The first images of each class
    are taken (a fixed seed generated them), so a smaller count is a subset of a larger one. Asking for
    more than the folder holds is one clear error."""
    from ..gan.conditions import apportion

    if dose is None:
        return generated
    if isinstance(dose, list):
        raise UserError(f"train.cwgan_images {dose}: one run takes one count (the batch runner makes one run "
                        "per count of a list)")
    classes = list(dict.fromkeys(generated["label"]))
    available = generated["label"].value_counts()
    if dose == "balance":
        real = real_train["label"].value_counts()
        wanted = [int(real.max() - real.get(c, 0)) for c in classes]
    else:
        if dose > len(generated):
            raise UserError(f"train.cwgan_images {dose}: {folder} holds {len(generated)} generated images; "
                            "raise gan.n_generate or lower the count")
        wanted = apportion([available[c] for c in classes], int(dose))
    short = [(c, n) for c, n in zip(classes, wanted) if n > available[c]]
    if short:
        c, n = short[0]
        raise UserError(f"train.cwgan_images {dose}: needs {n} generated images of {c}, {folder} holds "
                        f"{available[c]}; raise gan.n_generate to at least {n}")
    taken = [generated[generated["label"] == c].iloc[:n] for c, n in zip(classes, wanted)]
    return pd.concat(taken, ignore_index=True) if taken else generated.iloc[:0]


def assemble_run_data(params, variant: str, index: Optional[DatasetIndex] = None) -> RunData:
    """Split the dataset (the split follows ``params.seed``, not the model seed), add cWGAN images if asked
    and fit the stain reference (on the real training images only) if asked. A given ``index`` is relabelled
    for ``data.task`` when it was made for another task."""
    task = params.data.task
    index = apply_task(index, task) if index is not None else index_from_params(params)
    split = split_from_params(index, params)
    parts = [split[split["part"] == "train"]]
    if kind(variant).adds_images:
        parts.append(extra_training_images(params, kind(variant), split, index.class_names))
    stain = cached_reference(split, params.data.stain_normalization, Layout.of(params).cache("stain"))
    return RunData(index, parts, split[split["part"] == "val"], split[split["part"] == "test"], stain,
                   split_notes(split))
