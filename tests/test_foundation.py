"""Foundation encoders (bclib.models.foundation): tiny DINOv2-layout checkpoints written here with
NumPy, loaded through ``build_encoder(config, weights=folder)`` exactly as a downloaded one is, and
pinned to a forward pass written out below from the checkpoint's own arrays (no library code)."""

import json

import numpy as np
import pytest
from scipy.special import erf

keras = pytest.importorskip("keras")
pytest.importorskip("safetensors")
from safetensors.numpy import save_file  # noqa: E402

from bclib.errors import UserError  # noqa: E402
from bclib.models.foundation import EncoderConfig, build_encoder, config_from_folder, resize_grid  # noqa: E402

MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
WIDTH, HEADS, PATCH, LAYERS = 32, 2, 8, 2

# torch 2.13.0's F.interpolate(mode="bicubic", align_corners=False) applied to a 4x4 grid, written
# as the (new, old) matrix it amounts to along each axis (it is separable): computed once with torch,
# which this suite does not install.
TORCH_BICUBIC = {
    (6, False): [[1.086805555556, -0.086805555556, 0.0, 0.0],
                 [0.5, 0.59375, -0.09375, 0.0],
                 [-0.086805555556, 0.943287037037, 0.16087962963, -0.017361111111],
                 [-0.017361111111, 0.16087962963, 0.943287037037, -0.086805555556],
                 [0.0, -0.09375, 0.59375, 0.5],
                 [0.0, 0.0, -0.086805555556, 1.086805555556]],
    (3, False): [[0.856481481481, 0.16087962963, -0.017361111111, 0.0],
                 [-0.09375, 0.59375, 0.59375, -0.09375],
                 [0.0, -0.017361111111, 0.16087962963, 0.856481481481]],
    (3, True): [[0.752860411899, 0.304347826087, -0.057208237986, 0.0],
                [-0.035201149425, 0.535201149425, 0.535201149425, -0.035201149425],
                [0.0, -0.057208237986, 0.304347826087, 0.752860411899]],
    (6, True): [[1.065789473684, -0.065789473684, 0.0, 0.0],
                [0.529411764706, 0.529411764706, -0.058823529412, 0.0],
                [-0.05787037037, 0.9375, 0.131944444444, -0.011574074074],
                [-0.011574074074, 0.131944444444, 0.9375, -0.05787037037],
                [0.0, -0.058823529412, 0.529411764706, 0.529411764706],
                [0.0, 0.0, -0.065789473684, 1.065789473684]],
}


def tiny(**changes) -> EncoderConfig:
    """2 blocks, width 32, 2 heads, patch 8, trained at 32 px (a 4x4 position grid). With registers,
    the grid is resized with antialiasing, as transformers' Dinov2WithRegisters does."""
    values = dict(name="tiny", hidden_size=WIDTH, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                  patch_size=PATCH, image_size=32, input_size=32,
                  interpolation_antialias=bool(changes.get("num_register_tokens")))
    return EncoderConfig(**{**values, **changes})


def random_tensors(config: EncoderConfig, seed: int = 0, ffn_width: int = 4 * WIDTH) -> dict:
    """Random weights in transformers' names and PyTorch layouts ((out, in) linear weights)."""
    rng = np.random.default_rng(seed)

    def draw(*shape, scale=0.2, centre=0.0):
        return (centre + scale * rng.standard_normal(shape)).astype("float32")

    d, grid = WIDTH, config.image_size // PATCH
    t = {"embeddings.cls_token": draw(1, 1, d), "embeddings.mask_token": draw(1, d),
         "embeddings.position_embeddings": draw(1, 1 + grid * grid, d),
         "embeddings.patch_embeddings.projection.weight": draw(d, 3, PATCH, PATCH, scale=0.05),
         "embeddings.patch_embeddings.projection.bias": draw(d),
         "layernorm.weight": draw(d, centre=1.0, scale=0.1), "layernorm.bias": draw(d, scale=0.1)}
    if config.num_register_tokens:
        t["embeddings.register_tokens"] = draw(1, config.num_register_tokens, d)
    inner = 2 * ffn_width if config.use_swiglu_ffn else ffn_width
    ffn = ("weights_in", "weights_out") if config.use_swiglu_ffn else ("fc1", "fc2")
    for i in range(LAYERS):
        block = f"encoder.layer.{i}."
        for norm in ("norm1", "norm2"):
            t[block + norm + ".weight"], t[block + norm + ".bias"] = draw(d, centre=1.0, scale=0.1), draw(d, scale=0.1)
        for part in ("query", "key", "value"):
            t[f"{block}attention.attention.{part}.weight"], t[f"{block}attention.attention.{part}.bias"] = \
                draw(d, d), draw(d)
        t[block + "attention.output.dense.weight"], t[block + "attention.output.dense.bias"] = draw(d, d), draw(d)
        t[block + "layer_scale1.lambda1"] = draw(d, centre=0.5)
        t[block + "layer_scale2.lambda1"] = draw(d, centre=0.5)
        t[f"{block}mlp.{ffn[0]}.weight"], t[f"{block}mlp.{ffn[0]}.bias"] = draw(inner, d), draw(inner)
        t[f"{block}mlp.{ffn[1]}.weight"], t[f"{block}mlp.{ffn[1]}.bias"] = draw(d, ffn_width), draw(d)
    return t


def write_transformers(folder, config: EncoderConfig, tensors: dict, prefix: str = ""):
    folder.mkdir(parents=True, exist_ok=True)
    model_type = "dinov2_with_registers" if config.num_register_tokens else "dinov2"
    values = {"model_type": model_type, "hidden_size": WIDTH, "num_hidden_layers": LAYERS,
              "num_attention_heads": HEADS, "patch_size": PATCH, "image_size": config.image_size, "mlp_ratio": 4,
              "use_swiglu_ffn": config.use_swiglu_ffn, "layer_norm_eps": 1e-6, "qkv_bias": True,
              "hidden_act": "gelu", "layerscale_value": 1.0}
    if config.num_register_tokens:
        values["num_register_tokens"] = config.num_register_tokens
    (folder / "config.json").write_text(json.dumps(values))
    save_file({prefix + k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(folder / "model.safetensors"))
    return folder


def as_timm(tensors: dict, positions: str, register_positions=None) -> dict:
    """The same weights in timm's names: fused qkv, ``pos_embed`` holding the positions of
    ``positions`` ("cls": class token and patches, "none": patches only, "all": every token)."""
    t = {"cls_token": tensors["embeddings.cls_token"],
         "patch_embed.proj.weight": tensors["embeddings.patch_embeddings.projection.weight"],
         "patch_embed.proj.bias": tensors["embeddings.patch_embeddings.projection.bias"],
         "norm.weight": tensors["layernorm.weight"], "norm.bias": tensors["layernorm.bias"]}
    pos = tensors["embeddings.position_embeddings"]
    t["pos_embed"] = {"cls": pos, "none": pos[:, 1:],
                      "all": None if register_positions is None else
                      np.concatenate([pos[:, :1], register_positions, pos[:, 1:]], axis=1)}[positions]
    if "embeddings.register_tokens" in tensors:
        t["reg_token"] = tensors["embeddings.register_tokens"]
    for i in range(LAYERS):
        old, new = f"encoder.layer.{i}.", f"blocks.{i}."
        qkv = [f"{old}attention.attention.{p}" for p in ("query", "key", "value")]
        t[new + "attn.qkv.weight"] = np.concatenate([tensors[q + ".weight"] for q in qkv])
        t[new + "attn.qkv.bias"] = np.concatenate([tensors[q + ".bias"] for q in qkv])
        pairs = {"norm1": "norm1", "norm2": "norm2", "attn.proj": "attention.output.dense", "mlp.fc1": "mlp.fc1",
                 "mlp.fc2": "mlp.fc2"}
        if f"{old}mlp.weights_in.weight" in tensors:
            pairs.update({"mlp.fc1": "mlp.weights_in", "mlp.fc2": "mlp.weights_out"})
        for timm_name, name in pairs.items():
            t[f"{new}{timm_name}.weight"], t[f"{new}{timm_name}.bias"] = tensors[name.join([old, ".weight"])], \
                tensors[name.join([old, ".bias"])]
        t[new + "ls1.gamma"], t[new + "ls2.gamma"] = tensors[old + "layer_scale1.lambda1"], \
            tensors[old + "layer_scale2.lambda1"]
    return t


def write_timm(folder, config: EncoderConfig, tensors: dict):
    folder.mkdir(parents=True, exist_ok=True)
    args = {"embed_dim": WIDTH, "depth": LAYERS, "num_heads": HEADS, "patch_size": PATCH,
            "img_size": config.image_size, "reg_tokens": config.num_register_tokens,
            "no_embed_class": config.prefix_positions == "none"}
    (folder / "config.json").write_text(json.dumps({"architecture": "vit_tiny_test", "model_args": args}))
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(folder / "model.safetensors"))
    return folder


# ---- the reference forward pass, from the checkpoint's arrays -------------------------------------------------

def layer_norm(x, weight, bias, eps=1e-6):
    mean = x.mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + eps) * weight + bias


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def reference_tokens(t, images, positions="cls", grid_matrix=None, register_positions=None):
    """[class, registers, patches] before the first block. ``grid_matrix`` (new x old): the position
    grid's resize along each axis."""
    x = (images / 255.0 - MEAN) / STD
    b, h, w, _ = x.shape
    gh, gw = h // PATCH, w // PATCH
    # A stride-p convolution is a matrix product over each patch's (channel, row, column) values.
    patches = x.reshape(b, gh, PATCH, gw, PATCH, 3).transpose(0, 1, 3, 5, 2, 4).reshape(b, gh * gw, -1)
    weight = t["embeddings.patch_embeddings.projection.weight"].reshape(WIDTH, -1)
    tokens = patches @ weight.T + t["embeddings.patch_embeddings.projection.bias"]
    pos = t["embeddings.position_embeddings"][0]
    grid = pos[1:].reshape(int(np.sqrt(len(pos) - 1)), -1, WIDTH)
    if grid_matrix is not None:
        grid = np.einsum("hi,ijd,wj->hwd", grid_matrix, grid, grid_matrix)
    tokens = tokens + grid.reshape(-1, WIDTH)
    cls = np.broadcast_to(t["embeddings.cls_token"], (b, 1, WIDTH))
    registers = t.get("embeddings.register_tokens", np.zeros((1, 0, WIDTH)))
    registers = np.broadcast_to(registers, (b, registers.shape[1], WIDTH))
    if positions in ("cls", "all"):
        cls = cls + pos[:1]
    if positions == "all":
        registers = registers + register_positions
    return np.concatenate([cls, registers, tokens], axis=1)


def reference_block(t, x, i, swiglu):
    p = f"encoder.layer.{i}."

    def linear(v, name):
        return v @ t[p + name + ".weight"].T + t[p + name + ".bias"]

    h = layer_norm(x, t[p + "norm1.weight"], t[p + "norm1.bias"])
    q, k, v = (linear(h, f"attention.attention.{n}") for n in ("query", "key", "value"))
    split = lambda a: a.reshape(a.shape[0], a.shape[1], HEADS, -1).transpose(0, 2, 1, 3)  # noqa: E731
    q, k, v = split(q), split(k), split(v)
    context = softmax(q @ k.transpose(0, 1, 3, 2) / np.sqrt(WIDTH // HEADS)) @ v
    context = context.transpose(0, 2, 1, 3).reshape(x.shape)
    x = x + t[p + "layer_scale1.lambda1"] * linear(context, "attention.output.dense")
    h = layer_norm(x, t[p + "norm2.weight"], t[p + "norm2.bias"])
    if swiglu:
        gate, value = np.split(linear(h, "mlp.weights_in"), 2, axis=-1)
        h = linear(gate / (1 + np.exp(-gate)) * value, "mlp.weights_out")
    else:
        h = linear(h, "mlp.fc1")
        h = linear(0.5 * h * (1 + erf(h / np.sqrt(2))), "mlp.fc2")
    return x + t[p + "layer_scale2.lambda1"] * h


def reference_embedding(t, images, swiglu=False, pooling="cls", registers=0, **token_options):
    x = reference_tokens(t, images.astype("float64"), **token_options)
    for i in range(LAYERS):
        x = reference_block(t, x, i, swiglu)
    x = layer_norm(x, t["layernorm.weight"], t["layernorm.bias"])
    if pooling == "cls":
        return x[:, 0]
    return np.concatenate([x[:, 0], x[:, 1 + registers:].mean(1)], axis=-1)


def images(size=32, count=2, seed=1):
    return np.random.default_rng(seed).uniform(0, 255, (count, size, size, 3)).astype("float32")


def embedding(model, pixels):
    return np.asarray(model(pixels), "float64")


# ---- the tests -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["plain", "registers", "swiglu"])
def test_transformers_checkpoint_gives_the_reference_embedding(tmp_path, variant):
    config = {"plain": tiny(), "registers": tiny(num_register_tokens=2, pooling="cls+mean"),
              "swiglu": tiny(use_swiglu_ffn=True)}[variant]
    # transformers' Dinov2SwiGLUFFN width for 32 channels at mlp_ratio 4: two thirds of 128 is 85,
    # rounded up to a multiple of 8.
    width = 88 if config.use_swiglu_ffn else 128
    assert config.ffn_width == width
    tensors = random_tensors(config, ffn_width=width)
    model = build_encoder(config, weights=write_transformers(tmp_path / variant, config, tensors))
    pixels = images()
    expected = reference_embedding(tensors, pixels, swiglu=config.use_swiglu_ffn, pooling=config.pooling,
                                   registers=config.num_register_tokens)
    assert expected.shape == (2, config.embedding_size)
    np.testing.assert_allclose(embedding(model, pixels), expected, atol=1e-4, rtol=1e-4)
    assert model.unused_checkpoint_tensors == ["embeddings.mask_token"]  # used in pretraining only
    assert not model.trainable


def test_a_prefixed_checkpoint_reads_the_same(tmp_path):
    """Checkpoints saved from Dinov2ForImageClassification put the encoder under ``dinov2.``."""
    config = tiny()
    tensors = random_tensors(config)
    tensors["classifier.weight"], tensors["classifier.bias"] = np.ones((5, 2 * WIDTH), "float32"), np.ones(5)
    model = build_encoder(config, weights=write_transformers(tmp_path / "p", config, tensors, prefix="dinov2."))
    pixels = images()
    np.testing.assert_allclose(embedding(model, pixels), reference_embedding(tensors, pixels), atol=1e-4, rtol=1e-4)
    assert model.unused_checkpoint_tensors == ["dinov2.classifier.bias", "dinov2.classifier.weight",
                                               "dinov2.embeddings.mask_token"]


@pytest.mark.parametrize("positions", ["cls", "none", "all"])
def test_timm_checkpoint_gives_the_reference_embedding(tmp_path, positions):
    registers = 0 if positions == "cls" else 3
    config = tiny(num_register_tokens=registers, use_swiglu_ffn=positions == "none", ffn_hidden_size=48,
                  prefix_positions=positions, pooling="cls+mean")
    tensors = random_tensors(config, seed=2, ffn_width=48 if config.use_swiglu_ffn else 128)
    tensors.pop("embeddings.mask_token")
    register_positions = np.random.default_rng(3).standard_normal((1, registers, WIDTH)).astype("float32")
    folder = write_timm(tmp_path / positions, config, as_timm(tensors, positions, register_positions))
    model = build_encoder(config, weights=folder)
    pixels = images()
    expected = reference_embedding(tensors, pixels, swiglu=config.use_swiglu_ffn, pooling="cls+mean",
                                   registers=registers, positions=positions, register_positions=register_positions)
    np.testing.assert_allclose(embedding(model, pixels), expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("new, antialias", sorted(TORCH_BICUBIC))
def test_position_grid_resize_matches_torch(new, antialias):
    grid = np.random.default_rng(4).standard_normal((4, 4, 3))
    matrix = np.array(TORCH_BICUBIC[new, antialias])
    np.testing.assert_allclose(resize_grid(grid, (new, new), antialias),
                               np.einsum("hi,ijc,wj->hwc", matrix, grid, matrix), atol=1e-9)


@pytest.mark.parametrize("input_size, registers", [(48, 0), (24, 2)])
def test_another_input_grid_resizes_the_positions_as_torch_does(tmp_path, input_size, registers):
    """Trained at 32 px (4x4 positions), run at 48 px (6x6: plain DINOv2, no antialias) or at 24 px
    (3x3: with registers, antialiased as transformers' Dinov2WithRegisters does)."""
    config = tiny(num_register_tokens=registers)
    tensors = random_tensors(config, seed=5)
    model = build_encoder(config.replace(input_size=input_size),
                          weights=write_transformers(tmp_path / "grid", config, tensors))
    pixels = images(input_size)
    matrix = np.array(TORCH_BICUBIC[input_size // PATCH, bool(registers)])
    expected = reference_embedding(tensors, pixels, registers=registers, grid_matrix=matrix)
    np.testing.assert_allclose(embedding(model, pixels), expected, atol=1e-4, rtol=1e-4)


def test_the_trained_grid_uses_the_stored_positions_unchanged(tmp_path):
    config = tiny(num_register_tokens=2)
    tensors = random_tensors(config, seed=6)
    model = build_encoder(config, weights=write_transformers(tmp_path / "same", config, tensors))
    tokens = np.asarray(model.get_layer("tokens")(np.zeros((1, 16, WIDTH), "float32")))
    pos = tensors["embeddings.position_embeddings"]
    np.testing.assert_array_equal(tokens[0, 0], tensors["embeddings.cls_token"][0, 0] + pos[0, 0])
    np.testing.assert_array_equal(tokens[0, 1:3], tensors["embeddings.register_tokens"][0])
    np.testing.assert_array_equal(tokens[0, 3:], pos[0, 1:])


def test_images_of_another_size_are_resized_to_the_input_size():
    model = build_encoder(tiny())
    assert model(images(32)).shape == model(images(48)).shape == (2, WIDTH)
    model_input = np.asarray(model.get_layer("preprocess")(images(48)))
    assert model_input.shape == (2, 32, 32, 3)


def one_line_error(build) -> str:
    with pytest.raises(UserError) as error:
        build()
    message = str(error.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("fault, tensor", [
    ("missing", "encoder.layer.1.layer_scale2.lambda1"),
    ("missing", "embeddings.register_tokens"),
    ("mis-shaped", "encoder.layer.0.mlp.fc1.weight"),
    ("mis-shaped", "embeddings.position_embeddings"),
    ("unexpected", "encoder.layer.2.norm1.weight"),
])
def test_a_faulty_checkpoint_names_the_tensor_and_the_folder(tmp_path, fault, tensor):
    config = tiny(num_register_tokens=1)
    tensors = random_tensors(config)
    if fault == "missing":
        tensors.pop(tensor)
    elif fault == "mis-shaped":
        tensors[tensor] = tensors[tensor][..., :-1]
    else:
        tensors[tensor] = np.ones(WIDTH, "float32")
    folder = write_transformers(tmp_path / "bad", config, tensors)
    message = one_line_error(lambda: build_encoder(config, weights=folder))
    words = {"missing": "lacks tensor", "mis-shaped": "has shape", "unexpected": "unexpected tensor"}[fault]
    assert repr(tensor) in message and str(folder) in message and words in message


def test_config_json_that_disagrees_with_the_encoder_is_refused(tmp_path):
    config = tiny()
    folder = write_transformers(tmp_path / "other", tiny(), random_tensors(config))
    message = one_line_error(lambda: build_encoder(tiny(num_attention_heads=4), weights=folder))
    assert "num_attention_heads" in message and str(folder) in message
    assert "not a folder" in one_line_error(lambda: build_encoder(config, weights=tmp_path / "absent"))


def test_config_from_folder_reads_a_transformers_config(tmp_path):
    config = tiny(num_register_tokens=2, use_swiglu_ffn=True)
    folder = write_transformers(tmp_path / "read", config, random_tensors(config, ffn_width=88))
    read = config_from_folder(folder, input_size=32)
    assert (read.hidden_size, read.num_register_tokens, read.use_swiglu_ffn, read.interpolation_antialias) == \
        (WIDTH, 2, True, True)
    assert build_encoder(read, weights=folder).output_shape == (None, WIDTH)


def test_presets_build_with_their_embedding_sizes():
    """Random weights only (the real ones are not downloadable here): the model card's embedding width."""
    from bclib.models.foundation import PRESETS

    expected = {"phikon-v2": 1024, "dinov2-small": 768, "dinov2-base": 1536, "dinov2-large": 2048,
                "dinov2-giant": 3072, "uni2-h": 1536, "h-optimus-0": 1536, "virchow2": 2560}
    assert {name: config.embedding_size for name, config in PRESETS.items()} == expected
    model = build_encoder("dinov2-small")
    assert model.output_shape == (None, 768)
    # Counted by hand for ViT-S/14 at 518 px: patch embedding, class token, 1 + 37*37 positions,
    # 12 blocks (2 norms, query/key/value, output, 2 layer scales, a 4x MLP), final norm.
    d = 384
    block = 4 * d + 3 * (d * d + d) + (d * d + d) + 2 * d + (d * 4 * d + 4 * d) + (4 * d * d + d)
    assert model.count_params() == (3 * 14 * 14 * d + d) + d + (1 + 37 * 37) * d + 12 * block + 2 * d


def test_a_saved_encoder_loads_back_with_the_same_embedding(tmp_path):
    """The run record saves models as .keras files: every custom layer must serialise."""
    config = tiny(num_register_tokens=2, use_swiglu_ffn=True, pooling="cls+mean", input_size=48)
    model = build_encoder(config)
    model.save(tmp_path / "encoder.keras")
    again = keras.models.load_model(tmp_path / "encoder.keras")
    pixels = images(48)
    np.testing.assert_array_equal(np.asarray(again(pixels)), np.asarray(model(pixels)))
