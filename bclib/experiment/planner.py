"""The plan of a profile: every job it asks for, in the order they may run.

The one place a profile is expanded into jobs: ``bclib plan`` counts them (:mod:`.costs`), ``bclib run``
schedules them (:mod:`bclib.runner.scheduler`), and the notebooks run their share of the same jobs in-process
(``run_classifier_jobs``, ``run_sweep_jobs``, ``run_gan_jobs``), so the three never disagree on what the
experiment is. Each kind of job has its own module: :mod:`.gan_sweeps` (sweep points and the selection),
:mod:`.gan_jobs` (the GAN of each split) and :mod:`.classifier_jobs` (the classifier grid and its arms).
"""

from __future__ import annotations

from .classifier_jobs import classifier_jobs, gan_fold_jobs, leakage_jobs, pretraining_jobs, stain_jobs
from .gan_jobs import gan_jobs
from .gan_sweeps import sweep_jobs


def plan(params, sweeps: bool = True, classifiers: bool = True) -> list:
    """Every job of a profile: the GAN of each split a cwgan variant trains on, sweep points, classifier runs."""
    runs = classifier_jobs(params, "baselines") + classifier_jobs(params, "fusion") + leakage_jobs(params) \
        + stain_jobs(params) + gan_fold_jobs(params) + pretraining_jobs(params) if classifiers else []
    points = sweep_jobs(params) if sweeps else []
    # Every GAN waits for the sweep (single split, data.fold), whose choice of gamma and batch size it trains with.
    return gan_jobs(runs, depends_on=tuple(job.name for job in points)) + points + runs
