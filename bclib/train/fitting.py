"""The fitting stages: compiling, callbacks, resumable fits, and the first and second training stages."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..backend import keras as _keras
from ..backend import tensorflow
from ..errors import UserError
from ..progress import epoch_progress
from . import epoch_checkpoint as checkpoint

tf = tensorflow()
keras = _keras()


def distribution_strategy(name: str):
    """``none``: TensorFlow's default strategy; ``mirrored``: one replica per GPU, or per CPU device
    when there is no GPU (several logical CPUs stand in for GPUs in the tests)."""
    if name == "none":
        return tf.distribute.get_strategy()
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([d.name for d in devices])


def compile_for_training(model, learning_rate: float, decay_steps: int, decay_rate: float, strategy) -> None:
    with strategy.scope():  # optimizer state lives on every replica
        schedule = keras.optimizers.schedules.ExponentialDecay(learning_rate, decay_steps, decay_rate)
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])


def class_weights(labels: np.ndarray, n_classes: int) -> dict:
    """Balanced class weights (scikit-learn's), 1.0 for classes absent from ``labels``."""
    from sklearn.utils.class_weight import compute_class_weight

    present = np.unique(labels)
    weights = compute_class_weight("balanced", classes=present, y=labels)
    return {int(c): float(w) for c, w in zip(present, weights)} | {c: 1.0 for c in range(n_classes) if c not in present}


def training_callbacks(cfg, out: Path) -> list:
    """Early stopping on validation loss, plus TensorBoard when the profile asks for it."""
    callbacks = [keras.callbacks.EarlyStopping("val_loss", patience=cfg.early_stopping_patience,
                                               restore_best_weights=cfg.restore_best_weights)]
    if cfg.tensorboard:
        try:
            import tensorboard  # noqa: F401  Keras' callback needs it at the first epoch, not before
        except ImportError:
            raise UserError("train.tensorboard is true but the tensorboard package is not installed "
                            "(pip install tensorboard, or set train.tensorboard: false)") from None
        callbacks.append(keras.callbacks.TensorBoard(str(out / "tensorboard")))
    return callbacks


class ResumableFitter:
    """``model.fit`` with epoch checkpoints (at most every ``checkpoint_every_s`` seconds); a killed run
    continues from its last checkpoint.

    ``run_tag`` names the exact run (parameters, model, variant, seed): a checkpoint
    with another tag is ignored.
    """

    def __init__(self, out: Path, run_tag: str, callbacks: list, name: str, log: Callable[[str], None],
                 checkpoint_every_s: float = 0.0):
        self.out, self.run_tag, self.callbacks, self.name, self.log = out, run_tag, callbacks, name, log
        self.checkpoint_every_s = checkpoint_every_s

    def fit(self, stage: int, fitted, *args, epochs: int, **kwargs) -> list[dict]:
        done, history = checkpoint.restore(fitted, self.out, stage, self.run_tag)
        if done:
            self.log(f"{self.name}: resumed stage {stage} from its checkpoint after epoch {len(history)}")
        if done < epochs:
            if isinstance(args[0], tf.data.Dataset):
                kwargs.setdefault("shuffle", False)  # the dataset shuffles itself, with the run's seed
            saver = checkpoint.EpochCheckpoint(self.out, stage, self.run_tag, history, self.checkpoint_every_s)
            progress = epoch_progress(f"{self.name} stage {stage}", epochs, done, self.log)
            fitted.fit(*args, epochs=epochs, initial_epoch=done, callbacks=self.callbacks + [saver, progress],
                       verbose=0, **kwargs)
            history = saver.history
        return history


def optional_class_weights(enabled: bool, labels: np.ndarray, n_classes: int) -> Optional[dict]:
    return class_weights(labels, n_classes) if enabled else None
