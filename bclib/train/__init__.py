"""Classifier training: data assembly, the trunk-output store, the fitting stages, the run record
(the grid of runs as jobs is :mod:`bclib.experiment.classifier_jobs`'s).

* :mod:`bclib.train.classifier` - :func:`train_classifier`, one run as a sequence of stages;
* :mod:`bclib.train.data`       - the run's training (real and generated), validation and test images;
* :mod:`bclib.train.controls`   - the images a control variant adds in place of the GAN's;
* :mod:`bclib.train.trunk`      - building or reusing the frozen trunk;
* :mod:`bclib.train.store`      - frozen-trunk outputs computed once, stored on disk, streamed back;
* :mod:`bclib.train.fitting`    - compiling, callbacks, resumable fits;
* :mod:`bclib.train.run_record`     - predictions, history, model and ``run.json``;
* :mod:`bclib.train.tradaug`    - TradAug and HED stain jitter;
* :mod:`bclib.train.epoch_checkpoint` - epoch checkpoints for resuming a killed run;
* :mod:`bclib.train.probe`      - a logistic-regression probe on frozen embeddings, C chosen on validation.
"""

from ..lazy_exports import lazy_exports

__all__ = ["train_classifier", "generated_training_images", "class_weights", "distribution_strategy",
           "run_is_complete", "C_GRID", "Probe", "fit_probe"]

# Resolved on first use: a job's completeness (bclib.train.run_record), which `bclib plan` and `bclib run`'s
# scheduler read, needs no TensorFlow, and importing the classifier here would load it (~5 s) in each such process.
__getattr__, __dir__ = lazy_exports(__name__, __all__, ("run_record", "data", "probe", "fitting", "classifier"))
