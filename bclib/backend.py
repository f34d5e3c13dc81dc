"""Importing TensorFlow and Keras the same way everywhere.

Keras 3 runs on several backends; the GAN's training step uses
``tf.GradientTape``, so bclib requires the TensorFlow backend and says so
clearly if another one is configured.

Two environment settings are made before TensorFlow loads, each only if the
user has not set it:

* ``TF_CPP_MIN_LOG_LEVEL=3``: TensorFlow's C++ log lines (``E0000 ...
  cuda_platform.cc ... failed call to cuInit`` on a machine without a GPU,
  ``NodeDef mentions attribute use_unbounded_threadpool`` from the determinism
  rewrite, ``remapper failed``) are harmless but read as errors; Python
  exceptions are unaffected. ``bclib --debug`` keeps them.
* ``TF_FORCE_GPU_ALLOW_GROWTH=true``: each process takes GPU memory as it needs
  it instead of nearly the whole card at start, so several bclib processes
  (``bclib run --jobs N``, a notebook beside a batch run) can share one GPU as
  long as their peaks fit together.

A process that has loaded TensorFlow also skips the cyclic garbage collector's
last pass when it exits (:func:`_no_collection_at_exit`).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys

from .errors import UserError

QUIET_ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_FORCE_GPU_ALLOW_GROWTH": "true"}


def quiet_environment() -> None:
    """The settings above, for this process and every process it starts (jobs, notebook kernels)."""
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


@contextlib.contextmanager
def _native_stderr_silenced(enabled: bool):
    """Send file descriptor 2 to /dev/null for a moment. TensorFlow's shared libraries log a few
    lines while loading (``I0000 ... port.cc] oneDNN custom operations are on``, ``Could not find
    cuda drivers``) before any log-level setting applies; Python's own errors still show."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _no_collection_at_exit() -> None:
    """Make the interpreter's shutdown skip the cyclic collector's full pass over the heap.

    At exit CPython walks every object it tracks once more to free unreachable cycles, and with TensorFlow and a
    model loaded that heap is millions of objects: about 1 CPU-second for a process that only loaded Keras, 1.4
    after building the fusion trunk (benchmarks/results.md, "Process exit"), 2 after training it, 3 for a test
    worker (docs/decisions.md). ``gc.freeze()`` as the first exit handler moves them all to the permanent
    generation, which no collection visits, and the process ends as soon as modules are torn down. Nothing is
    lost that was promised: Python never guarantees ``__del__`` at exit, files are written with ``with`` blocks
    and renamed into place, temporary folders and TensorFlow, h5py and Dask clean up through their own exit
    handlers (``atexit``, ``weakref.finalize``), which still run, and the standard streams are flushed by the
    interpreter itself.
    """
    if not getattr(_no_collection_at_exit, "registered", False):
        atexit.register(gc.freeze)  # last in, first out: runs before the handlers registered earlier
        _no_collection_at_exit.registered = True


def tensorflow():
    tf = sys.modules.get("tensorflow")  # cheap, and safe to call inside traced tf.data functions
    if tf is None:
        quiet_environment()
        with _native_stderr_silenced(os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "3"):
            import tensorflow as tf
    _no_collection_at_exit()  # also when something imported TensorFlow before bclib did
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


def gpu_supports_bfloat16() -> bool:
    """True on GPUs with bfloat16 tensor cores (compute capability 8.0, Ampere, and later)."""
    tf = tensorflow()
    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        if capability and tuple(capability) >= (8, 0):
            return True
    return False


def mixed_precision_policy(requested: bool) -> str:
    """The Keras dtype policy for a ``mixed_precision: true`` setting on this machine.

    bfloat16 where the GPU computes it natively (A100, L4, H100...); float32 on older GPUs
    such as Colab's T4. float16 would be faster there, but the cWGAN's custom training step
    would then need loss scaling to keep its small gradients from underflowing, and a
    half-finished float16 path is worse than a slower exact one. On a CPU, bfloat16 (the
    tests exercise that path).
    """
    if not requested:
        return "float32"
    tf = tensorflow()
    if tf.config.list_physical_devices("GPU") and not gpu_supports_bfloat16():
        return "float32"
    return "mixed_bfloat16"
