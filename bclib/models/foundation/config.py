"""What defines a DINOv2-family encoder: its architecture, its preprocessing and the embedding it returns.

The architecture fields carry the names of transformers' ``Dinov2Config`` so that a checkpoint's
``config.json`` reads straight in (:func:`config_from_transformers`). Preprocessing and pooling are
not in any checkpoint file: they come from each model's authors and live in :data:`PRESETS`.

No Keras here: reading or checking a configuration must not cost a TensorFlow import.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ...errors import UserError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
POOLINGS = ("cls", "cls+mean")
# Which prefix tokens have a learned position: transformers' DINOv2 gives one to the class token;
# timm's ``no_embed_class=True`` models give none; timm's default gives one to every prefix token.
PREFIX_POSITIONS = ("cls", "none", "all")
ACTIVATIONS = ("gelu", "silu")


@dataclass(frozen=True)
class EncoderConfig:
    name: str
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    patch_size: int
    image_size: int  # the training resolution: its grid (image_size // patch_size) is the position grid stored
    mlp_ratio: float = 4.0
    layerscale_value: float = 1.0  # the gammas' starting value for random weights; a checkpoint brings its own
    use_swiglu_ffn: bool = False
    num_register_tokens: int = 0
    layer_norm_eps: float = 1e-6
    qkv_bias: bool = True
    hidden_act: str = "gelu"  # of the plain MLP; exact (erf) GELU as in torch, not the tanh approximation
    ffn_hidden_size: int | None = None  # SwiGLU's gated width; None: transformers' rule (see ffn_width)
    prefix_positions: str = "cls"
    interpolation_antialias: bool = False
    input_size: int = 224  # every image is resized to this inside the model
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    pooling: str = "cls"

    def __post_init__(self):
        checks = [
            (self.hidden_size % self.num_attention_heads == 0, "hidden_size must be a multiple of num_attention_heads"),
            (self.image_size % self.patch_size == 0, "image_size must be a multiple of patch_size"),
            (self.input_size % self.patch_size == 0, "input_size must be a multiple of patch_size"),
            (self.pooling in POOLINGS, f"pooling must be one of {POOLINGS}"),
            (self.prefix_positions in PREFIX_POSITIONS, f"prefix_positions must be one of {PREFIX_POSITIONS}"),
            (self.hidden_act in ACTIVATIONS, f"hidden_act must be one of {ACTIVATIONS}"),
            (self.num_register_tokens >= 0, "num_register_tokens must be >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(f"encoder {self.name!r}: {message}")

    @property
    def trained_grid(self) -> int:
        return self.image_size // self.patch_size

    @property
    def input_grid(self) -> int:
        return self.input_size // self.patch_size

    @property
    def ffn_width(self) -> int:
        """Hidden width of the feed-forward block. SwiGLU follows transformers' Dinov2SwiGLUFFN: two
        thirds of ``hidden_size * mlp_ratio``, rounded up to a multiple of 8 (its input layer is twice
        that wide); timm's packed SwiGLU models set ``ffn_hidden_size`` instead."""
        width = int(self.hidden_size * self.mlp_ratio)
        if not self.use_swiglu_ffn:
            return width
        if self.ffn_hidden_size is not None:
            return self.ffn_hidden_size
        return (int(width * 2 / 3) + 7) // 8 * 8

    @property
    def prefix_tokens(self) -> int:
        return 1 + self.num_register_tokens

    @property
    def embedding_size(self) -> int:
        return self.hidden_size * (2 if self.pooling == "cls+mean" else 1)

    def replace(self, **changes) -> EncoderConfig:
        return dataclasses.replace(self, **changes)


ARCHITECTURE_FIELDS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "patch_size", "image_size",
                       "mlp_ratio", "use_swiglu_ffn", "num_register_tokens", "layer_norm_eps", "qkv_bias")
TRANSFORMERS_MODEL_TYPES = ("dinov2", "dinov2_with_registers")


def config_from_transformers(values: dict, name: str = "checkpoint", **overrides) -> EncoderConfig:
    """An :class:`EncoderConfig` from the dict of a transformers DINOv2 ``config.json``.

    transformers' two DINOv2 classes differ in one more way than the register tokens: the
    with-registers one resizes its position grid with ``antialias=True``, plain DINOv2 without."""
    model_type = values.get("model_type")
    if model_type not in TRANSFORMERS_MODEL_TYPES:
        raise UserError(f"{name}: config.json has model_type {model_type!r}; "
                        f"expected one of {TRANSFORMERS_MODEL_TYPES}")
    fields = {key: values[key] for key in ARCHITECTURE_FIELDS + ("layerscale_value", "hidden_act") if key in values}
    if model_type == "dinov2":
        fields["num_register_tokens"] = 0
    if fields.get("hidden_act", "gelu") != "gelu":
        raise UserError(f"{name}: hidden_act {fields['hidden_act']!r} is not supported (only exact 'gelu')")
    fields["interpolation_antialias"] = model_type == "dinov2_with_registers"
    return EncoderConfig(name=name, **{**fields, **overrides})


def _dinov2(name: str, hidden: int, layers: int, heads: int, **kw) -> EncoderConfig:
    # facebook/dinov2-*: trained at 518 px (37x37 grid); their image processor feeds 224 px crops
    # normalised with ImageNet statistics, so the grid is resized to 16x16 at inference.
    # Pooling: the DINOv2 linear-probe input, the class token beside the mean of the patch tokens
    # (transformers' Dinov2ForImageClassification, the DINOv2 paper's linear evaluation).
    return EncoderConfig(name=name, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                         patch_size=14, image_size=518, pooling="cls+mean", **kw)


PRESETS: dict[str, EncoderConfig] = {
    # owkin/phikon-v2: DINOv2 ViT-L/16 at 224 px, no registers, transformers format (model_type dinov2);
    # ImageNet mean/std; its model card takes the class token after the final norm (1024 values).
    "phikon-v2": EncoderConfig(name="phikon-v2", hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                               patch_size=16, image_size=224, layerscale_value=1e-5, pooling="cls"),
    "dinov2-small": _dinov2("dinov2-small", 384, 12, 6),
    "dinov2-base": _dinov2("dinov2-base", 768, 12, 12),
    "dinov2-large": _dinov2("dinov2-large", 1024, 24, 16),
    "dinov2-giant": _dinov2("dinov2-giant", 1536, 40, 24, use_swiglu_ffn=True),
    # timm-format checkpoints (config.json holds "architecture"/"model_args"); none of these three
    # could be checked against the real files offline, see docs/decisions.md.
    "uni2-h": EncoderConfig(name="uni2-h", hidden_size=1536, num_hidden_layers=24, num_attention_heads=24,
                            patch_size=14, image_size=224, mlp_ratio=2.66667 * 2, use_swiglu_ffn=True,
                            ffn_hidden_size=4096, num_register_tokens=8, prefix_positions="none",
                            interpolation_antialias=True, layerscale_value=1e-5, pooling="cls"),
    "h-optimus-0": EncoderConfig(name="h-optimus-0", hidden_size=1536, num_hidden_layers=40, num_attention_heads=24,
                                 patch_size=14, image_size=224, mlp_ratio=2.66667 * 2, use_swiglu_ffn=True,
                                 ffn_hidden_size=4096, num_register_tokens=4, prefix_positions="none",
                                 interpolation_antialias=True, layerscale_value=1e-5, pooling="cls",
                                 mean=(0.707223, 0.578729, 0.703617), std=(0.211883, 0.230117, 0.177517)),
    "virchow2": EncoderConfig(name="virchow2", hidden_size=1280, num_hidden_layers=32, num_attention_heads=16,
                              patch_size=14, image_size=224, mlp_ratio=5.3375, use_swiglu_ffn=True,
                              ffn_hidden_size=3416, num_register_tokens=4, prefix_positions="all",
                              interpolation_antialias=True, layerscale_value=1e-5, pooling="cls+mean"),
}


def preset(name: str) -> EncoderConfig:
    if name not in PRESETS:
        raise UserError(f"unknown foundation encoder {name!r}; known: {', '.join(PRESETS)}")
    return PRESETS[name]
