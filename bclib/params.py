"""The typed schema behind ``params/*.yaml``.

A parameter file is validated in full before anything runs: an unknown key
(a typo such as ``epocs``), a value of the wrong type or one out of range is
refused with a one-line message naming the file, the key and the reason.

Files have a top-level ``seed`` and the sections ``data``, ``gan``,
``metrics``, ``train``, ``eval`` and ``run``. Relative paths in a file are
taken relative to the folder holding that file, so ``params/smoke.yaml`` says
``root: ../data/synthetic/breakhis``.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import catalogue
from . import variants as _variants
from .data.layouts import BREAKHIS_MAGNIFICATIONS as MAGNIFICATIONS
from .errors import UserError
from .paths import project_of

Magnification = Literal[MAGNIFICATIONS]  # type: ignore[valid-type]


class _Section(BaseModel):
    # extra="forbid" is what turns a typo into an error instead of a silent default.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataParams(_Section):
    dataset: Literal["breakhis", "bach"]
    task: Literal["binary", "subtype"] = Field(
        "binary", description="BreakHis: binary (benign/malignant) or subtype (its 8 subtypes); BACH: binary "
                              "(its 4 classes).")
    root: Path = Field(description="Dataset folder; any sensible level of the real layout.")
    split: Literal["patient", "folds", "cv", "image"] = Field(
        "patient", description="patient: patient-disjoint train/val/test (BACH: eva's patient-aware division); "
                               "folds: the published BreakHis folds (Folds.csv or dsfold1-5.txt, refused when "
                               "absent); cv: bclib's own patient-grouped 5 folds; image: the paper's image-level "
                               "split (leaks patients; kept to measure the leak).")
    patient_id: Literal["folder", "accession"] = Field(
        "folder", description="BreakHis: what counts as one patient. folder: each slide folder's id (14-22549AB); "
                              "accession: the id without its letters (14-22549), so folders sharing an accession "
                              "number (14-22549AB/CD/G) are one patient: a sensitivity check for the patient "
                              "splits (published folds stay as published).")
    image_size: int = Field(224, ge=16, le=2048, description="Side of the square model input, pixels.")
    geometry: Literal["squash", "crop"] = Field(
        "squash", description="How the classifiers make each tile square: squash resizes the whole tile (the "
                              "paper's practice; a 700x460 tile is squashed by 1.52), crop takes its centre square "
                              "of side min(h, w), unsquashed, as the cWGAN's training images are cut (gan.crop), so "
                              "real and generated images reach the classifiers with the same geometry "
                              "(docs/gan.md). Applies to every image of every run, training and test alike.")
    val_fraction: float = Field(0.2, gt=0, lt=1, description="Share of the non-test data used for validation.")
    test_fraction: float = Field(0.2, gt=0, lt=1, description="Share of the data held out for testing.")
    fold: int = Field(1, ge=1, le=5, description="Fold used by split: folds (published) or cv (bclib's own).")
    folds: Optional[list[Annotated[int, Field(ge=1, le=5)]]] = Field(
        None, description="split: folds or cv only: run every listed fold as one experiment (one job per fold, "
                          "outputs in runs/fold-<k>/); null runs data.fold alone. [1, 2, 3, 4, 5] is the "
                          "field's 5-fold protocol.")
    fold_policy: Literal["strict", "published"] = Field(
        "strict", description="split: folds only, for a patient the archive files twice (14-13412, under ductal "
                              "and lobular carcinoma) whose two folders a published fold puts on both sides: "
                              "strict sets its training images aside (the test set stays as published); "
                              "published keeps the fold as published and says so.")
    magnification_protocol: Literal["independent", "per_magnification"] = Field(
        "independent", description="BreakHis: independent trains one model on all kept magnifications; "
                                   "per_magnification one model per magnification (outputs in runs/mag-<m>/).")
    magnifications: Optional[list[Magnification]] = Field(
        None, description="BreakHis magnifications to keep (all when null)."
    )
    paper_proportions: bool = Field(
        False, description="split: image only: per-class val/test shares of the paper's Table 2."
    )
    batch_size: int = Field(32, ge=1, le=4096, description="Batch size of inference/preview pipelines.")
    cache: bool = Field(True, description="Cache decoded, resized images in tf.data.")
    stain_normalization: Literal["none", "macenko", "reinhard"] = Field(
        "none", description="Map every image's stain onto one reference tile chosen from the training images "
                            "(Macenko: stain vectors in optical density; Reinhard: Lab mean/std); none keeps colours.")

    @model_validator(mode="after")
    def _task_of_dataset(self) -> "DataParams":
        if self.task == "subtype" and self.dataset != "breakhis":
            raise ValueError("task subtype is BreakHis only (its 8 subtypes); BACH has 4 classes: use task: binary")
        if self.task == "subtype" and self.paper_proportions:
            raise ValueError("paper_proportions are the paper's benign/malignant shares (Table 2); "
                             "task subtype has none: set paper_proportions: false")
        return self

    @model_validator(mode="after")
    def _protocols(self) -> "DataParams":
        if self.folds is not None and self.split not in ("folds", "cv"):
            raise ValueError(f"folds lists folds of split: folds or cv, but split is {self.split}: "
                             "set split: folds (or cv) or folds: null")
        if self.folds is not None and (not self.folds or len(set(self.folds)) != len(self.folds)):
            raise ValueError(f"folds must list distinct folds (1-5), got {self.folds}")
        if self.magnification_protocol == "per_magnification" and self.dataset != "breakhis":
            raise ValueError("magnification_protocol per_magnification needs magnifications; "
                             f"{self.dataset} has none (BreakHis only): use magnification_protocol: independent")
        return self

    @property
    def protocol_magnifications(self) -> list[Optional[str]]:
        """One entry per model of the magnification protocol: each magnification, or None (all in one model)."""
        if self.magnification_protocol == "independent":
            return [None]
        return [m for m in MAGNIFICATIONS if m in (self.magnifications or MAGNIFICATIONS)]

    @property
    def setting_folder(self) -> str:
        """Where results of this split sit within its protocol: ``fold-<k>/`` when ``folds`` lists folds,
        ``mag-<m>/`` for one magnification of ``per_magnification``, both (``fold-<k>/mag-<m>/``), or ""
        for a profile of one split. The classifier runs, the GAN and its generated images of one split
        share it (``runs/``, ``gan/``, ``generated/``)."""
        folder = f"fold-{self.fold}/" if self.folds is not None else ""
        if self.magnification_protocol == "per_magnification" and self.magnifications and \
                len(self.magnifications) == 1:
            folder += f"mag-{self.magnifications[0]}/"
        return folder

    @property
    def class_names(self) -> list[str]:
        """The classes of this dataset and task, in label order."""
        from .data.layouts import class_names

        return class_names(self.dataset, self.task)


class GanParams(_Section):
    resolution: int = Field(64, ge=32, le=512)
    batch_size: int = Field(32, ge=1, le=1024)
    latent_dim: int = Field(128, ge=1, le=4096)
    total_kimg: float = Field(10.0, gt=0)
    snapshot_kimg: float = Field(1.0, gt=0)
    gamma: float | Literal["auto"] = Field(
        10.0, description="Penalty weight; with penalty r1, auto is StyleGAN2-ADA's heuristic "
                          "0.0002 * resolution^2 / batch_size (see gamma_value).")
    penalty: Literal["wgan-gp", "r1"] = "wgan-gp"
    d_loss: Literal["wasserstein", "hinge", "logistic"] = Field(
        "wasserstein", description="Critic loss; with penalty r1 use hinge or logistic (see docs/gan.md).")
    drift: float = Field(0.0, ge=0, description="Weight of mean D(real)^2 added to the critic loss (ProGAN's drift).")
    g_loss: Literal["wasserstein", "hinge", "logistic"] = "wasserstein"
    augment: Literal["none", "diffaug", "ada"] = Field(
        "none", description="Critic-input augmentation: none, a fixed probability, or StyleGAN2-ADA's adaptive one.")
    augment_p: float = Field(0.5, ge=0, le=1, description="augment: diffaug: probability of each operation.")
    augment_ops: list[Literal["xflip", "rot90", "translate", "color", "cutout"]] = Field(
        default_factory=lambda: ["xflip", "rot90", "translate", "color", "cutout"])
    ada_target: float = Field(0.6, gt=0, lt=1, description="augment: ada: target of r_t = E[sign(D(real))].")
    ada_kimg: float = Field(500.0, gt=0, description="augment: ada: kimg over which p can move from 0 to 1.")
    ada_interval: int = Field(4, ge=1, description="augment: ada: iterations between updates of p.")
    equalized_lr: bool = Field(
        False, description="StyleGAN-style equalised learning rate: weights N(0, 1) scaled at run time.")
    condition_magnification: bool = Field(
        False, description="Condition G and D on (class, magnification) instead of class (BreakHis).")
    normalized_conditioning: bool = Field(
        True, description="StyleGAN2's conditioning: z and the class embedding (N(0, 1) weights) each scaled to "
                          "unit second moment; the critic's projection term normalised and divided by sqrt(dim).")
    mbstd_group: int = Field(
        4, ge=0, le=64, description="Minibatch standard deviation in the critic: images per group "
                                    "(StyleGAN2: 4); 0 = off.")
    mbstd_channels: int = Field(1, ge=1, le=16, description="Feature maps the minibatch standard deviation adds.")
    crop: Literal["random", "centre", "squash"] = Field(
        "random", description="Training images: random squares of side min(h, w) (aspect kept), the centre "
                              "square, or the whole tile squashed to a square (before issue #25).")
    truncation: float = Field(
        1.0, ge=0, le=1, description="Truncation psi of the images generated for the classifiers (1 = none); "
                                     "bclib gan generate --truncation overrides it.")
    stop_on_nonfinite: bool = Field(
        True, description="Stop training with one error line when a loss or the penalty is NaN or infinite.")
    lambda_feat: float = Field(0.0, ge=0)
    n_critic: int = Field(5, ge=1, le=100)
    lr_g: float = Field(1e-4, gt=0, le=1)
    lr_d: float = Field(1e-4, gt=0, le=1)
    beta1: float = Field(0.0, ge=0, lt=1)
    beta2: float = Field(0.9, ge=0, lt=1)
    ema_kimg: Optional[float] = Field(None, gt=0, description="Half-life of the generator EMA in kimg; null = off.")
    ema_rampup: Optional[float] = Field(
        0.05, gt=0, le=1, description="StyleGAN2-ADA's EMA ramp-up: the half-life is at most this share of the "
                                      "images seen so far, so early snapshots are not mostly the initial weights; "
                                      "null = the full half-life from the first step.")
    target_class: Optional[str | list[str]] = Field(
        None, description="Class(es) to synthesise for rebalancing (e.g. benign); null means every class.")
    n_generate: int = Field(0, ge=0, description="How many images of target_class to generate for the classifiers.")
    max_channels: int = Field(256, ge=8, le=2048, description="Most feature maps in any layer of G and D.")
    channel_base: int = Field(4096, ge=64, description="Feature maps at size s: min(max_channels, channel_base / s).")
    keep_snapshots: int = Field(2, ge=1, description="Snapshots kept on disk (older ones are deleted).")
    xla: bool = Field(False, description="Compile the training step with XLA.")
    mixed_precision: bool = Field(False, description="bfloat16 compute with float32 weights (for GPUs).")
    deterministic: bool = Field(True, description="TensorFlow op determinism (bit-identical CPU reruns).")
    gamma_sweep: list[float] = Field(default_factory=list, description="Gammas of the sweep (notebook 02).")
    sweep_kimg: Optional[float] = Field(None, gt=0, description="Length of each sweep run (null: total_kimg).")
    batch_sweep: list[int] = Field(default_factory=list, description="Batch sizes of the sweep (notebook 02).")

    @field_validator("resolution")
    @classmethod
    def _power_of_two(cls, value: int) -> int:
        if value & (value - 1):
            raise ValueError(f"must be a power of two between 32 and 512, got {value}")
        return value

    @field_validator("gamma")
    @classmethod
    def _gamma_non_negative(cls, value):
        if value != "auto" and value < 0:
            raise ValueError("must be >= 0 or auto")
        return value

    @field_validator("gamma_sweep")
    @classmethod
    def _non_negative(cls, values: list[float]) -> list[float]:
        if any(v < 0 for v in values):
            raise ValueError("gammas must be >= 0")
        return values

    @field_validator("batch_sweep")
    @classmethod
    def _positive(cls, values: list[int]) -> list[int]:
        if any(v < 1 for v in values):
            raise ValueError("batch sizes must be >= 1")
        return values

    @model_validator(mode="after")
    def _bounded_critic(self) -> "GanParams":
        if self.penalty == "r1" and self.d_loss == "wasserstein" and self.drift == 0:
            raise ValueError("penalty r1 with d_loss wasserstein leaves the critic's scores unbounded (R1 only "
                             "constrains real images); use d_loss hinge or logistic, or set drift > 0")
        return self

    @model_validator(mode="after")
    def _auto_gamma_is_r1s(self) -> "GanParams":
        if self.gamma == "auto" and self.penalty != "r1":
            raise ValueError("gamma auto is StyleGAN2-ADA's heuristic for the R1 weight; with penalty wgan-gp "
                             "give a number (10 is WGAN-GP's usual weight)")
        return self

    @model_validator(mode="after")
    def _augment_within_symmetries(self) -> "GanParams":
        if self.crop == "squash" and self.augment != "none" and "rot90" in self.augment_ops:
            raise ValueError("augment_ops lists rot90, but crop squash resizes each tile's two axes by different "
                             "factors, so a 90-degree turn is not a symmetry of the training images: drop rot90 "
                             "or use crop random/centre")
        return self

    @property
    def gamma_value(self) -> float:
        """The penalty weight used: ``gamma``, or for auto 0.0002 * resolution^2 / batch_size (StyleGAN2-ADA)."""
        if self.gamma == "auto":
            return 0.0002 * self.resolution**2 / self.batch_size
        return float(self.gamma)

    def target_classes(self, class_names: list[str]) -> list[str]:
        """``target_class`` as a list: a name, a list of names, or null meaning every class."""
        if self.target_class is None:
            return list(class_names)
        names = [self.target_class] if isinstance(self.target_class, str) else list(self.target_class)
        unknown = [n for n in names if n not in class_names]
        if unknown:
            raise ValueError(f"gan.target_class: unknown class(es) {', '.join(unknown)} "
                             f"(classes: {', '.join(class_names)})")
        return names


class MetricsParams(_Section):
    features: str = Field("inception", description="'inception', a foundation encoder (phikon-v2, dinov2-large: "
                                                   "histology or natural-image ViT features) or a path to a saved "
                                                   ".keras classifier.")
    weights: str = Field("imagenet", description="'imagenet' (pretrained: an encoder's published checkpoint), "
                                                 "'none' (untrained) or, for an encoder, a checkpoint folder.")
    image_size: int = Field(299, ge=75, le=1024, description="Extractor input size (InceptionV3's standard: 299).")
    during_training: bool = Field(True, description="FID/KID at every cWGAN snapshot.")
    n_generated: int = Field(1000, ge=2, description="Generated images per class for FID/KID.")
    kid_subsets: int = Field(100, ge=1)
    kid_subset_size: int = Field(1000, ge=2)
    precision_recall: bool = Field(True, description="Improved precision/recall (Kynkaanniemi et al. 2019) too.")
    pr_k: int = Field(3, ge=1, description="Neighbours defining the k-NN manifolds of precision/recall.")
    pr_repeats: int = Field(
        10, ge=1, le=1000, description="Precision/recall on equal-size sets: draws of the larger set subsampled "
                                       "to the smaller one's size (mean and std are reported).")
    swd: bool = Field(True, description="Sliced Wasserstein distance on Laplacian-pyramid patches (no pretrained "
                                        "network; ProGAN's SWD) at every snapshot too.")
    swd_patches: int = Field(128, ge=1, le=4096, description="SWD: 7x7 neighbourhoods per image and pyramid level.")


def _known_models(names: list[str]) -> list[str]:
    known = catalogue.model_names()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown model(s) {', '.join(unknown)} (known: {', '.join(known)})")
    return names


CwganDose = Annotated[int, Field(ge=0)] | Literal["balance"]




def _registered_variant(name: str) -> str:
    if name not in _variants.VARIANTS:
        raise ValueError(f"unknown variant {name!r} (expected {', '.join(_variants.VARIANTS)})")
    return name


def _control(name: str) -> str:
    if not _registered_variant(name) or not _variants.VARIANTS[name].control:
        raise ValueError(f"{name!r} is not a control (expected {', '.join(_variants.CONTROLS)})")
    return name


# The names are listed once, in bclib.variants (read at validation, so a registered arm is accepted).
VariantName = Annotated[str, AfterValidator(_registered_variant)]
ControlName = Annotated[str, AfterValidator(_control)]


def dose_label(dose) -> str:
    """How a ``train.cwgan_images`` value is written in folder names and tables: ``all`` for null."""
    return "all" if dose is None else str(dose)


class TrainParams(_Section):
    models: list[str] = Field(default_factory=lambda: [catalogue.DEFAULT_MODEL])
    variants: list[VariantName] = Field(default_factory=lambda: ["none"])
    seeds: list[int] = Field(default_factory=lambda: [0])
    epochs: int = Field(50, ge=1, le=10000)
    fine_tune_epochs: int = Field(0, ge=0, le=10000)
    batch_size: int = Field(32, ge=1, le=4096)
    learning_rate: float = Field(1e-4, gt=0, le=1)
    lr_decay_rate: float = Field(0.96, gt=0, le=1)
    lr_decay_steps: int = Field(1000, ge=1)
    l2: float = Field(1e-4, ge=0)
    early_stopping_patience: int = Field(10, ge=1)
    restore_best_weights: bool = Field(True, description="Keep the epoch with the lowest validation loss.")
    fusion_channels: int = Field(128, ge=8, le=1024, description="Width of the proposed model's MSCF/CPP layers.")
    class_weights: bool = False
    decision_threshold: Literal["argmax", "validation"] = Field(
        "argmax", description="argmax: the most probable class (the paper); validation: with two classes, the "
                              "threshold on p(second class) that maximises balanced accuracy on validation.")
    image_size: int = Field(224, ge=32, le=2048)
    weights: str = Field("imagenet", description="'imagenet', 'none' or a path to a local weights file.")
    encoder_weights: dict[str, str] = Field(
        default_factory=dict,
        description="Foundation encoders (phikon-v2, dinov2-large): a downloaded checkpoint folder per encoder "
                    "(config.json + model.safetensors). Unlisted encoders follow `weights`: 'none' = random, "
                    "otherwise their published weights from the bclib encoder cache or the Hugging Face Hub.")
    tradaug_mode: Literal["offline", "online"] = Field(
        "offline", description="offline: training set expanded tradaug_copies-fold once; online: per batch.")
    tradaug_copies: int = Field(4, ge=2, le=64,
                                description="Offline TradAug: copies of each image (original included).")
    stain_jitter: float = Field(0.0, ge=0, le=0.5, description="HED stain jitter strength (0 = off).")
    cwgan_images: Optional[CwganDose | list[CwganDose]] = Field(
        None, description="cWGAN images added to a cwgan variant's training set: null = every generated image; "
                          "a count (taken from each generated class in proportion); balance = as many of each "
                          "generated class as bring it up to the largest class of the real training set; a list "
                          "of these = one run per count (a dose-response; 0 is the run without GAN images).")
    tensorboard: bool = False
    checkpoint_every_s: float = Field(
        30.0, ge=0, description="Seconds of training between epoch checkpoints (0 = after every epoch): a killed "
                                "run resumes from the last one, losing at most this much work.")
    distribution: Literal["none", "mirrored"] = Field(
        "none", description="mirrored: tf.distribute.MirroredStrategy over all GPUs (data parallel).")

    @field_validator("models")
    @classmethod
    def _registry_names(cls, value: list[str]) -> list[str]:
        return _known_models(value)

    @field_validator("cwgan_images")
    @classmethod
    def _distinct_doses(cls, value):
        if isinstance(value, list) and (not value or len(set(value)) != len(value)):
            raise ValueError(f"a list of counts must be non-empty and distinct, got {value}")
        # 0 cWGAN images is the variant without cwgan: alone it would train a second `none` run under
        # the cwgan name; in a list it is the baseline of the dose-response, beside a count above 0.
        if value == 0 or (isinstance(value, list) and not any(value)):
            raise ValueError(f"{value} cWGAN images trains the cwgan variant without any: use the none variant, "
                             "or list 0 beside the counts of a dose-response (e.g. [0, 640])")
        return value

    @property
    def cwgan_doses(self) -> list:
        """The runs each cwgan variant makes: one per listed count except 0 (the run without GAN images is
        the variant without cwgan), or the one value (null, a count or balance) when it is not a list."""
        if isinstance(self.cwgan_images, list):
            return [dose for dose in self.cwgan_images if dose != 0]
        return [self.cwgan_images]


class EvalParams(_Section):
    bootstrap: int = Field(1000, ge=0, description="Bootstrap resamples for 95% intervals.")
    confidence: float = Field(0.95, gt=0, lt=1)
    leakage_models: list[str] = Field(
        default_factory=lambda: [catalogue.HEADLINE_MODEL],
        description="Models also trained on an image-level split (variant none) to show the patient-leak gap.")
    gradcam_images: int = Field(6, ge=0, le=64, description="Test images shown with Grad-CAM heatmaps.")
    stain_ablation: list[Literal["macenko", "reinhard"]] = Field(
        default_factory=list,
        description="Stain normalisations to compare with the profile's own: eval.stain_models (variant none) "
                    "are trained again with each, on the same split and seeds (an ablation row in the report).")
    stain_models: list[str] = Field(default_factory=lambda: [catalogue.HEADLINE_MODEL],
                                    description="Models of the stain-normalisation ablation.")
    gan_folds: list[Annotated[int, Field(ge=1, le=5)]] = Field(
        default_factory=list,
        description="Also ask the GAN question over these folds when the profile itself runs one split: "
                    "eval.gan_fold_models trained with and without cWGAN images on each fold (split: cv, or the "
                    "published folds under split: folds), with a GAN per fold trained on that fold's training "
                    "patients (outputs in runs-gan-folds/, gan/fold-<k>/, generated/fold-<k>/).")
    gan_fold_models: list[str] = Field(default_factory=lambda: [catalogue.HEADLINE_MODEL],
                                       description="Models of the eval.gan_folds runs (variants none and cwgan).")
    gan_controls: list[ControlName] = Field(
        default_factory=list,
        description="Controls trained beside the eval.gan_folds runs, each adding as many images as the cwgan "
                    "run: copies (real tiles drawn again), tradaug-copies, cwgan-shuffled (GAN images of a random "
                    "class), cwgan-early (the GAN's earliest snapshot); see bclib.variants.")
    pretraining_models: list[str] = Field(
        default_factory=list,
        description="What pretraining buys: these baselines (variant none) trained twice more, with ImageNet "
                    "weights and with random weights, same split, head and seeds (outputs in runs-pretraining/). "
                    "efficientnet-lite0 is the one whose ImageNet weights install offline (bclib[pretrained]).")
    pretraining_seeds: Optional[list[int]] = Field(
        None, description="Seeds of the pretraining comparison (null: train.seeds); its interval resamples them "
                          "as well as the test patients, so three or more give it a seed-aware width.")
    primary_endpoint: Literal["patient_level_rate", "balanced_accuracy", "roc_auc", "accuracy"] = Field(
        "patient_level_rate",
        description="The primary endpoint of the cWGAN effect table (notebook 05), declared before the runs: its "
                    "rows are marked primary, the other measures secondary; all verdicts are Holm-adjusted over "
                    "counts of cWGAN images x measures. patient_level_rate becomes accuracy without patient ids.")
    tta: bool = Field(
        False, description="Notebook 05 also re-predicts the test images of the proposed model and the best "
                           "baseline over the eight dihedral views (test-time augmentation) and reports accuracy "
                           "with and without it; runs each saved model 8 times on the test set.")

    @field_validator("gan_folds")
    @classmethod
    def _distinct_folds(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError(f"folds must be distinct, got {value}")
        return value

    @field_validator("leakage_models", "stain_models", "gan_fold_models")
    @classmethod
    def _registry_names(cls, value: list[str]) -> list[str]:
        return _known_models(value)

    @field_validator("pretraining_models")
    @classmethod
    def _pretrainable(cls, value: list[str]) -> list[str]:
        _known_models(value)
        others = [n for n in value if catalogue.entry(n).kind != "baseline" or catalogue.entry(n).encoder]
        if others:
            raise ValueError(f"only single-backbone CNN baselines can be compared with and without ImageNet "
                             f"weights, not {', '.join(others)}")
        return value


class RunParams(_Section):
    profile: Optional[str] = Field(None, description="Name of the output folder; defaults to the file name.")
    output_dir: Optional[Path] = Field(
        None,
        description="Defaults to outputs/<profile> in the project holding the profile file (else the working folder).")
    notebooks: Optional[list[str]] = Field(None, description="Notebook prefixes to run (all when null).")

    @field_validator("profile")
    @classmethod
    def _simple_name(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and (not value or "/" in value or value.startswith(".")):
            raise ValueError("must be a plain folder name")
        return value


class Params(_Section):
    seed: int = Field(0, ge=0, le=2**31 - 1)
    data: DataParams
    gan: GanParams = Field(default_factory=GanParams)
    metrics: MetricsParams = Field(default_factory=MetricsParams)
    train: TrainParams = Field(default_factory=TrainParams)
    eval: EvalParams = Field(default_factory=EvalParams)
    run: RunParams = Field(default_factory=RunParams)

    @model_validator(mode="after")
    def _cwgan_variants_have_images(self) -> "Params":
        wanted = [v for v in self.train.variants if _variants.variant(v).adds_images]
        if wanted and (self.gan.n_generate == 0 or self.gan.target_class == []):
            raise ValueError(f"train.variants lists {', '.join(wanted)}, but the GAN generates no images "
                             "(set gan.n_generate above 0 and gan.target_class to a class, a list, or null for "
                             "every class)")
        return self

    @model_validator(mode="after")
    def _doses_fit_the_generated_set(self) -> "Params":
        # Counts are checked here; balance depends on the training split and is checked when a run takes it.
        available = self.gan.n_generate * len(self.generated_classes)
        counts = [d for d in self.train.cwgan_doses if isinstance(d, int)]
        wanted = [v for v in self.train.variants if _variants.variant(v).adds_images] or self.eval.gan_folds
        if wanted and counts and max(counts) > available:
            raise ValueError(f"train.cwgan_images asks for {max(counts)} cWGAN images, but the GAN generates "
                             f"{available} (gan.n_generate {self.gan.n_generate} x {len(self.generated_classes)} "
                             "class(es)): raise gan.n_generate or lower the count")
        return self

    @model_validator(mode="after")
    def _gan_folds_beside_one_split(self) -> "Params":
        if not self.eval.gan_folds:
            return self
        if self.data.folds is not None:
            raise ValueError("eval.gan_folds repeats the GAN question over folds, but data.folds already runs "
                             "every fold (with a GAN per fold for the cwgan variants): set eval.gan_folds: []")
        if self.gan.n_generate == 0 or self.gan.target_class == []:
            raise ValueError("eval.gan_folds trains cwgan runs, but the GAN generates no images (set "
                             "gan.n_generate above 0 and gan.target_class)")
        return self

    @model_validator(mode="after")
    def _sweeps_are_scored(self) -> "Params":
        # A sweep ranks its runs by their snapshots' FID; without scores during training it would pick nothing.
        swept = [name for name in ("gamma_sweep", "batch_sweep") if getattr(self.gan, name)]
        if swept and not self.metrics.during_training:
            raise ValueError(f"{' and '.join('gan.' + name for name in swept)}: a sweep ranks its runs by FID, "
                             "which metrics.during_training: false turns off; set it to true, or empty the sweep")
        return self

    @model_validator(mode="after")
    def _target_classes_exist(self) -> "Params":
        self.generated_classes  # a ValueError names the unknown class(es)
        return self

    @property
    def generated_classes(self) -> list[str]:
        """The classes the cWGAN generates for the classifiers: ``gan.target_class`` among this dataset's
        and task's classes (null: every class). The one place that pairs the two: with ``data.task:
        subtype`` the classes are the eight subtypes, not the dataset's benign/malignant."""
        return self.gan.target_classes(self.data.class_names)

    @model_validator(mode="after")
    def _fractions_leave_training_data(self) -> "Params":
        if self.data.val_fraction + self.data.test_fraction >= 0.9:
            raise ValueError("data.val_fraction + data.test_fraction must be below 0.9")
        return self

    # Filled in by load_params; not part of the file.
    _source: Optional[Path] = None

    @property
    def profile(self) -> str:
        return self.run.profile or (self._source.stem if self._source else "default")

    @property
    def output_dir(self) -> Path:
        return self.run.output_dir or project_of(self._source) / "outputs" / self.profile

    def to_yaml(self) -> str:
        data = self.model_dump(mode="json")
        data["run"]["profile"] = self.profile
        data["run"]["output_dir"] = str(self.output_dir)
        return yaml.safe_dump(data, sort_keys=False)


# ---------------------------------------------------------------------------
# Loading


def _known_keys(model: type[BaseModel], path: list[str]) -> list[str]:
    for part in path:
        field = model.model_fields.get(part)
        if field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            return []
        model = field.annotation
    return list(model.model_fields)


def _describe(error: dict) -> str:
    loc = [str(p) for p in error["loc"]]
    key = ".".join(loc) or "(top level)"
    if error["type"] == "extra_forbidden":
        parent = [p for p in loc[:-1] if not p.isdigit()]
        close = difflib.get_close_matches(loc[-1], _known_keys(Params, parent), n=1)
        hint = f" (did you mean '{'.'.join(parent + close)}'?)" if close else ""
        return f"{key}: unknown key{hint}"
    if error["type"] == "missing":
        return f"{key}: required key is missing"
    message = error["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    if not loc or isinstance(error.get("input"), dict):  # a rule across keys: the input is a whole section
        return f"{key}: {message}"
    return f"{key}: {message} (got {error.get('input')!r})"


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``section.key=value`` into a key path and a YAML-parsed value."""
    if "=" not in text:
        raise UserError(f"--set {text!r}: expected KEY=VALUE, e.g. --set train.epochs=3")
    key, raw = text.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise UserError(f"--set {text!r}: empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return parts, value


def apply_overrides(raw: dict, overrides: list[str] | tuple[str, ...]) -> dict:
    for text in overrides:
        parts, value = parse_override(text)
        node = raw
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise UserError(f"--set {text!r}: '{part}' is not a section")
            node = child
        node[parts[-1]] = value
    return raw


def _resolve_paths(params: Params, base: Path) -> None:
    def absolute(p: Path) -> Path:
        p = Path(os.path.expanduser(str(p)))
        return p if p.is_absolute() else (base / p).resolve()

    params.data.root = absolute(params.data.root)
    if params.run.output_dir is not None:
        params.run.output_dir = absolute(params.run.output_dir)


def load_params(path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = ()) -> Params:
    """Read, override and validate a parameter file; raise UserError naming file and key."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: parameter file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UserError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise UserError(f"{path}: expected a mapping of sections at the top level")
    raw = apply_overrides(raw, overrides)
    try:
        params = Params.model_validate(raw)
    except ValidationError as exc:
        problems = [_describe(e) for e in exc.errors()]
        more = f" (+{len(problems) - 1} more: {'; '.join(problems[1:])})" if len(problems) > 1 else ""
        raise UserError(f"{path}: {problems[0]}{more}") from None
    params._source = path.resolve()
    _resolve_paths(params, path.resolve().parent)
    return params


def check_runnable(params: Params) -> None:
    """Refuse, before any computation, a run whose data or output folder is unusable."""
    source = params._source or "parameters"
    if not params.data.root.exists():
        raise UserError(f"{source}: data.root: folder does not exist: {params.data.root}")
    out = params.output_dir
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):  # a unique name: parallel jobs probe the same folder
            pass
    except OSError as exc:
        raise UserError(f"{source}: run.output_dir: cannot write to {out}: {exc.strerror or exc}") from None
