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
    """The cWGAN images of this profile, refused if their GAN saw any validation or test image or patient."""
    from ..gan.provenance import check_generated_images

    folder = params.output_dir / "generated"
    if not (folder / "manifest.csv").is_file():
        raise UserError(f"variant cwgan needs generated images in {folder}: run notebook 01 "
                        "(or `bclib gan generate`) first")
    check_generated_images(params.output_dir / "gan", folder, split)
    frame = index_generated(folder, class_names).frame.assign(part="train")
    limit = params.train.cwgan_images
    return frame.iloc[:limit] if limit is not None else frame


def assemble_run_data(params, variant: str, index: Optional[DatasetIndex] = None) -> RunData:
    """Split the dataset (the split follows ``params.seed``, not the model seed), add cWGAN images if asked
    and fit the stain reference (on the real training images only) if asked. A given ``index`` is relabelled
    for ``data.task`` when it was made for another task."""
    task = params.data.task
    index = apply_task(index, task) if index is not None else index_from_params(params)
    split = split_from_params(index, params)
    parts = [split[split["part"] == "train"]]
    if "cwgan" in variant:
        parts.append(generated_training_images(params, split, index.class_names))
    stain = cached_reference(split, params.data.stain_normalization, params.output_dir / "cache" / "stain")
    return RunData(index, parts, split[split["part"] == "val"], split[split["part"] == "test"], stain,
                   split_notes(split))
