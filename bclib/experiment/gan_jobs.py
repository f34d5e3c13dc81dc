"""The GAN of a split as a job: train (or resume) the cWGAN on the split's training patients, then write the
images its cwgan classifier runs (and the controls at their counts) train on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from ..io import read_jsonl
from ..layout import Layout
from ..ledger import GAN_CODE, run_in_process
from ..params import Params
from .job import LedgerCompletion


def gan_job_name(params: Params) -> str:
    """The name of the job that trains the GAN of this split: ``gan``, or ``gan/fold-<k>`` (and
    ``/mag-<m>``) for one split of a protocol of several (see ``DataParams.setting_folder``)."""
    folder = params.data.setting_folder.rstrip("/")
    return f"gan/{folder}" if folder else "gan"


@dataclass
class GanJob(LedgerCompletion):
    """Train (or resume) the cWGAN of one split, then write its generated images for that split's cwgan runs.

    ``params`` is the split's setting and ``overrides`` the ``--set`` arguments that make it from the profile
    file (none for a profile of one split; ``data.fold=k`` for fold k of ``data.folds``)."""

    params: object = field(repr=False)
    name: str = "gan"
    depends_on: tuple[str, ...] = ()
    overrides: tuple[str, ...] = ()
    code_parts: tuple[str, ...] = GAN_CODE

    @property
    def out_dir(self) -> Path:
        return Layout.of(self.params).gan(self.params.data.setting_folder)

    @property
    def generated_dir(self) -> Path:
        return Layout.of(self.params).generated(self.params.data.setting_folder)

    def commands(self) -> list[list[str]]:
        source = str(self.params._source)
        gan = self.params.gan
        sets = [arg for text in self.overrides for arg in ("--set", text)]
        # --use-selection: the gamma and batch size the sweep chose (gan_selection.json), when it ran
        return [["bclib", "gan", "train", "--params", source, *sets, "--out", str(self.out_dir), "--use-selection"],
                ["bclib", "gan", "generate", "--snapshot", str(self.out_dir), "--class", ",".join(self.classes()),
                 "--n", str(gan.n_generate), "--seed", str(self.params.seed), "--out", str(self.generated_dir),
                 "--force"]]

    def classes(self) -> list[str]:
        """The classes to generate: ``gan.target_class`` (null: every class of the dataset)."""
        return self.params.generated_classes

    def outputs_complete(self) -> bool:
        records = read_jsonl(self.out_dir / "metrics.jsonl")
        return (bool(records) and records[-1]["kimg"] >= self.params.gan.total_kimg - 1e-9
                and (self.generated_dir / "manifest.csv").is_file())

    def inputs(self) -> dict:
        # The sweep's choice follows from the parameters (sweep values included) already in the key.
        return {}

    def run_here(self, log: Callable[[str], None] = print) -> Path:
        """What :meth:`commands` do, in this process: train with the sweep's choice of gamma and batch size
        (when it ran), then write the generated images from the selected snapshot. Returns their folder."""
        from ..gan.generate import generate  # TensorFlow: loaded by the job that trains, not by the plan
        from ..gan.workflow import train_from_params
        from .gan_sweeps import selection_if_swept

        chosen, _ = selection_if_swept(self.params)
        train_from_params(chosen, self.out_dir, log=log)
        return generate(self.out_dir, self.classes(), self.params.gan.n_generate, self.params.seed,
                        self.generated_dir, force=True, truncation=self.params.gan.truncation)


def gan_jobs(runs: Sequence, depends_on: tuple[str, ...] = ()) -> list[GanJob]:
    """One GAN job per split that the cwgan runs among ``runs`` train on (``ClassifierJob.depends_on``
    names it), made from that split's setting without the run's own count of images."""
    jobs: dict[str, GanJob] = {}
    for run in runs:
        for name in run.depends_on:
            if name not in jobs:
                # the count of images a run takes is not the GAN's: one key for every count
                setting = run.params.model_copy(update={"train": run.params.train.model_copy(
                    update={"cwgan_images": None})})
                sets = tuple(o for o in run.overrides if not o.startswith("train.cwgan_images="))
                jobs[name] = GanJob(setting, name=name, depends_on=depends_on, overrides=sets)
    return list(jobs.values())


def run_gan_jobs(jobs: Sequence[GanJob], log: Callable[[str], None] = print) -> None:
    """Run GAN jobs one after another in this process, skipping complete ones (what a notebook does
    where the batch runner runs their commands)."""
    run_in_process(jobs, lambda job: job.run_here(log=lambda message: None), log)
