"""The one list of models bclib knows: names, labels, kinds, backbones, feature widths, fine-tuning rules.

Everything that only needs to *know about* a model reads this module: the parameter
schema (``train.models``), the job planner, ``bclib plan``'s cost estimate, the report
and the command line's help. It imports neither TensorFlow nor Keras, so that
validating a profile or printing a plan stays light. What Keras needs to *build* a
model (``keras.applications`` constructors, preprocessing modes, tap layers) lives in
``bclib.models`` beside the layers it uses, keyed by these names; tests check that the
two agree.

Adding a model that reuses a known backbone is one :func:`register` call (or one
entry in ``BUILT_IN``); a new ``keras.applications`` backbone also needs its line in
``bclib.models.backbones.BACKBONES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

from .errors import UserError

Kind = Literal["baseline", "fusion"]
Top = Literal["head", "probe"]


class UnknownModelError(UserError, ValueError):
    """A model name the catalogue does not hold: a ValueError for the schema, a UserError for the command line."""


@dataclass(frozen=True)
class ModelEntry:
    """One model.

    ``backbones``: the ``keras.applications`` backbones it runs (keys of
    ``bclib.models.backbones.BACKBONES``); a baseline has one, a fusion model three.
    ``features``: pooled features per image that its trunk hands the top, per backbone;
    ``taps``: (stride, channels) of spatial maps it hands the top instead (the proposed
    model). Both size the trunk-output stores in ``bclib plan``.
    ``fine_tune_frozen``: ``None`` for the baselines' rule (the first fraction of the
    layers stays frozen), else (backbone, leading layers kept frozen) pairs; backbones
    not listed stay frozen entirely.
    ``top_throughput``: the ``bclib/reference/throughput.yaml`` figure for its top's speed.
    ``paper_row``: its row name in the paper's Tables 11 and 12, if it has one.
    ``encoder``: its one backbone is a frozen vision-transformer encoder (``bclib.models.foundation``)
    rather than a ``keras.applications`` network; it is trained and reported like a baseline.
    ``top``: ``head`` (the shared classification head, fitted by Keras) or ``probe`` (a scikit-learn
    logistic regression on the embeddings, its regularisation chosen on validation, written into the
    model file as one softmax layer).
    ``reference``: a published figure to show beside its row (eva's linear-probe leaderboard), if any.
    """

    name: str
    label: str
    kind: Kind
    backbones: tuple[str, ...]
    features: tuple[int, ...] = ()
    taps: tuple[tuple[int, int], ...] = ()
    paper_row: Optional[str] = None
    fine_tune_frozen: Optional[tuple[tuple[str, int], ...]] = None
    top_throughput: str = "baseline_top_rows_per_s"
    encoder: bool = False
    top: Top = "head"

    def __post_init__(self):
        if self.kind not in ("baseline", "fusion"):
            raise ValueError(f"model {self.name!r}: kind must be 'baseline' or 'fusion', not {self.kind!r}")
        if self.kind == "baseline" and len(self.backbones) != 1:
            raise ValueError(f"baseline {self.name!r} must name exactly one backbone, got {self.backbones}")
        if not self.features and not self.taps:
            raise ValueError(f"model {self.name!r}: give its pooled feature widths or its taps")
        if self.top not in ("head", "probe"):
            raise ValueError(f"model {self.name!r}: top must be 'head' or 'probe', not {self.top!r}")
        if self.top == "probe" and self.kind != "baseline":
            raise ValueError(f"model {self.name!r}: only a single-trunk model can have a linear-probe top")

    @property
    def keras_name(self) -> str:
        """The Keras name of the whole model: ``proposed``, ``proposed_gap`` or ``baseline_<name>``."""
        return self.name.replace("-", "_") if self.kind == "fusion" else f"baseline_{self.name}"

    def floats_per_image(self, size: int) -> int:
        """Numbers a trunk-output store holds per image at input size ``size``."""
        return sum(self.features) + sum((size // stride) ** 2 * channels for stride, channels in self.taps)

    def backbone_of(self, layer_name: str) -> Optional[str]:
        """Which of this model's backbones a trunk sub-model named ``layer_name`` is (``densenet201``,
        ``nasnetmobile_shallow``, ...), matched on whole names so backbone names may hold underscores."""
        for backbone in sorted(self.backbones, key=len, reverse=True):
            if layer_name == backbone or layer_name.startswith(backbone + "_"):
                return backbone
        return None

    def layers_kept_frozen(self, backbone: Optional[str], n_layers: int, baseline_fraction: float) -> int:
        """Leading layers of ``backbone`` (``n_layers`` long) that stay frozen in the fine-tuning stage."""
        if self.fine_tune_frozen is None:
            return int(n_layers * baseline_fraction)
        return dict(self.fine_tune_frozen).get(backbone, n_layers)


# The paper's second stage for the fusion models: DenseNet-201's first 200 and ResNet-101's first 50
# layers stay frozen; NASNetMobile and VGG-16 stay frozen entirely.
_PAPER_FINE_TUNE = (("densenet201", 200), ("resnet101", 50))


def _baseline(name: str, label: str, features: int, paper_row: Optional[str] = None) -> ModelEntry:
    return ModelEntry(name, label, "baseline", (name,), (features,), paper_row=paper_row)


def _encoder(name: str, label: str, features: int, encoder: str) -> tuple[ModelEntry, ModelEntry]:
    """A frozen encoder twice: with a linear probe (``name``, the field's standard) and with the
    baselines' own head (``name-head``), both on the same stored embeddings."""
    return (ModelEntry(name, f"{label} + linear probe", "baseline", (encoder,), (features,), encoder=True,
                       top="probe"),
            ModelEntry(f"{name}-head", f"{label} + head", "baseline", (encoder,), (features,), encoder=True))


# Order matters: it is the order of `bclib train --help`, of the job grid and of the plan's groups.
# Models added with register() come after these.
BUILT_IN = (
    _baseline("densenet201", "DenseNet-201", 1920, "DenseNet-201"),
    _baseline("nasnetmobile", "NASNetMobile", 1056, "NasNetMobile"),
    _baseline("resnet101", "ResNet-101", 2048),
    _baseline("resnet50", "ResNet-50", 2048, "ResNet-50"),
    _baseline("vgg16", "VGG-16", 512, "VGG-16"),
    _baseline("vgg19", "VGG-19", 512, "VGG-19"),
    _baseline("mobilenet", "MobileNet", 1024, "MobileNet"),
    _baseline("xception", "Xception", 2048, "Xception"),
    # Not in the paper: the one ImageNet-pretrained network that installs from the package index
    # (bclib[pretrained]), so that the demo and the tests can show what pretraining buys with no network.
    _baseline("efficientnet-lite0", "EfficientNet-Lite0", 1280),
    ModelEntry("efficientnet-lite0-probe", "EfficientNet-Lite0 + linear probe", "baseline", ("efficientnet-lite0",),
               (1280,), top="probe"),
    # NASNetMobile, ResNet-101 and DenseNet-201 tapped at strides 8, 16 and 32 (bclib.models.fusion.FUSION_TAPS)
    ModelEntry("proposed", "Proposed (multi-scale fusion)", "fusion", ("densenet201", "nasnetmobile", "resnet101"),
               taps=((8, 264), (16, 1024), (32, 1920)), paper_row="Proposed Model",
               fine_tune_frozen=_PAPER_FINE_TUNE, top_throughput="fusion_top_rows_per_s_224"),
    # Table 6 read literally: three pooled backbones, concatenated (bclib.models.gap_fusion)
    ModelEntry("proposed-gap", "Proposed (pooled, Table 6)", "fusion", ("densenet201", "nasnetmobile", "vgg16"),
               features=(1920, 1056, 512), fine_tune_frozen=_PAPER_FINE_TUNE),
    # Frozen vision-transformer encoders (bclib.models.foundation.ENCODERS holds their architectures):
    # Phikon-v2, a DINOv2 ViT-L/16 trained on pathology, and DINOv2 ViT-L/14 trained on natural images,
    # the control that separates pathology pretraining from the architecture. Phikon-v2 hands on its class
    # token (1024 numbers), DINOv2 its class token beside the mean patch token (2048), each as its authors
    # probe them (bclib.models.foundation.PRESETS). vit-tiny is a two-block random-weight encoder of the
    # same form, so that the demo and the tests run the encoder path in seconds; it is not a foundation model.
    *_encoder("phikon-v2", "Phikon-v2", 1024, "phikon-v2"),
    *_encoder("dinov2", "DINOv2 ViT-L", 2048, "dinov2-large"),
    *_encoder("vit-tiny", "Tiny ViT (random, demo)", 64, "vit-tiny"),
)

_ENTRIES: dict[str, ModelEntry] = {e.name: e for e in BUILT_IN}

# Roles the rest of bclib refers to by role, not by name.
HEADLINE_MODEL = "proposed"  # the paper's model: the report's headline, Table 14's rows, the plan's measured trunk
LITERAL_FUSION = "proposed-gap"  # Table 6 read literally: compared with the headline model variant by variant
DEFAULT_MODEL = "densenet201"  # train.models when a profile names none
OFFLINE_PRETRAINED = "efficientnet-lite0"  # the one ImageNet-pretrained backbone whose weights install offline


def entries() -> tuple[ModelEntry, ...]:
    return tuple(_ENTRIES.values())


def model_names() -> tuple[str, ...]:
    return tuple(_ENTRIES)


def entry(name: str) -> ModelEntry:
    """The entry of model ``name``; an unknown name raises :class:`UnknownModelError` listing the known ones."""
    try:
        return _ENTRIES[name]
    except (KeyError, TypeError):
        raise UnknownModelError(f"unknown model '{name}' (known: {', '.join(_ENTRIES)})") from None


def fusion_models() -> tuple[str, ...]:
    """The fusion models: trained with every augmentation variant (the baselines with none and tradaug only)."""
    return tuple(e.name for e in _ENTRIES.values() if e.kind == "fusion")


def baseline_models() -> tuple[str, ...]:
    """The single-backbone models, encoders included: trained with the none and tradaug variants."""
    return tuple(e.name for e in _ENTRIES.values() if e.kind == "baseline")


def encoder_models() -> tuple[str, ...]:
    """The models on a frozen foundation encoder (probe and head)."""
    return tuple(e.name for e in _ENTRIES.values() if e.encoder)


def register(new: ModelEntry) -> ModelEntry:
    """Add a model (appended after the known ones). Its backbones must be known ones, except a baseline's
    own name: a new ``keras.applications`` backbone, which also needs its line in ``bclib.models.backbones``."""
    if new.name in _ENTRIES:
        raise ValueError(f"model '{new.name}' is already in the catalogue")
    known_backbones = {b for e in _ENTRIES.values() for b in e.backbones} | {new.name}
    unknown = [b for b in new.backbones if b not in known_backbones]
    if unknown:
        raise ValueError(f"model '{new.name}': unknown backbone(s) {', '.join(unknown)} "
                         "(a new keras.applications backbone also needs its line in bclib.models.backbones)")
    _ENTRIES[new.name] = new
    return new


def unregister(name: str) -> None:
    """Remove a model added with :func:`register` (the built-in ones stay)."""
    if any(e.name == name for e in BUILT_IN):
        raise ValueError(f"model '{name}' is built in")
    _ENTRIES.pop(name, None)
