"""Importing TensorFlow and Keras the same way everywhere.

Keras 3 runs on several backends; the GAN's training step uses
``tf.GradientTape``, so bclib requires the TensorFlow backend and says so
clearly if another one is configured. TensorFlow's C++ start-up chatter is
turned down unless the user asked for it.
"""

from __future__ import annotations

import os
import sys

from .errors import UserError


def tensorflow():
    if "tensorflow" in sys.modules:  # cheap, and safe to call inside traced tf.data functions
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    return tf


def keras():
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    tensorflow()
    import keras

    if keras.backend.backend() != "tensorflow":
        raise UserError(f"bclib needs the Keras TensorFlow backend (KERAS_BACKEND is '{keras.backend.backend()}')")
    return keras


def set_determinism(seed: int, deterministic_ops: bool = True) -> None:
    """Seed Python, NumPy and TensorFlow; optionally make TensorFlow ops deterministic.

    Op determinism costs some speed on GPUs and is what makes two CPU runs with
    the same seed bit-identical.
    """
    k = keras()
    k.utils.set_random_seed(seed)
    if deterministic_ops:
        tf = tensorflow()
        tf.config.experimental.enable_op_determinism()
        try:
            # Measured: with several inter-op threads, graph rewrites and update order vary
            # between processes and results differ in the 6th digit; one thread costs no speed here.
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:  # TensorFlow already started in this process: keep its setting
            pass
