"""Feature extractors for FID/KID, with a cache per image set.

* :func:`inception_extractor` - InceptionV3's 2048-d average-pool features at
  299x299 (``metrics.image_size``), ImageNet weights by default. ``weights="none"``
  gives a randomly initialised network for offline runs: its distances are only
  comparable with each other, and every output built on them says "untrained".
* :func:`lite0_extractor` - EfficientNet-Lite0's 1280-d pooled features with the ImageNet
  weights that install from the package index (``bclib[pretrained]``): the one pretrained
  feature space available offline. Its Frechet distance is *not* an FID (FID is defined in
  InceptionV3 features) and is named "FD (EfficientNet-Lite0)" wherever it is shown.
* :func:`classifier_extractor` - the penultimate layer of any saved Keras
  classifier (the paper's "coding layer" of its multi-scale model), for
  in-domain distances.

Images are resized with antialiasing; generated images are quantised to uint8
first (the same values a PNG would store). FIDs computed with Keras' InceptionV3
weights are **not comparable with published FIDs**, which use the 2015
TensorFlow Inception graph; compare within this compendium only, report N with
every FID, and prefer KID for small sets.

Features are cached as ``.npy`` under ``cache_dir`` keyed by the extractor's
identity and a fingerprint of the images, so re-scoring the same real set costs
nothing.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from .. import catalogue
from ..backend import keras as _keras
from ..backend import tensorflow
from ..data.images import ImageProblem, is_image_name
from ..errors import UserError
from ..io import atomic_path

UNTRAINED_NOTE = "features from an UNTRAINED network (weights: none): distances are only comparable within this run"
UNTRAINED_SEED = 1234
NOT_COMPARABLE_NOTE = ("FID/KID from Keras' InceptionV3 weights; not comparable with published FIDs "
                       "(2015 TensorFlow Inception graph)")


RANDOM_ENCODER_NOTE = ("random {encoder} weights do not measure image quality at all: in bclib's check "
                       "(docs/decisions.md) a random Phikon-v2 put two sets of real tiles farther apart than real "
                       "tiles and colour noise; use its published weights")
ENCODER_NOTE = ("FID/KID in {encoder} features: a histology feature space, not comparable with Inception FIDs "
                "or across encoders; FID still assumes Gaussian features, which a ViT's embeddings need not be")


@dataclass
class FeatureExtractor:
    name: str  # identity used in cache keys and reports
    input_size: int
    untrained: bool
    model: object  # keras.Model mapping float32 [0, 255] images of input_size to features
    batch_size: int = 32
    pretrained_note: str = NOT_COMPARABLE_NOTE  # what a reader must know about these features when trained
    untrained_note: str = UNTRAINED_NOTE  # and when untrained
    distance_name: str = "FID"  # what the Frechet distance in these features is called: FID in Inception's only

    @property
    def note(self) -> str:
        return self.untrained_note if self.untrained else self.pretrained_note

    def __call__(self, images_u8: np.ndarray) -> np.ndarray:
        """Features (float64, N x d) of uint8 images (N, H, W, 3) of any size."""
        tf = tensorflow()
        out = []
        for start in range(0, len(images_u8), self.batch_size):
            chunk = tf.cast(np.asarray(images_u8[start:start + self.batch_size]), tf.float32)
            chunk = tf.image.resize(chunk, (self.input_size, self.input_size), antialias=True)
            out.append(np.asarray(self.model(tf.clip_by_value(chunk, 0, 255), training=False), dtype=np.float64))
        return np.concatenate(out) if out else np.zeros((0, 0))


_INCEPTION: dict = {}  # (weights, image size) -> extractor: a sweep scores several GANs in one process


def inception_extractor(weights: str = "imagenet", image_size: int = 299) -> FeatureExtractor:
    """InceptionV3's pooled features; built once per process for each weights and size (the network
    is the same every time, and building it costs ~4 s on a CPU)."""
    keras = _keras()
    if weights != "imagenet":
        # The untrained network is always the same one, so its distances are comparable between runs.
        # Seeded on a cache hit too: the caller's random stream continues as if it had been built.
        keras.utils.set_random_seed(UNTRAINED_SEED)
    if (weights, image_size) not in _INCEPTION:
        _INCEPTION[(weights, image_size)] = _built_inception_extractor(weights, image_size)
    return _INCEPTION[(weights, image_size)]


def _built_inception_extractor(weights: str, image_size: int) -> FeatureExtractor:
    keras = _keras()
    if image_size < 75:
        raise UserError(f"metrics.image_size: InceptionV3 needs at least 75 px, got {image_size}")
    try:
        backbone = keras.applications.InceptionV3(
            include_top=False, pooling="avg", input_shape=(image_size, image_size, 3),
            weights="imagenet" if weights == "imagenet" else None,
        )
    except Exception as exc:  # the weights download fails offline
        if weights == "imagenet":
            raise UserError("InceptionV3 ImageNet weights are not available (no network?); "
                            "pass --weights none (untrained) or put inception_v3 weights in ~/.keras/models") from exc
        raise
    inputs = keras.Input((image_size, image_size, 3))
    scaled = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)  # InceptionV3's own preprocessing ("tf" mode)
    features = backbone(scaled)
    untrained = weights != "imagenet"
    if untrained:
        features = keras.layers.Rescaling(_untrained_scale(keras.Model(inputs, features), image_size))(features)
    model = keras.Model(inputs, features, name="inception_features")
    return FeatureExtractor(f"inceptionv3-{'imagenet' if not untrained else 'untrained'}-{image_size}",
                            image_size, untrained, model)


def _untrained_scale(model, image_size: int) -> float:
    """A constant that brings the untrained network's features to unit RMS on fixed noise images.

    Activations shrink through the randomly initialised layers, leaving features
    (and FIDs) near 1e-6; the rescaling keeps the numbers readable and changes no ranking.
    """
    noise = np.random.default_rng(UNTRAINED_SEED).uniform(0, 255, (8, image_size, image_size, 3)).astype("float32")
    rms = float(np.sqrt(np.mean(np.square(np.asarray(model(noise, training=False))))))
    return 1.0 / rms if rms > 0 else 1.0


def classifier_extractor(path: str | os.PathLike) -> FeatureExtractor:
    """The penultimate layer of a saved ``.keras`` classifier (loaded in safe mode)."""
    keras = _keras()
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such model file")
    model = keras.models.load_model(path, safe_mode=True, compile=False)
    size = model.input_shape[1]
    if size is None:
        raise UserError(f"{path}: the model's input size is not fixed; cannot use it as a feature extractor")
    features = keras.Model(model.inputs, _penultimate(model), name="classifier_features")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return FeatureExtractor(f"classifier-{path.stem}-{digest}", int(size), False, features)


def _penultimate(model):
    """The output of the layer below the softmax, as a tensor of ``model``'s own graph. A bclib classifier is
    ``top(trunk(image))`` with two nested models (their inner layers are not in the outer graph), so the top's
    penultimate layer is called on the trunk's output; any other model is taken as one flat graph."""
    names = {layer.name for layer in model.layers}
    if {"trunk", "top"} <= names:
        trunk, top = model.get_layer("trunk"), model.get_layer("top")
        below_softmax = _keras().Model(top.inputs, top.layers[-2].output)
        return below_softmax(trunk(model.inputs[0]))
    return model.layers[-2].output


def encoder_extractor(encoder: str, weights: str = "imagenet", image_size: int = 224) -> FeatureExtractor:
    """A foundation encoder's embedding (``bclib.models.foundation``) as the feature space: Phikon-v2's knows
    histology. ``weights``: 'imagenet' (its published checkpoint), 'none' (random) or a checkpoint folder."""
    from ..models.encoders import encoder_trunk, weights_identity

    keras = _keras()
    untrained = weights in ("none", None)
    if untrained:
        keras.utils.set_random_seed(UNTRAINED_SEED)
    trunk = encoder_trunk(encoder, image_size, weights)
    name = f"{encoder}-{weights_identity(encoder, weights)}-{image_size}"
    if untrained:
        # A deep random ViT maps every image to almost the same embedding (Phikon-v2's 24 random blocks: a
        # spread of ~1e-5 around a common vector), so its FIDs came out near 1e-5, and scaling alone blows up
        # KID's polynomial kernel with the common vector. Centred on fixed noise images and divided by their
        # spread, the features give readable numbers; FID, precision and recall rank exactly as before. The
        # name says so, so that features cached before are never reused.
        trunk = _standardised(trunk, image_size, f"{encoder}_untrained_features")
        name += "-standardised"
    return FeatureExtractor(name, image_size, untrained, trunk, pretrained_note=ENCODER_NOTE.format(encoder=encoder),
                            untrained_note=f"{UNTRAINED_NOTE}; {RANDOM_ENCODER_NOTE.format(encoder=encoder)}")


def _standardised(trunk, image_size: int, name: str):
    """``trunk`` followed by the centring and scaling of :func:`_untrained_standardisation`."""
    keras = _keras()
    centre, spread = _untrained_standardisation(trunk, image_size)
    inputs = keras.Input(trunk.input_shape[1:])
    standardise = keras.layers.Normalization(mean=centre, variance=np.full_like(centre, spread ** 2))
    return keras.Model(inputs, standardise(trunk(inputs)), name=name)


def _untrained_standardisation(model, image_size: int) -> tuple[np.ndarray, float]:
    """The mean feature vector and the spread (root-mean-square standard deviation over the feature
    dimensions) of an untrained encoder across fixed noise images."""
    noise = np.random.default_rng(UNTRAINED_SEED).uniform(0, 255, (8, image_size, image_size, 3)).astype("float32")
    features = np.asarray(model(noise, training=False), np.float64)
    spread = float(np.sqrt(np.mean(np.var(features, axis=0))))
    return features.mean(axis=0), (spread if spread > 0 else 1.0)


LITE0 = catalogue.OFFLINE_PRETRAINED  # also a feature space: metrics.features, bclib fid --features
LITE0_NOTE = ("Frechet and kernel distances in ImageNet-pretrained EfficientNet-Lite0 features (1280-d, pooled), "
              "not FID/KID: comparable only with other Lite0 numbers at the same input size")


def lite0_extractor(weights: str = "imagenet", image_size: int = 224) -> FeatureExtractor:
    """EfficientNet-Lite0's pooled features (its own preprocessing inside). Random weights (``none``) are
    centred and scaled on fixed noise images, as the untrained encoders are, and say so in their name."""
    from ..models.efficientnet_lite import weights_identity
    from ..models.registry import build_trunk

    keras = _keras()
    untrained = weights in ("none", None)
    if untrained:
        keras.utils.set_random_seed(UNTRAINED_SEED)
    trunk = build_trunk(LITE0, image_size, weights)
    name = f"{LITE0}-{weights_identity(weights)}-{image_size}"
    if untrained:
        trunk = _standardised(trunk, image_size, "lite0_untrained_features")
        name += "-standardised"
    return FeatureExtractor(name, image_size, untrained, trunk, pretrained_note=LITE0_NOTE,
                            distance_name=distance_name(LITE0))


def features_note(features: str, weights: str) -> str:
    """What a reader must know about GAN scores in these features, without building the network."""
    if weights in ("none", None):
        return UNTRAINED_NOTE
    if features == "inception":
        return NOT_COMPARABLE_NOTE
    if features == LITE0:
        return LITE0_NOTE
    return ENCODER_NOTE.format(encoder=features)


def distance_name(features: str) -> str:
    """FID in InceptionV3 features; "FD (<network>)" in any other (what figures and tables call it)."""
    return "FID" if features == "inception" else "FD (EfficientNet-Lite0)" if features == LITE0 else f"FD ({features})"


def default_image_size(features: str) -> int:
    """The input size an extractor was trained at: 299 for InceptionV3, 224 for Lite0, an encoder's own;
    a saved classifier uses its own input whatever is asked."""
    from ..models.encoders import ENCODERS

    if features in ENCODERS:
        return ENCODERS[features].input_size
    return 224 if features == LITE0 else 299


def extractor_from_settings(features: str, weights: str, image_size: int | None = None) -> FeatureExtractor:
    from ..models.encoders import ENCODERS

    image_size = image_size or default_image_size(features)
    if features == "inception":
        if weights not in ("imagenet", "none"):
            raise UserError(f"InceptionV3 features take weights 'imagenet' or 'none', not '{weights}'")
        return inception_extractor(weights, image_size)
    if features == LITE0:
        return lite0_extractor(weights, image_size)
    if features in ENCODERS:
        return encoder_extractor(features, weights, image_size)
    return classifier_extractor(features)


# ---------------------------------------------------------------------------
# Image sets and the cache


def folder_images(folder: str | os.PathLike) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: not a folder of images")
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and is_image_name(p))
    if len(paths) < 2:
        raise UserError(f"{folder}: needs at least 2 images, found {len(paths)}")
    return paths


CROPS = ("squash", "centre")


def _decoded(path: Path, size: int, crop: str = "squash") -> np.ndarray:
    """One image decoded and resized to (size, size) uint8, as a PNG of that size would store it:
    the whole image (``squash``) or its centre square of side min(h, w) (``centre``, aspect kept)."""
    from ..data.images import load_rgb

    tf = tensorflow()
    image = load_rgb(path)
    if crop == "centre":
        h, w = image.shape[:2]
        side = min(h, w)
        image = image[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
    resized = tf.image.resize(tf.cast(image, tf.float32), (size, size), antialias=True)
    return np.clip(np.round(resized.numpy()), 0, 255).astype(np.uint8)


def folder_arrays(paths: list[Path], size: int, crop: str = "squash") -> tuple[np.ndarray, list[dict]]:
    """Every readable image of ``paths`` as uint8 (N, size, size, 3) (for pixel metrics such as SWD)."""
    images, problems = [], []
    for path in paths:
        try:
            images.append(_decoded(path, size, crop))
        except ImageProblem as exc:
            problems.append({"path": str(path), "problem": f"{exc}; skipped"})
    return (np.stack(images) if images else np.zeros((0, size, size, 3), np.uint8)), problems


def folder_features(extractor: FeatureExtractor, paths: list[Path],
                    crop: str = "squash") -> tuple[np.ndarray, list[dict]]:
    """Features of image files, decoded one batch at a time (memory does not grow with the number of
    files, only the N x d features do); unreadable files are listed, not fatal."""
    out, problems, batch = [], [], []

    def flush():
        if batch:
            out.append(extractor(np.stack(batch)))
            batch.clear()

    for path in paths:
        try:
            batch.append(_decoded(path, extractor.input_size, crop))
        except ImageProblem as exc:
            problems.append({"path": str(path), "problem": f"{exc}; skipped"})
        if len(batch) == extractor.batch_size:
            flush()
    flush()
    if sum(len(f) for f in out) < 2:
        raise UserError(f"fewer than 2 readable images among {len(paths)}")
    return np.concatenate(out), problems


def fingerprint_arrays(images_u8: np.ndarray) -> str:
    if hasattr(images_u8, "fingerprint"):  # rows of a file on disk (bclib.rowfile.RowView): named, not read
        return images_u8.fingerprint
    digest = hashlib.sha256(np.ascontiguousarray(images_u8).tobytes())
    digest.update(str(images_u8.shape).encode())
    return digest.hexdigest()[:16]


def fingerprint_paths(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def cached_features(extractor: FeatureExtractor, key: str, compute: Callable[[], np.ndarray],
                    cache_dir: Optional[str | os.PathLike]) -> np.ndarray:
    if cache_dir is None:
        return compute()
    path = Path(cache_dir) / f"{extractor.name}-{key}.npy"
    if path.is_file():
        return np.load(path, allow_pickle=False)
    features = compute()
    with atomic_path(path) as tmp:
        np.save(tmp, features, allow_pickle=False)
    return features


def features_of_arrays(extractor: FeatureExtractor, images_u8: np.ndarray, cache_dir=None) -> np.ndarray:
    return cached_features(extractor, fingerprint_arrays(images_u8), lambda: extractor(images_u8), cache_dir)


def features_of_folder(extractor: FeatureExtractor, folder, cache_dir=None,
                       crop: str = "squash") -> tuple[np.ndarray, list[dict]]:
    paths = folder_images(folder)
    problems: list[dict] = []

    def compute():
        features, found = folder_features(extractor, paths, crop)
        problems.extend(found)
        return features

    key = fingerprint_paths(paths) + ("" if crop == "squash" else f"-{crop}")
    return cached_features(extractor, key, compute, cache_dir), problems
