"""Check bclib's Keras ViT against the PyTorch libraries the real checkpoints come from.

    python tools/check_foundation_against_torch.py write DIR    # needs torch, transformers, timm
    python tools/check_foundation_against_torch.py compare DIR  # needs bclib (Keras, safetensors)

``write`` builds small random models with transformers' Dinov2Model / Dinov2WithRegistersModel and
timm's VisionTransformer in the layouts of the presets (DINOv2 at 518 px run at 224 and 616 px,
registers with SwiGLU, Phikon-v2's patch 16, UNI2-h's packed SwiGLU without class position,
Virchow2's positions for every prefix token, a plain timm ViT at another input size), perturbs every
weight, saves each as a checkpoint folder the way a download looks, and stores the library's own
embedding of fixed images. ``compare`` loads each folder with ``build_encoder`` and prints the
largest difference. Both halves run in one environment too (Colab has all of it):
``... write DIR && ... compare DIR``. tests/test_foundation.py pins the same maths offline without
PyTorch; this script is the check that the names and rules agree with the libraries themselves.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
DINOV2 = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, patch_size=14, image_size=518)
# name: (library, model class or None, input size, pooling, architecture arguments)
CASES = {
    "dinov2": ("transformers", "Dinov2Model", 224, "cls+mean", DINOV2),
    "dinov2-upsampled": ("transformers", "Dinov2Model", 616, "cls+mean", DINOV2),
    "dinov2-registers-swiglu": ("transformers", "Dinov2WithRegistersModel", 224, "cls+mean",
                                {**DINOV2, "use_swiglu_ffn": True, "num_register_tokens": 4}),
    "phikon-v2-like": ("transformers", "Dinov2Model", 224, "cls",
                       {**DINOV2, "patch_size": 16, "image_size": 224, "layerscale_value": 1e-5}),
    "uni2-h-like": ("timm", "swiglu", 224, "cls",
                    dict(img_size=224, patch_size=14, embed_dim=96, depth=2, num_heads=4, init_values=1e-5,
                         mlp_ratio=2.66667 * 2, num_classes=0, no_embed_class=True, reg_tokens=8,
                         global_pool="token", dynamic_img_size=True)),
    "uni2-h-like-168px": ("timm", "swiglu", 168, "cls",
                          dict(img_size=224, patch_size=14, embed_dim=96, depth=2, num_heads=4, init_values=1e-5,
                               mlp_ratio=2.66667 * 2, num_classes=0, no_embed_class=True, reg_tokens=8,
                               global_pool="token", dynamic_img_size=True)),
    "virchow2-like": ("timm", "swiglu", 224, "cls+mean",
                      dict(img_size=224, patch_size=14, embed_dim=160, depth=2, num_heads=4, init_values=1e-5,
                           mlp_ratio=5.3375, num_classes=0, reg_tokens=4, global_pool="", dynamic_img_size=True)),
    "timm-plain-160px": ("timm", None, 160, "cls",
                         dict(img_size=224, patch_size=16, embed_dim=64, depth=2, num_heads=4, init_values=1e-5,
                              num_classes=0, dynamic_img_size=True)),
}


def _pixels(size: int) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 255, (2, size, size, 3)).astype("float32")


def _pool(tokens, pooling: str, prefix: int):
    import torch

    return tokens[:, 0] if pooling == "cls" else torch.cat([tokens[:, 0], tokens[:, prefix:].mean(1)], 1)


def _torch_model(library: str, kind, arguments: dict):
    import timm
    import torch
    import transformers

    if library == "transformers":
        config = getattr(transformers, kind.replace("Model", "Config"))(**arguments)
        return getattr(transformers, kind)(config)
    extra = dict(mlp_layer=timm.layers.SwiGLUPacked, act_layer=torch.nn.SiLU) if kind == "swiglu" else {}
    return timm.models.VisionTransformer(**arguments, **extra)


def write(root: Path) -> None:
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    for name, (library, kind, size, pooling, arguments) in CASES.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        model = _torch_model(library, kind, arguments).eval()
        with torch.no_grad():
            for parameter in model.parameters():  # away from the initial values (unit norms, constant gammas)
                parameter.add_(0.1 * torch.randn_like(parameter))
        pixels = _pixels(size)
        inputs = ((torch.tensor(pixels) / 255 - torch.tensor(MEAN)) / torch.tensor(STD)).permute(0, 3, 1, 2)
        with torch.no_grad():
            if library == "transformers":
                model.save_pretrained(folder)
                tokens = model(pixel_values=inputs).last_hidden_state
                registers = arguments.get("num_register_tokens", 0) if "Registers" in kind else 0
            else:
                save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "model.safetensors"))
                (folder / "config.json").write_text(json.dumps({"architecture": "vit_check", "model_args": arguments}))
                tokens = model.forward_features(inputs)
                registers = arguments.get("reg_tokens", 0)
        np.save(folder / "images.npy", pixels)
        np.save(folder / "expected.npy", _pool(tokens, pooling, 1 + registers).numpy())
        print(f"wrote {folder}")


def _bclib_config(name: str, arguments: dict, size: int, pooling: str, folder: Path):
    from bclib.models.foundation import EncoderConfig, config_from_folder

    if CASES[name][0] == "transformers":
        return config_from_folder(folder, input_size=size, pooling=pooling)
    width = int(arguments["embed_dim"] * arguments.get("mlp_ratio", 4.0))
    registers = arguments.get("reg_tokens", 0)
    positions = "none" if arguments.get("no_embed_class") else ("all" if registers else "cls")
    return EncoderConfig(name=name, hidden_size=arguments["embed_dim"], num_hidden_layers=arguments["depth"],
                         num_attention_heads=arguments["num_heads"], patch_size=arguments["patch_size"],
                         image_size=arguments["img_size"], mlp_ratio=arguments.get("mlp_ratio", 4.0),
                         use_swiglu_ffn=CASES[name][1] == "swiglu", ffn_hidden_size=width // 2,
                         num_register_tokens=registers, prefix_positions=positions, interpolation_antialias=True,
                         input_size=size, pooling=pooling)


def compare(root: Path) -> int:
    from bclib.models.foundation import build_encoder

    worst = 0.0
    for name, (_, _, size, pooling, arguments) in CASES.items():
        folder = root / name
        model = build_encoder(_bclib_config(name, arguments, size, pooling, folder), weights=folder)
        expected = np.load(folder / "expected.npy")
        difference = float(np.abs(np.asarray(model(np.load(folder / "images.npy"))) - expected).max())
        worst = max(worst, difference)
        print(f"{name:24s} {expected.shape[1]:4d} values  max |bclib - torch| {difference:.1e}")
    print("agree" if worst < 1e-4 else "DISAGREE")
    return 0 if worst < 1e-4 else 1


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "compare"):
        sys.exit(__doc__)
    sys.exit(write(Path(sys.argv[2])) if sys.argv[1] == "write" else compare(Path(sys.argv[2])))
