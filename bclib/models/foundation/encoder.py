"""``build_encoder``: a frozen DINOv2-family encoder from a preset name or a config, with random
weights or a downloaded checkpoint folder.

The folder's ``config.json`` must agree with the architecture asked for: a preset whose numbers
were written down from the model card (see ``config.PRESETS``) is checked against the real file
the first time someone loads it, instead of loading into a wrong shape or failing obscurely.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ...errors import UserError
from .checkpoint import CONFIG_FILE, load_checkpoint
from .config import ARCHITECTURE_FIELDS, EncoderConfig, config_from_transformers, preset

# timm's config.json keeps an architecture name and the arguments it was built with; these are
# the ones that map onto an EncoderConfig field (the rest of a timm architecture lives in timm's code).
_TIMM_ARGUMENTS = {"embed_dim": "hidden_size", "depth": "num_hidden_layers", "num_heads": "num_attention_heads",
                   "patch_size": "patch_size", "img_size": "image_size", "reg_tokens": "num_register_tokens"}


def read_config_json(folder: Path) -> dict:
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise UserError(f"{folder}: no {CONFIG_FILE}; a checkpoint folder holds config.json and model.safetensors")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: not valid JSON ({error.msg}, line {error.lineno})") from error


def _stated_architecture(values: dict, folder: Path) -> dict:
    """The architecture fields a checkpoint's config.json states, in EncoderConfig's names."""
    if "model_type" in values:
        stated = config_from_transformers(values, name=str(folder))
        return {key: getattr(stated, key) for key in ARCHITECTURE_FIELDS + ("interpolation_antialias",)}
    if "architecture" in values:
        arguments = values.get("model_args") or {}
        stated = {field: arguments[key] for key, field in _TIMM_ARGUMENTS.items() if key in arguments}
        if "no_embed_class" in arguments:  # timm's default gives every prefix token a position
            registers = arguments.get("reg_tokens") or 0
            stated["prefix_positions"] = "none" if arguments["no_embed_class"] else ("all" if registers else "cls")
        return stated
    raise UserError(f"{folder}/{CONFIG_FILE}: neither a transformers config (model_type) nor a timm one (architecture)")


def check_folder_agrees(config: EncoderConfig, folder: Path) -> None:
    """UserError naming the first architecture field where config.json and ``config`` differ."""
    stated = _stated_architecture(read_config_json(folder), Path(folder))
    for field, value in stated.items():
        expected = getattr(config, field)
        if field == "prefix_positions" and expected == "all" and not config.num_register_tokens:
            expected = "cls"  # the same layout when there are no registers
        if isinstance(expected, float) or isinstance(value, float):
            same = math.isclose(float(value), float(expected), rel_tol=1e-4)
        else:
            same = value == expected
        if not same:
            raise UserError(f"{folder}/{CONFIG_FILE}: {field} is {value!r}, but encoder {config.name!r} has "
                            f"{expected!r}")


def config_from_folder(folder: Path, **overrides) -> EncoderConfig:
    """The EncoderConfig of a transformers checkpoint folder not among the presets (ImageNet
    statistics at 224 px and class-token pooling unless ``overrides`` say otherwise). A timm
    folder needs a preset: its config.json names a timm architecture rather than describing it."""
    values = read_config_json(folder)
    if "model_type" not in values:
        raise UserError(f"{folder}: a timm checkpoint; build it from a preset or an EncoderConfig")
    return config_from_transformers(values, name=Path(folder).name, **overrides)


def build_encoder(name_or_config: str | EncoderConfig, weights: str | Path = "none"):
    """A frozen Keras encoder: [0, 255] RGB images -> (batch, embedding_size) embeddings.

    ``weights`` is ``"none"`` (random initialisation: tests, offline shape checks) or the path of
    a local checkpoint folder holding ``config.json`` and ``model.safetensors`` as downloaded."""
    from .vit import build_vit, encoder_variables  # Keras is imported only when a model is built

    config = preset(name_or_config) if isinstance(name_or_config, str) else name_or_config
    model = build_vit(config)
    if str(weights) != "none":
        folder = Path(weights).expanduser()
        if not folder.is_dir():
            raise UserError(f"encoder weights {str(weights)!r}: not 'none' and not a folder")
        check_folder_agrees(config, folder)
        model.unused_checkpoint_tensors = load_checkpoint(encoder_variables(model, config), config, folder)
    model.trainable = False
    return model
