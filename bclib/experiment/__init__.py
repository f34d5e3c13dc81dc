"""The experiment: a profile expanded into jobs, one module per kind of job.

* :mod:`.job`             - the job protocol (:class:`Job`) the plan, the scheduler and the ledger rely on;
* :mod:`.gan_sweeps`      - the gamma and batch-size sweep points, their tables and the selection of the
                            configuration the main GAN trains with;
* :mod:`.gan_jobs`        - the GAN of each split (train, then generate the images its cwgan runs take);
* :mod:`.classifier_jobs` - the (model, variant, seed) grid over folds, magnifications and image counts, and
                            its arms (image split, stain ablation, GAN folds with their controls, pretraining);
* :mod:`.planner`         - :func:`plan`: every job of a profile, in the order they may run (``bclib plan``,
                            ``bclib run``, the notebooks);
* :mod:`.costs`           - what a plan will cost, before anything runs (``bclib plan``).

Nothing here loads TensorFlow: a job imports the trainer only when it runs in this process. Running many
jobs (threads, a Dask cluster, papermill) is :mod:`bclib.runner`'s.
"""

# The modules classifier_jobs and gan_jobs share their names with a function of theirs: the functions are
# not exported here, so that `from bclib.experiment import classifier_jobs` gives the module.
from .classifier_jobs import ClassifierJob, run_classifier_jobs
from .gan_jobs import GanJob, run_gan_jobs
from .gan_sweeps import SweepJob, run_sweep_jobs, sweep_jobs
from .job import Job
from .planner import plan

__all__ = ["Job", "plan", "ClassifierJob", "run_classifier_jobs", "GanJob", "run_gan_jobs", "SweepJob",
           "sweep_jobs", "run_sweep_jobs"]
