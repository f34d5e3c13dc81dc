"""The classifier grid and its arms as independent jobs.

Every (model, variant, seed) is one job with its own folder,
``outputs/<profile>/runs/<model>/<variant>/seed-<s>/``, runnable on its own as
``bclib train --params P --model M --variant V --seed S --out DIR``. Under
``data.folds`` and ``data.magnification_protocol: per_magnification`` each fold
and magnification repeats the grid (:func:`protocol_settings`), in
``runs/fold-<k>/`` and ``runs/mag-<m>/`` (``runs/fold-<k>/mag-<m>/`` for both). A list in
``train.cwgan_images`` gives each cwgan variant one run per count, in
``<variant>/n-<count>/seed-<s>/``. A job whose folder holds a complete run made
with the same parameters is skipped.
"""

from __future__ import annotations

import gc
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

from .. import catalogue
from ..layout import Layout
from ..ledger import CLASSIFIER_CODE, run_in_process
from ..params import Params, dose_label
from ..variants import BASELINE_VARIANTS, variant
from .gan_jobs import gan_job_name
from .job import LedgerCompletion


@dataclass
class ClassifierJob(LedgerCompletion):
    model: str
    variant: str
    seed: int
    out_dir: Path
    params: Params = field(repr=False)
    overrides: tuple[str, ...] = ()
    group: str = ""  # e.g. "image-split/" for the leakage runs; keeps job names unique
    dose: str = ""  # "n-<count>/" for one count of a train.cwgan_images list

    @property
    def name(self) -> str:
        return f"{self.group}{self.model}/{self.variant}/{self.dose}seed-{self.seed}"

    def command(self) -> list[str]:
        source = str(self.params._source) if self.params._source else "PARAMS.yaml"
        sets = [arg for text in self.overrides for arg in ("--set", text)]
        return ["bclib", "train", "--params", source, *sets, "--model", self.model, "--variant", self.variant,
                "--seed", str(self.seed), "--out", str(self.out_dir)]

    @property
    def code_parts(self) -> tuple[str, ...]:
        return CLASSIFIER_CODE

    @property
    def depends_on(self) -> tuple[str, ...]:
        # a control's counts are the GAN images' counts, so every variant that adds images waits for the GAN
        return (gan_job_name(self.params),) if variant(self.variant).adds_images else ()

    def commands(self) -> list[list[str]]:
        return [self.command()]

    def inputs(self) -> dict:
        """The generated images a cwgan variant (or a control at their counts) trains on: their manifest's hash."""
        if not variant(self.variant).adds_images:
            return {}
        manifest = Layout.of(self.params).generated(self.params.data.setting_folder) / "manifest.csv"
        return {"generated": hashlib.sha256(manifest.read_bytes()).hexdigest()[:16] if manifest.is_file() else None}

    def outputs_complete(self) -> bool:
        from ..train.run_record import run_is_complete

        return run_is_complete(self.out_dir)


def with_doses(params: Params, model: str, variant_name: str, seed: int, folder: Path, overrides: tuple[str, ...],
               group: str) -> list[ClassifierJob]:
    """The job of (model, variant, seed) on one split (``folder``: its group folder of the layout): one per
    count of a ``train.cwgan_images`` list for a cwgan variant (folder ``<variant>/n-<count>/``, the count set
    with ``--set``), else one."""
    listed = isinstance(params.train.cwgan_images, list)
    doses = params.train.cwgan_doses if listed and variant(variant_name).adds_images else []
    if not doses:
        return [ClassifierJob(model, variant_name, seed, Layout.run(folder, model, variant_name, seed), params,
                              overrides=overrides, group=group)]
    jobs = []
    for dose in doses:
        at_dose = params.model_copy(update={"train": params.train.model_copy(update={"cwgan_images": dose})})
        jobs.append(ClassifierJob(model, variant_name, seed, Layout.run(folder, model, variant_name, seed, dose),
                                  at_dose,
                                  overrides=(*overrides, f"train.cwgan_images={dose}"), group=group,
                                  dose=f"n-{dose_label(dose)}/"))
    return jobs


def grid_run_dir(params: Params, model: str, variant_name: str, seed: int,
                 profile: Optional[Params] = None) -> Path:
    """The folder :func:`classifier_jobs` gives (model, variant, seed) on ``params``' split, where the report
    reads it: ``runs/<setting>/<model>/<variant>/[n-<count>/]seed-<s>`` (``bclib train`` without ``--out``).

    ``profile``: the parameters before ``--set train.cwgan_images=N`` chose one count; as the job grid, a
    cwgan variant has a count folder only when the profile lists counts (default: ``params`` themselves)."""
    listed = isinstance((profile or params).train.cwgan_images, list)
    dose = params.train.cwgan_images
    if not (listed and variant(variant_name).adds_images) or isinstance(dose, list):
        dose = None  # a list still unchosen: the run refuses it (take_generated), wherever it would have gone
    return Layout.of(params).classifier_run(model, variant_name, seed, params.data.setting_folder, dose)


def classifier_jobs(params: Params, which: str) -> list[ClassifierJob]:
    """``which="baselines"``: every baseline of the catalogue in ``train.models`` x {none, tradaug};
    ``which="fusion"``: the catalogue's fusion models (the paper's and its literal reading) in ``train.models`` x
    ``train.variants``; each over ``train.seeds``."""
    cfg = params.train
    if which == "baselines":
        baselines = catalogue.baseline_models()
        grid = [(m, v) for m in cfg.models if m in baselines for v in cfg.variants if v in BASELINE_VARIANTS]
    elif which == "fusion":
        grid = [(m, v) for m in catalogue.fusion_models() if m in cfg.models for v in cfg.variants]
    else:
        raise ValueError(f"which must be 'baselines' or 'fusion', not {which!r}")
    return [job for group, setting, overrides in protocol_settings(params) for m, v in grid for s in cfg.seeds
            for job in with_doses(setting, m, v, s, Layout.of(params).runs(group), overrides, group)]


def protocol_settings(params: Params) -> list[tuple[str, Params, tuple[str, ...]]]:
    """(group, params, overrides) of each split the profile's protocol trains on.

    One entry, ``("", params, ())``, unless ``data.folds`` lists folds (one entry per
    fold k: ``data.fold=k``, group ``fold-<k>/``) or ``data.magnification_protocol`` is
    ``per_magnification`` (one entry per magnification m: ``data.magnifications=[m]``,
    group ``mag-<m>/``); both together give every (fold, magnification).
    """
    data = params.data
    settings = []
    for fold in data.folds or [None]:
        for mag in data.protocol_magnifications:
            update, overrides = {}, []
            if fold is not None:
                update["fold"] = fold
                overrides.append(f"data.fold={fold}")
            if mag is not None:
                update["magnifications"] = [mag]
                overrides.append(f"data.magnifications=[{mag}]")
            setting = params.model_copy(update={"data": data.model_copy(update=update)}) if update else params
            settings.append((setting.data.setting_folder, setting, tuple(overrides)))
    return settings


def gan_fold_jobs(params: Params) -> list[ClassifierJob]:
    """``eval.gan_folds``: the GAN question over folds for a profile that runs one split.
    ``eval.gan_fold_models`` trained without (none) and with cWGAN images (cwgan) on each listed fold,
    every seed, all magnifications in one model; each fold's cwgan runs take the images of a GAN trained on
    that fold's training patients (``gan/fold-<k>/``), and the controls of ``eval.gan_controls`` (see
    :mod:`bclib.variants`) run beside them at the same counts. The folds are the published ones under ``split:
    folds``, bclib's patient-grouped ones (cv) otherwise. Folders ``runs-gan-folds/fold-<k>/<model>/...``."""
    if not params.eval.gan_folds:
        return []
    split = "folds" if params.data.split == "folds" else "cv"
    folds = "[" + ", ".join(str(k) for k in params.eval.gan_folds) + "]"
    jobs = []
    for fold in params.eval.gan_folds:
        data = params.data.model_copy(update={"split": split, "folds": list(params.eval.gan_folds), "fold": fold,
                                              "magnification_protocol": "independent"})
        # eval.gan_folds emptied: a profile with data.folds refuses it (these runs are of such a profile)
        setting = params.model_copy(update={"data": data, "eval": params.eval.model_copy(update={"gan_folds": []})})
        overrides = (f"data.split={split}", f"data.folds={folds}", f"data.fold={fold}",
                     "data.magnification_protocol=independent", "eval.gan_folds=[]")
        group = f"gan-folds/{data.setting_folder}"
        arms = ("none", "cwgan", *params.eval.gan_controls)
        jobs += [job for m in params.eval.gan_fold_models for v in arms for s in params.train.seeds
                 for job in with_doses(setting, m, v, s, Layout.of(params).gan_fold_runs(data.setting_folder),
                                       overrides, group)]
    return jobs


def stain_jobs(params: Params) -> list[ClassifierJob]:
    """``eval.stain_models`` (variant none) trained again with each of ``eval.stain_ablation``'s stain
    normalisations, on the profile's split and seeds: the report sets each beside the same run without
    it. Folders ``outputs/<profile>/runs-stain/<method>/<model>/none/seed-<s>/``."""
    jobs = []
    for method in params.eval.stain_ablation:
        if method == params.data.stain_normalization:
            continue  # the main runs already are this arm
        setting = params.model_copy(update={"data": params.data.model_copy(update={"stain_normalization": method})})
        jobs += [ClassifierJob(m, "none", s, Layout.run(Layout.of(params).stain_runs(method), m, "none", s),
                               setting, overrides=(f"data.stain_normalization={method}",), group=f"stain-{method}/")
                 for m in params.eval.stain_models for s in params.train.seeds]
    return jobs


def comparison_jobs(params: Params, which: str) -> list[ClassifierJob]:
    """The image-split (leakage) and stain-ablation runs of the ``which`` models (``"baselines"`` or
    ``"fusion"``, as :func:`classifier_jobs`): notebook 03 trains the baselines', notebook 04 the fusion
    models', so that notebook 05 only reads."""
    fusion = set(catalogue.fusion_models())
    return [job for job in leakage_jobs(params) + stain_jobs(params) if (job.model in fusion) == (which == "fusion")]


def leakage_jobs(params: Params) -> list[ClassifierJob]:
    """``eval.leakage_models`` (variant none) trained on an **image-level** split, the paper's protocol.

    Compared with the same model on the patient split, they show how much a split that
    lets a patient's images fall on both sides inflates accuracy. Their folders are
    ``outputs/<profile>/runs-image-split/<model>/none/seed-<s>/``.
    """
    update, overrides = {"split": "image"}, ["data.split=image"]
    if params.data.folds is not None:  # folds are of split: folds or cv; the image split is one run
        update["folds"] = None
        overrides.append("data.folds=null")
    if params.data.magnification_protocol != "independent":  # all magnifications in one model, as the paper
        update["magnification_protocol"] = "independent"
        overrides.append("data.magnification_protocol=independent")
    image_split = params.model_copy(update={"data": params.data.model_copy(update=update)})
    return [ClassifierJob(m, "none", s, Layout.run(Layout.of(params).image_split_runs(), m, "none", s),
                          image_split, overrides=tuple(overrides), group="image-split/")
            for m in params.eval.leakage_models for s in params.train.seeds]


PRETRAINING_WEIGHTS = ("imagenet", "none")  # the two arms of eval.pretraining_models: pretrained, random


def pretraining_jobs(params: Params) -> list[ClassifierJob]:
    """``eval.pretraining_models`` (variant none) trained with ImageNet and with random weights: one change,
    the weights, on the profile's split, head and seeds (``eval.pretraining_seeds``, else ``train.seeds``).
    Folders ``outputs/<profile>/runs-pretraining/<weights>/<model>/none/seed-<s>/``."""
    seeds = params.eval.pretraining_seeds or params.train.seeds
    jobs = []
    for weights in PRETRAINING_WEIGHTS:
        setting = params.model_copy(update={"train": params.train.model_copy(update={"weights": weights})})
        folder = Layout.of(params).pretraining_runs(weights)
        jobs += [ClassifierJob(m, "none", s, Layout.run(folder, m, "none", s), setting,
                               overrides=(f"train.weights={weights}",), group=f"pretraining-{weights}/")
                 for m in params.eval.pretraining_models for s in seeds]
    return jobs


def run_classifier_jobs(jobs: Sequence[ClassifierJob], log: Callable[[str], None] = print) -> None:
    """Run the jobs one after another in this process, skipping complete ones; the dataset is indexed once."""
    from ..data.index import index_from_params
    from ..train.classifier import train_classifier  # TensorFlow: loaded when a job trains, not by the plan

    indexed = {}

    def train(job: ClassifierJob) -> None:
        if "index" not in indexed:  # indexed on the first job that trains (none when all are complete)
            indexed["index"] = index_from_params(job.params)
        index = indexed["index"]
        train_classifier(job.params, job.model, job.variant, job.seed, job.out_dir, index=index, log=lambda m: None)
        gc.collect()  # the finished run's model and arrays, before the next one allocates its own

    run_in_process(jobs, train, log)
