"""Frozen foundation encoders as trunks: which checkpoint a run loads, and the trunk around the encoder.

The architectures and the checkpoint reader live in :mod:`bclib.models.foundation`; this module
decides *which* weights an encoder gets:

* ``none``: random weights from the run's seed (tests, the offline demo; labelled untrained);
* a folder holding ``config.json`` and ``model.safetensors`` (a checkpoint the user downloaded,
  the only way to use a gated model such as UNI2-h);
* ``imagenet`` (the profiles' word for "pretrained"): the encoder's published checkpoint, looked
  up in the encoder cache (``$BCLIB_ENCODER_DIR/<encoder>``, default ``~/.cache/bclib/encoders/<encoder>``)
  and fetched there from the Hugging Face Hub when ``huggingface_hub`` is installed and online.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

from ..backend import keras as _keras
from ..errors import UserError
from .foundation import PRESETS, EncoderConfig, build_encoder
from .foundation import vit as _vit  # noqa: F401  registers the encoder's layers, so a saved model loads
from .head import image_input

keras = _keras()

# A two-block, 64-wide ViT of the DINOv2 form with random weights: the encoder path of the demo and the
# tests, in seconds on a CPU. Not a foundation model, and labelled untrained wherever it appears.
VIT_TINY = EncoderConfig(name="vit-tiny", hidden_size=64, num_hidden_layers=2, num_attention_heads=2, patch_size=16,
                         image_size=64, input_size=64, pooling="cls")
ENCODERS: dict[str, EncoderConfig] = {**PRESETS, "vit-tiny": VIT_TINY}
# Where each published encoder lives on the Hugging Face Hub (gated ones need the user's own token).
HUB_REPOS = {"phikon-v2": "owkin/phikon-v2", "dinov2-small": "facebook/dinov2-small",
             "dinov2-base": "facebook/dinov2-base", "dinov2-large": "facebook/dinov2-large",
             "dinov2-giant": "facebook/dinov2-giant", "uni2-h": "MahmoodLab/UNI2-h",
             "h-optimus-0": "bioptimus/H-optimus-0", "virchow2": "paige-ai/Virchow2"}
CONFIG_FILE = "config.json"
TENSOR_PATTERNS = ("model.safetensors", "model.safetensors.index.json", "model-*.safetensors")


def encoder_cache_dir() -> Path:
    return Path(os.environ.get("BCLIB_ENCODER_DIR", Path.home() / ".cache" / "bclib" / "encoders"))


def _tensor_files(folder: Path) -> list[Path]:
    return sorted(p for pattern in TENSOR_PATTERNS for p in folder.glob(pattern))


def _complete(folder: Path) -> bool:
    return (folder / CONFIG_FILE).is_file() and bool(_tensor_files(folder))


def _from_hub(encoder: str, folder: Path) -> Path:
    repo = HUB_REPOS[encoder]
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise UserError(f"{encoder}: no checkpoint in {folder} and huggingface_hub is not installed; download "
                        f"{repo} ({CONFIG_FILE}, model.safetensors) into that folder, or name a checkpoint folder "
                        f"(--weights FOLDER on the command line, train.encoder_weights.{encoder} in a profile), "
                        "or use random weights (--weights none, weights: none)") from None
    try:
        snapshot_download(repo, local_dir=str(folder), allow_patterns=[CONFIG_FILE, *TENSOR_PATTERNS])
    except Exception as exc:  # no network, gated model, unknown repository
        raise UserError(f"{encoder}: could not fetch {repo} from the Hugging Face Hub ({type(exc).__name__}); "
                        f"download it into {folder} yourself, or use weights: none") from None
    return folder


def checkpoint_folder(encoder: str, weights: str) -> Path | None:
    """The checkpoint folder an encoder loads for ``weights``, or None for random weights."""
    if encoder not in ENCODERS:
        raise UserError(f"unknown encoder '{encoder}' (known: {', '.join(ENCODERS)})")
    if weights in ("none", None):
        return None
    if weights != "imagenet":
        folder = Path(weights).expanduser()
        if not _complete(folder):
            raise UserError(f"{encoder}: '{weights}' is not a checkpoint folder "
                            f"(it needs {CONFIG_FILE} and model.safetensors)")
        return folder
    if encoder not in HUB_REPOS:
        raise UserError(f"{encoder} has no published weights; use weights: none")
    folder = encoder_cache_dir() / encoder
    return folder if _complete(folder) else _from_hub(encoder, folder)


@lru_cache(maxsize=8)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 24), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def weights_identity(encoder: str, weights: str) -> str:
    """Names the encoder's weights for the trunk-output store: ``none`` or the digest of its checkpoint
    (config and tensors), so a different download, or an edited one, is never served stale outputs."""
    folder = checkpoint_folder(encoder, weights)
    if folder is None:
        return "none"
    parts = [_file_digest(str(p), p.stat().st_size, p.stat().st_mtime_ns)
             for p in [folder / CONFIG_FILE, *_tensor_files(folder)]]
    return hashlib.sha256("".join(parts).encode()).hexdigest()[:12]


def encoder_trunk(encoder: str, input_size: int, weights: str = "none"):
    """The frozen part of an encoder model: images in [0, 255] of ``input_size`` to the encoder's embedding
    (its own resizing and normalisation are inside the encoder). Random weights follow Keras' global seed,
    which every run sets from its own seed first, as for the untrained CNN backbones."""
    folder = checkpoint_folder(encoder, weights)
    model = build_encoder(ENCODERS[encoder], "none" if folder is None else str(folder))
    image = image_input(input_size)
    trunk = keras.Model(image, model(image), name="trunk")
    trunk.trainable = False
    return trunk
