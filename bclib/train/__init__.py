"""Classifier training: data assembly, the trunk-output store, the fitting stages, the run record,
and the ablation grid as jobs.

* :mod:`bclib.train.classifier` - :func:`train_classifier`, one run as a sequence of stages;
* :mod:`bclib.train.data`       - the run's training (real and generated), validation and test images;
* :mod:`bclib.train.trunk`      - building or reusing the frozen trunk;
* :mod:`bclib.train.store`      - frozen-trunk outputs computed once, stored on disk, streamed back;
* :mod:`bclib.train.fitting`    - compiling, callbacks, resumable fits;
* :mod:`bclib.train.record`     - predictions, history, model and ``run.json``;
* :mod:`bclib.train.augment`    - TradAug and HED stain jitter;
* :mod:`bclib.train.checkpoint` - epoch checkpoints for resuming a killed run;
* :mod:`bclib.train.jobs`       - the (model, variant, seed) grid as skippable jobs;
* :mod:`bclib.train.probe`      - a logistic-regression probe on frozen embeddings, C chosen on validation.
"""

from importlib import import_module

# Exported lazily (PEP 562): the job grid (``bclib.train.jobs``), which `bclib plan` and `bclib run`'s
# scheduler read, needs no TensorFlow; importing the classifier here would load it (~5 s) in every
# such process, and in every job subprocess before it even starts its own work.
_EXPORTS = {"VARIANTS": "classifier", "train_classifier": "classifier", "generated_training_images": "data",
            "class_weights": "fitting", "distribution_strategy": "fitting", "run_is_complete": "record",
            "C_GRID": "probe", "Probe": "probe", "fit_probe": "probe"}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
