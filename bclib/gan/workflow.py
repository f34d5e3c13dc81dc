"""From a parameter profile to a trained cWGAN: the steps ``bclib gan train`` and notebook 01 share.

Each split of a protocol has its own GAN: ``outputs/<profile>/gan/`` and ``generated/`` for a profile of
one split, ``gan/fold-<k>/`` and ``generated/fold-<k>/`` for fold k of ``data.folds`` (and ``mag-<m>/``
under ``per_magnification``), so that a fold's classifiers only see images of a GAN trained on that
fold's training patients.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional, Sequence

from ..data.index import index_from_params
from ..data.splits import split_from_params
from ..layout import Layout
from ..params import Params
from .checkpointing import snapshot_to_continue
from .snapshots import list_snapshots


def gan_output_dir(params: Params) -> Path:
    """The GAN training folder of the profile's split (see the module's docstring)."""
    return Layout.of(params).gan(params.data.setting_folder)


def generated_dir(params: Params) -> Path:
    """The images the GAN of the profile's split generated for its cwgan classifier runs."""
    return Layout.of(params).generated(params.data.setting_folder)


def train_from_params(params: Params, out_dir: Optional[str | Path] = None, hooks: Sequence = (),
                      log: Callable[[str], None] = print, stop_after_kimg: Optional[float] = None):
    """Index the data, split it as the profile says, and train (or resume) on the training part only."""
    from .train import CWGANTrainer

    if params.metrics.during_training and not hooks:
        from .scoring_hook import FidKidHook

        hooks = [FidKidHook(params.metrics, cache_dir=Layout.of(params).cache("features"))]
    index = index_from_params(params)
    split = split_from_params(index, params)
    train = split[split["part"] == "train"]
    held_out = split[split["part"].isin(["val", "test"])]
    out = Path(out_dir or gan_output_dir(params))
    # A sweep point with these very settings, trained for fewer kimg, is where this run would be after them.
    start = None if list_snapshots(out) else snapshot_to_continue(params, out)
    trainer = CWGANTrainer(params, train, index.class_names, out, held_out=held_out, hooks=hooks, log=log,
                           provenance=index.provenance(), continue_from=start)
    trainer.train(stop_after_kimg=stop_after_kimg)
    return trainer

