"""Stain normalisation (bclib.data.stain): Macenko and Reinhard against closed forms and known stains."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bclib.data import stain
from bclib.data.images import load_rgb
from bclib.data.stain import StainReference, fit_reference, normalize
from bclib.errors import UserError

# Macenko et al.'s reference stain matrix (columns: hematoxylin, eosin; rows: R, G, B optical density).
MACENKO_HE = np.array([[0.5626, 0.2159], [0.7201, 0.8012], [0.4062, 0.5581]])
# A second lab's stains: Ruifrok & Johnston's hematoxylin with a redder eosin. (Ruifrok's own eosin,
# [0.07, 0.99, 0.11], has a red optical density below Macenko's beta = 0.15 at usual concentrations, so
# Macenko's tissue mask drops pure-eosin pixels of such a tile: a property of the method, not of bclib.)
OTHER_HE = np.array([[0.65, 0.30], [0.70, 0.85], [0.29, 0.43]])


def unit(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.linalg.norm(matrix, axis=0, keepdims=True)


def synthetic_tile(he: np.ndarray, seed: int = 0, side: int = 96, scale: float = 1.0) -> np.ndarray:
    """An H&E tile made through Beer-Lambert from stain matrix ``he``: a third pure hematoxylin, a third
    pure eosin, a third mixtures, plus a little background."""
    rng = np.random.default_rng(seed)
    n = side * side
    c = rng.uniform(0.6, 1.6, size=(2, n)) * scale
    kind = rng.integers(0, 4, size=n)
    c[1, kind == 0] = 0.0  # pure hematoxylin
    c[0, kind == 1] = 0.0  # pure eosin
    c[:, rng.random(n) < 0.05] = 0.0  # background (I = Io)
    od = unit(he) @ c
    image = 240.0 * np.exp(-od)
    return np.clip(np.rint(image.T), 0, 255).astype(np.uint8).reshape(side, side, 3)


def lab_stats(image: np.ndarray):
    from skimage.color import rgb2lab

    lab = rgb2lab(image.astype(np.float64) / 255.0).reshape(-1, 3)
    return lab.mean(axis=0), lab.std(axis=0)


def test_macenko_recovers_a_known_stain_matrix():
    for he in (MACENKO_HE, OTHER_HE):
        found, max_c = stain.macenko_stains(synthetic_tile(he).reshape(-1, 3))
        assert np.abs(found - unit(he)).max() < 0.02, (found, unit(he))
        assert np.all(max_c > 0)


def test_macenko_maps_onto_the_reference_stains_and_is_identity_on_the_reference():
    reference_image = synthetic_tile(MACENKO_HE, seed=1)
    reference = fit_reference(reference_image, "macenko")
    assert np.abs(np.array(reference.stain_matrix) - unit(MACENKO_HE)).max() < 0.02
    same = normalize(reference_image, reference)
    assert np.abs(same.astype(int) - reference_image.astype(int)).max() <= 2
    moved = normalize(synthetic_tile(OTHER_HE, seed=2, scale=1.3), reference)
    found, max_c = stain.macenko_stains(moved.reshape(-1, 3))
    assert np.abs(found - unit(MACENKO_HE)).max() < 0.03
    assert np.allclose(max_c, reference.max_concentrations, rtol=0.03)


def test_reinhard_closed_form_and_end_to_end():
    reference = fit_reference(synthetic_tile(MACENKO_HE, seed=1), "reinhard")
    lab = np.random.default_rng(0).normal([60, 20, -10], [15, 8, 6], size=(500, 3))
    out = stain.reinhard_lab(lab, reference)
    assert np.allclose(out.mean(axis=0), reference.lab_mean) and np.allclose(out.std(axis=0), reference.lab_std)
    image = synthetic_tile(OTHER_HE, seed=3)
    mean, std = lab_stats(normalize(image, reference))
    assert np.abs(mean - reference.lab_mean).max() < 1.0  # uint8 rounding and sRGB gamut clipping only
    assert np.abs(std - reference.lab_std).max() < 1.0
    same_image = synthetic_tile(MACENKO_HE, seed=1)
    assert np.abs(normalize(same_image, reference).astype(int) - same_image.astype(int)).max() <= 1


def test_reference_json_round_trip_and_key():
    reference = fit_reference(synthetic_tile(MACENKO_HE), "macenko", source="a.png")
    again = StainReference.from_json(reference.to_json())
    assert again == reference and again.key == reference.key
    assert fit_reference(synthetic_tile(MACENKO_HE, seed=5), "macenko").key != reference.key


@pytest.mark.parametrize("bad, message", [
    (np.zeros((32, 32), np.uint8), "RGB"),
    (np.zeros((32, 32, 4), np.uint8), "RGB"),
    (np.full((32, 32, 3), 300.0), "uint8"),
    (np.full((64, 64, 3), 255, np.uint8), "no stained tissue"),
])
@pytest.mark.parametrize("method", stain.METHODS)
def test_bad_images_give_a_user_error(bad, message, method):
    with pytest.raises(UserError, match=message):
        fit_reference(bad, method)
    reference = fit_reference(synthetic_tile(MACENKO_HE), method)
    with pytest.raises(UserError, match=message):
        normalize(bad, reference)


def test_a_blank_tile_is_kept_by_the_pipeline_mode_and_unknown_methods_are_refused():
    white = np.full((64, 64, 3), 250, np.uint8)
    reference = fit_reference(synthetic_tile(MACENKO_HE), "macenko")
    assert np.array_equal(normalize(white, reference, blank="keep"), white)
    with pytest.raises(UserError, match="unknown stain normalisation"):
        fit_reference(synthetic_tile(MACENKO_HE), "vahadane")


def _frame(tmp_path, tiles: dict[str, tuple[np.ndarray, str]]) -> pd.DataFrame:
    rows = []
    for name, (image, part) in tiles.items():
        path = tmp_path / f"{name}.png"
        Image.fromarray(image).save(path)
        rows.append({"path": str(path), "part": part})
    return pd.DataFrame(rows)


def test_reference_is_chosen_and_cached_from_training_rows_only(tmp_path):
    tiles = {f"train{i}": (synthetic_tile(MACENKO_HE, seed=i, side=48, scale=s), "train")
             for i, s in enumerate([0.6, 1.0, 1.5])}
    tiles |= {"val": (synthetic_tile(OTHER_HE, seed=7, side=48), "val"),
              "test": (synthetic_tile(OTHER_HE, seed=8, side=48), "test")}
    frame = _frame(tmp_path, tiles)
    loaded = []

    def spy(path):
        loaded.append(path)
        return load_rgb(path)

    chosen = stain.choose_reference(frame, spy)
    assert chosen.endswith("train1.png")  # the median tile of the three
    assert all("train" in p for p in loaded)
    reference = stain.cached_reference(frame, "macenko", tmp_path / "cache", spy)
    assert reference.source == chosen and all("train" in p for p in loaded)
    [written] = (tmp_path / "cache").glob("macenko-*.json")
    assert StainReference.from_json(written.read_text()) == reference

    def no_loading(path):
        raise AssertionError("a cached reference is read, not recomputed")

    assert stain.cached_reference(frame, "macenko", tmp_path / "cache", no_loading) == reference
    other = frame.copy()
    other.loc[other["part"] == "val", "path"] = other.loc[other["part"] == "test", "path"].iloc[0]
    assert stain.reference_key(other, "macenko") == stain.reference_key(frame, "macenko")
    assert stain.reference_key(frame, "reinhard") != stain.reference_key(frame, "macenko")
    assert stain.reference_key(frame.iloc[1:], "macenko") != stain.reference_key(frame, "macenko")
    assert stain.cached_reference(frame, "none", tmp_path / "cache") is None


def test_reference_choice_needs_training_rows(tmp_path):
    frame = _frame(tmp_path, {"v": (synthetic_tile(MACENKO_HE, side=48), "val")})
    with pytest.raises(UserError, match="training images"):
        stain.choose_reference(frame)
    with pytest.raises(UserError, match="'part' column"):
        stain.choose_reference(frame.drop(columns="part"))


def test_params_accept_the_three_methods_only(tmp_path):
    from bclib.params import load_params

    base = "seed: 1\ndata:\n  dataset: breakhis\n  root: data\n"
    assert load_params(_write(tmp_path, base)).data.stain_normalization == "none"
    for method in ("none", "macenko", "reinhard"):
        params = load_params(_write(tmp_path, base + f"  stain_normalization: {method}\n"))
        assert params.data.stain_normalization == method
    with pytest.raises(UserError, match="data.stain_normalization"):
        load_params(_write(tmp_path, base + "  stain_normalization: vahadane\n"))


def _write(tmp_path, text):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return path


def test_store_key_changes_with_the_stain_reference(tmp_path):
    from bclib.train.store import store_key

    frame = _frame(tmp_path, {"a": (synthetic_tile(MACENKO_HE, side=32), "train")})
    reference = fit_reference(synthetic_tile(MACENKO_HE), "macenko")
    assert store_key("t", frame, 16) != store_key("t", frame, 16, stain=reference.key)


def test_pipeline_normalises_before_resizing(tmp_path):
    from bclib.data.pipeline import load_batch

    image = synthetic_tile(OTHER_HE, seed=4, side=32)
    path = tmp_path / "x.png"
    Image.fromarray(image).save(path)
    reference = fit_reference(synthetic_tile(MACENKO_HE), "macenko")
    plain, normalised = load_batch([path], 32), load_batch([path], 32, reference)
    assert np.allclose(plain[0], image, atol=1)
    assert np.allclose(normalised[0], normalize(image, reference), atol=1)


@pytest.mark.parametrize("method", stain.METHODS)
def test_agrees_with_torchstain_numpy_backend(method):
    normalizers = pytest.importorskip("torchstain.numpy.normalizers")
    target, source = synthetic_tile(MACENKO_HE, seed=1), synthetic_tile(OTHER_HE, seed=2, scale=1.3)
    theirs = normalizers.NumpyMacenkoNormalizer() if method == "macenko" else normalizers.NumpyReinhardNormalizer()
    theirs.fit(target)
    expected = theirs.normalize(source)
    expected = expected[0] if method == "macenko" else expected
    ours = normalize(source, fit_reference(target, method))
    # torchstain truncates to uint8 where bclib rounds: at most one level apart.
    assert np.abs(ours.astype(int) - expected.astype(int)).max() <= 1
