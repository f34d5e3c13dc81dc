"""Every path under ``outputs/<profile>/``, named by its role (issue #39: nobody owned the folder layout).

A profile's outputs (``Params.output_dir``)::

    params.yaml, manifest.json         the resolved parameters and the run manifest of `bclib run`
    notebooks/ tables/ figures/        executed notebooks, their tables and figures
    runs/<setting>/<model>/<variant>/[n-<count>/]seed-<s>/     the classifier grid (bclib.experiment.classifier_jobs)
    runs-gan-folds/<setting>/...       the eval.gan_folds arm, same shape below <setting>
    runs-stain/<method>/<model>/none/seed-<s>/, runs-image-split/<model>/none/seed-<s>/,
    runs-pretraining/<weights>/<model>/none/seed-<s>/                 the controlled comparisons
    gan/<setting>, generated/<setting> the cWGAN of one split and the images it generated
    sweeps/<kind>-<value>, gan_selection.json                         the GAN sweep points and their choice
    cache/<kind>/                      trunk stores, stain references, feature statistics, control images

``<setting>`` is ``DataParams.setting_folder`` (``""``, ``fold-<k>/``, ``mag-<m>/`` or both). Every module
asks :class:`Layout` for these paths instead of joining names onto ``output_dir`` (tests/test_layout.py scans
for that); the folders are where they were before this module, since users have outputs on disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

# The names directly under outputs/<profile>/: tests/test_layout.py refuses them joined onto output_dir elsewhere.
PARAMS_FILE = "params.yaml"
MANIFEST_FILE = "manifest.json"
NOTEBOOKS, TABLES, FIGURES = "notebooks", "tables", "figures"
RUNS, GAN_FOLD_RUNS, STAIN_RUNS = "runs", "runs-gan-folds", "runs-stain"
IMAGE_SPLIT_RUNS, PRETRAINING_RUNS = "runs-image-split", "runs-pretraining"
GAN, GENERATED, SWEEPS, GAN_SELECTION = "gan", "generated", "sweeps", "gan_selection.json"
CACHE = "cache"
CACHE_KINDS = ("trunk", "stain", "features", "controls")
TOP_LEVEL = (PARAMS_FILE, MANIFEST_FILE, NOTEBOOKS, TABLES, FIGURES, RUNS, GAN_FOLD_RUNS, STAIN_RUNS,
             IMAGE_SPLIT_RUNS, PRETRAINING_RUNS, GAN, GENERATED, SWEEPS, GAN_SELECTION, CACHE)


@dataclass(frozen=True)
class Layout:
    """The folders and files of one profile's outputs, rooted at its ``output_dir``."""

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    @classmethod
    def of(cls, params) -> "Layout":
        """The layout of a profile (:class:`bclib.params.Params`)."""
        return cls(params.output_dir)

    # -- the record of a batch run and the notebooks -----------------------
    def params_file(self) -> Path:
        """The resolved parameters every job and notebook of a batch run reads."""
        return self.root / PARAMS_FILE

    def manifest(self) -> Path:
        """The run manifest of ``bclib run`` (jobs and notebooks, their status and times)."""
        return self.root / MANIFEST_FILE

    def notebooks(self) -> Path:
        return self.root / NOTEBOOKS

    def executed_notebook(self, name: str) -> Path:
        """The executed copy of notebook file ``name`` (e.g. ``03_baselines.ipynb``)."""
        return self.notebooks() / name

    def tables(self) -> Path:
        return self.root / TABLES

    def figures(self) -> Path:
        return self.root / FIGURES

    def figure(self, name: str) -> Path:
        return self.figures() / f"{name}.png"

    # -- caches -----------------------------------------------------------
    def cache(self, kind: str) -> Path:
        """``cache/<kind>/``: ``trunk`` (stored trunk outputs), ``stain`` (stain references), ``features``
        (FID/KID feature statistics), ``controls`` (the control arms' images)."""
        if kind not in CACHE_KINDS:
            raise ValueError(f"cache kind must be one of {CACHE_KINDS}, not {kind!r}")
        return self.root / CACHE / kind

    # -- classifier runs ---------------------------------------------------
    @staticmethod
    def run(group: Path, model: str, variant: str, seed: int, dose: Optional[int | str] = None) -> Path:
        """One classifier run below a group folder: ``<model>/<variant>/[n-<dose>/]seed-<seed>`` (``dose``: one
        count of a listed ``train.cwgan_images``; None: no count folder)."""
        folder = Path(group) / model / variant
        return (folder if dose is None else folder / f"n-{dose}") / f"seed-{seed}"

    def runs(self, setting: str = "") -> Path:
        """The classifier grid of one split: ``runs/<setting>``."""
        return self.root / RUNS / setting

    def classifier_run(self, model: str, variant: str, seed: int, setting: str = "",
                       dose: Optional[int | str] = None) -> Path:
        """A run of the main grid (``bclib.experiment.classifier_jobs``), where the report reads it."""
        return self.run(self.runs(setting), model, variant, seed, dose)

    def gan_fold_runs(self, setting: str) -> Path:
        """The ``eval.gan_folds`` arm on one fold: ``runs-gan-folds/<setting>``."""
        return self.root / GAN_FOLD_RUNS / setting

    def stain_runs(self, method: str) -> Path:
        """The ``eval.stain_ablation`` arm of one normalisation: ``runs-stain/<method>``."""
        return self.root / STAIN_RUNS / method

    def image_split_runs(self) -> Path:
        """The ``eval.leakage_models`` runs on an image-level split: ``runs-image-split``."""
        return self.root / IMAGE_SPLIT_RUNS

    def pretraining_runs(self, weights: str) -> Path:
        """The ``eval.pretraining_models`` arm of one weights setting: ``runs-pretraining/<weights>``."""
        return self.root / PRETRAINING_RUNS / weights

    # -- the cWGAN ---------------------------------------------------------
    # gan/workflow.py (gan_output_dir, generated_dir), experiment/gan_jobs.py and experiment/gan_sweeps.py ask
    # for these; tests/test_layout.py holds them equal.
    def gan(self, setting: str = "") -> Path:
        """The GAN training folder of one split (snapshots, metrics.jsonl, fakes grids): ``gan/<setting>``."""
        return self.root / GAN / setting

    def generated(self, setting: str = "") -> Path:
        """The images the GAN of one split generated for its cwgan runs: ``generated/<setting>``."""
        return self.root / GENERATED / setting

    def sweep_point(self, kind: str, value: float) -> Path:
        """One GAN sweep point: ``sweeps/<kind>-<value>`` (``gamma-10``, ``batch-8``)."""
        return self.root / SWEEPS / f"{kind}-{value:g}"

    def sweep_points(self) -> list[Path]:
        """Every GAN sweep point folder there is (``sweeps/*``), in name order."""
        folder = self.root / SWEEPS
        return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []

    def gan_selection(self) -> Path:
        """The gamma and batch size the sweep chose (read by ``bclib gan train --use-selection``)."""
        return self.root / GAN_SELECTION
