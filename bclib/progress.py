"""Progress of long steps as plain lines with an estimate of the time left.

One line at the start, then at most one a minute, and one at the end, each
formatted by tqdm (``3/50 [01:10<18:20, 1.5 s/epoch]``). Plain lines rather than
a redrawn bar: they read well in a log file, in ``job.log`` and in the output of
a notebook executed by papermill, where a widget bar would be saved as a
reference to a widget state that a static viewer cannot show.
"""

from __future__ import annotations

import time
from typing import Callable, Optional

from tqdm import tqdm

from .backend import keras as _keras


class ProgressLines:
    """``update()`` after each unit of work; prints a line when a minute has passed or the work is done."""

    def __init__(self, total: int, description: str, unit: str, log: Callable[[str], None] = print,
                 every_s: float = 60.0, start: int = 0):
        self.total, self.description, self.unit, self.log, self.every_s = total, description, unit, log, every_s
        self.n, self.started, self.start = start, time.monotonic(), start
        self.last = self.started
        self._line()

    def _line(self, postfix: Optional[str] = None) -> None:
        self.n = min(self.n, self.total)  # the last step may overshoot (a GAN iteration is a whole batch)
        meter = tqdm.format_meter(self.n - self.start, self.total - self.start, time.monotonic() - self.started,
                                  prefix=self.description, unit=self.unit, ascii=True, ncols=0, postfix=postfix)
        # format_meter counts from zero; show the absolute position when resuming
        self.log(meter.replace(f"{self.n - self.start}/{self.total - self.start}", f"{self.n}/{self.total}", 1))

    def update(self, n: int = 1, postfix: Optional[str] = None) -> None:
        self.n += n
        now = time.monotonic()
        if self.n >= self.total or now - self.last >= self.every_s:
            self.last = now
            self._line(postfix)


def epoch_progress(description: str, epochs: int, initial_epoch: int, log: Callable[[str], None]):
    """A Keras callback printing :class:`ProgressLines` per epoch, with the losses as postfix."""
    keras = _keras()

    class EpochProgress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.lines = ProgressLines(epochs, description, "epoch", log, start=initial_epoch)

        def on_epoch_end(self, epoch, logs=None):
            shown = {k: v for k, v in (logs or {}).items() if k in ("loss", "val_loss", "accuracy", "val_accuracy")}
            self.lines.update(1, ", ".join(f"{k} {v:.3f}" for k, v in shown.items()))

    return EpochProgress()
