"""The training-set variants: one list, and what each one adds to the real training images.

A variant is read through its properties, never by its spelling: ``tradaug`` (TradAug copies of every
training image), ``extra`` (where extra images of the generated classes come from) and ``uses_gan``.

The four **controls** answer a referee's question about the cwgan variant, "is it the realistic benign
images that help, or only more benign images?". Each adds exactly as many images of each class as the
cwgan run at the same count (``train.cwgan_images``) takes from its GAN, and nothing else changes:

* ``copies``: real training tiles of that class drawn again (oversampling, with replacement);
* ``tradaug-copies``: the same draw, each copy flipped, rotated and shifted by TradAug;
* ``cwgan-shuffled``: the same GAN's images, each generated for a class drawn at random from all
  classes but labelled with the generated class (the class information removed, the image statistics kept);
* ``cwgan-early``: the same GAN's images from its earliest snapshot (little training: realism removed).

``eval.gan_controls`` trains them beside the none and cwgan runs of ``eval.gan_folds``
(:func:`bclib.experiment.classifier_jobs.gan_fold_jobs`); the effect table sets each against the run without
extra images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .errors import UserError


@dataclass(frozen=True)
class Variant:
    name: str
    tradaug: bool  # TradAug copies of every training image (train.tradaug_copies)
    extra: Optional[str]  # None, "gan", "copies", "tradaug-copies", "gan-shuffled", "gan-early"
    meaning: str
    label: str  # short, for tables and figures
    control: bool = False  # a control of the GAN arm (eval.gan_controls)

    @property
    def baseline(self) -> str:
        """The run it is compared with in the effect table: the same training set without extra images."""
        return "tradaug" if self.tradaug else "none"

    @property
    def uses_gan(self) -> bool:
        """Its extra images come from the split's GAN (the run depends on the GAN job)."""
        return self.extra is not None and self.extra.startswith("gan")

    @property
    def adds_images(self) -> bool:
        """It adds images to the generated classes (one run per count of a train.cwgan_images list)."""
        return self.extra is not None


_ALL = (
    Variant("none", False, None, "the real training images only", "no extra images"),
    Variant("tradaug", True, None, "TradAug copies of every training image", "TradAug"),
    Variant("cwgan", False, "gan", "the split's GAN images of the generated classes", "GAN images"),
    Variant("tradaug+cwgan", True, "gan", "TradAug copies and the split's GAN images", "GAN images on TradAug"),
    Variant("copies", False, "copies", "control: real training tiles drawn again, as many as the GAN images",
            "control: real copies", control=True),
    Variant("tradaug-copies", False, "tradaug-copies",
            "control: TradAug-transformed copies of real training tiles, as many as the GAN images",
            "control: TradAug copies", control=True),
    Variant("cwgan-shuffled", False, "gan-shuffled",
            "control: the GAN's images generated for a random class, labelled as the generated class",
            "control: GAN, random class", control=True),
    Variant("cwgan-early", False, "gan-early", "control: the GAN's images from its earliest snapshot",
            "control: GAN, earliest snapshot", control=True),
)
VARIANTS: dict[str, Variant] = {v.name: v for v in _ALL}
NAMES = tuple(VARIANTS)  # the built-in ones; a registered arm is in VARIANTS
CONTROLS = tuple(v.name for v in _ALL if v.control)
BASELINE_VARIANTS = ("none", "tradaug")  # what the single-backbone baselines train (no generated images)


def register(arm: Variant) -> Variant:
    """Add an ablation arm: profiles may list it, the plan trains it, the effect table compares it with its
    baseline. Its ``extra`` must be a source :mod:`bclib.train.controls` knows (or None)."""
    if arm.name in VARIANTS:
        raise ValueError(f"variant {arm.name!r} exists already")
    if arm.extra not in {v.extra for v in _ALL}:
        raise ValueError(f"variant {arm.name!r}: unknown source of extra images {arm.extra!r}")
    VARIANTS[arm.name] = arm
    return arm


def contrasts() -> list[tuple[str, str]]:
    """(arm, baseline) of every variant that adds images: the rows of the effect table, in registry order."""
    return [(v.name, v.baseline) for v in VARIANTS.values() if v.adds_images]


def variant(name: str) -> Variant:
    """The variant called ``name``; one clear error for an unknown name."""
    try:
        return VARIANTS[name]
    except KeyError:
        raise UserError(f"unknown variant '{name}' (expected {', '.join(VARIANTS)})") from None


__all__ = ["Variant", "VARIANTS", "NAMES", "CONTROLS", "BASELINE_VARIANTS", "variant", "register", "contrasts"]
