"""Epoch checkpoints for classifier training, so that a killed ``bclib train`` resumes where it stopped.

After an epoch, once ``train.checkpoint_every_s`` seconds have passed since the
last checkpoint (every epoch with 0), the model being fitted (the top on cached
features, or the whole model) is written to ``<run>/checkpoint/stage-<k>/`` as one directory
swapped in whole (:func:`bclib.io.atomic_directory`): its weights, its optimizer
state (so the learning-rate schedule and Adam's moments continue), the history
so far and a *tag* naming the parameters, model, variant and seed. A restarted
run with the same tag loads it and continues with the next epoch; a checkpoint
with another tag is ignored. The checkpoint is deleted once the run's outputs
are written.

Resuming continues the epoch counter, the history and the optimizer; early
stopping's patience count starts afresh, and batches are shuffled anew, so a
resumed classifier run is close to, not bit-identical with, an uninterrupted one.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Optional

import numpy as np

from ..backend import keras as _keras
from ..io import atomic_directory

keras = _keras()


def _stage_dir(run_dir: Path, stage: int) -> Path:
    return Path(run_dir) / "checkpoint" / f"stage-{stage}"


class EpochCheckpoint(keras.callbacks.Callback):
    """Write the fitted model's weights, optimizer state and history after an epoch, at most every
    ``every_s`` seconds: a checkpoint of a small top costs about half a second, which is most of an epoch on
    cached features (an uninterrupted smoke run would spend a tenth of its time writing them)."""

    def __init__(self, run_dir: Path, stage: int, tag: str, history: Optional[list] = None, every_s: float = 0.0):
        super().__init__()
        self.folder, self.tag, self.every_s = _stage_dir(run_dir, stage), tag, every_s
        self.history = list(history or [])
        self.last_saved = time.monotonic()

    def _save(self, epochs_done: int, finished: bool) -> None:
        with atomic_directory(self.folder) as tmp:
            self.model.save_weights(tmp / "model.weights.h5")
            np.savez(tmp / "optimizer.npz", *[np.asarray(v) for v in self.model.optimizer.variables])
            (tmp / "state.json").write_text(json.dumps({"tag": self.tag, "epochs_done": epochs_done,
                                                       "finished": finished, "history": self.history}))

    def on_epoch_end(self, epoch, logs=None):
        self.history.append({k: float(v) for k, v in (logs or {}).items()})
        if time.monotonic() - self.last_saved >= self.every_s:
            self._save(epoch + 1, finished=False)
            self.last_saved = time.monotonic()

    def on_train_end(self, logs=None):
        # After early stopping (and its restoring of the best weights): nothing left to resume.
        self._save(len(self.history), finished=True)


def restore(model, run_dir: Path, stage: int, tag: str) -> tuple[int, list]:
    """Load a matching checkpoint into the compiled ``model``: (epochs already done, their history).

    (0, []) when there is none or it belongs to other parameters. A stage that
    finished (all epochs, or stopped early) reports ``epochs_done`` as a large
    number so that it is not fitted again.
    """
    folder = _stage_dir(run_dir, stage)
    try:
        state = json.loads((folder / "state.json").read_text())
    except (OSError, ValueError):
        return 0, []
    if state.get("tag") != tag:
        return 0, []
    model.load_weights(folder / "model.weights.h5")
    model.optimizer.build(model.trainable_variables)
    with np.load(folder / "optimizer.npz") as stored:
        values = [stored[f"arr_{i}"] for i in range(len(stored.files))]
    for variable, value in zip(model.optimizer.variables, values):
        variable.assign(value)
    done = int(state["epochs_done"]) if not state.get("finished") else 10**9
    return done, list(state["history"])


def discard(run_dir: Path) -> None:
    shutil.rmtree(Path(run_dir) / "checkpoint", ignore_errors=True)
