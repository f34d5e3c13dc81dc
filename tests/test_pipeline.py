import numpy as np
import pandas as pd
import pytest

pytest.importorskip("tensorflow")

from bclib.data.index import index_bach, index_breakhis  # noqa: E402
from bclib.data.pipeline import load_batch, make_dataset  # noqa: E402
from helpers import tissue_like, write_png  # noqa: E402


def test_breakhis_batches(breakhis_root):
    frame = index_breakhis(breakhis_root).frame.iloc[:10]
    batches = list(make_dataset(frame, image_size=32, batch_size=4))
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    images = np.concatenate([b[0].numpy() for b in batches])
    labels = np.concatenate([b[1].numpy() for b in batches])
    assert images.shape == (10, 32, 32, 3) and images.dtype == np.float32
    assert 0 <= images.min() and images.max() <= 255 and images.max() > 100  # [0, 255], not normalised
    np.testing.assert_array_equal(labels, frame["label_index"].to_numpy())


def test_tiff_decoding_and_cache_give_the_same_pixels(bach_root):
    frame = index_bach(bach_root).frame
    cached = np.concatenate([x.numpy() for x, _ in make_dataset(frame, 24, 8, cache=True)])
    plain = np.concatenate([x.numpy() for x, _ in make_dataset(frame, 24, 8, cache=False)])
    np.testing.assert_array_equal(cached, plain)
    assert cached.shape == (16, 24, 24, 3)


def test_shuffle_is_seeded(breakhis_root):
    frame = index_breakhis(breakhis_root).frame.iloc[:12]
    def order(seed):
        return np.concatenate([y.numpy() for _, y in make_dataset(frame, 16, 12, shuffle=True, seed=seed,
                                                                  label_column="label_index")])

    first = list(make_dataset(frame.assign(label_index=range(12)), 16, 12, shuffle=True, seed=5))[0][1].numpy()
    again = list(make_dataset(frame.assign(label_index=range(12)), 16, 12, shuffle=True, seed=5))[0][1].numpy()
    np.testing.assert_array_equal(first, again)
    assert sorted(first) == list(range(12)) and list(first) != list(range(12))
    assert len(order(0)) == 12


def test_grayscale_becomes_three_channels(tmp_path):
    path = write_png(tmp_path / "gray.png", tissue_like(40, 40)[..., 0])
    batch = load_batch([path], 20)
    assert batch.shape == (1, 20, 20, 3)
    np.testing.assert_allclose(batch[0, ..., 0], batch[0, ..., 2])


def _anisotropy(images: np.ndarray) -> np.ndarray:
    """Per image, log(spectral energy along x / along y) in three radial frequency bands: the windowed
    power spectrum of the grey image, split by whether |f_x| or |f_y| is the larger frequency. A tile
    squashed along x has its x-frequencies raised, so its ratio moves; an unsquashed one sits near 0."""
    grey = images.mean(axis=-1)
    grey = grey - grey.mean(axis=(1, 2), keepdims=True)
    side = grey.shape[1]
    window = np.outer(np.hanning(side), np.hanning(side))
    power = np.abs(np.fft.fft2(grey * window)) ** 2
    fy, fx = np.meshgrid(np.fft.fftfreq(side), np.fft.fftfreq(side), indexing="ij")
    radius, along_x = np.hypot(fx, fy), np.abs(fx) > np.abs(fy)
    along_y = np.abs(fy) > np.abs(fx)
    features = []
    for low, high in ((0.05, 0.15), (0.15, 0.3), (0.3, 0.5)):
        band = (radius >= low) & (radius < high)
        features.append(np.log(power[:, band & along_x].sum(1) / power[:, band & along_y].sum(1)))
    return np.stack(features, axis=1)


def test_crop_geometry_leaves_no_aspect_signal_between_real_and_generated_images(tmp_path):
    """Issue #40 item 1. Generated images are squares of unsquashed tissue (460x460 from 700x460 tiles), and every
    one is benign. Stand-ins: squares of side min(h, w) cut at random from synthetic benign tiles (bclib.data.synth,
    3:2 like BreakHis', 40X and 100X) and filed as `bclib gan generate` files them (PNG + manifest.csv, read by
    index_generated); real benign tiles drawn the same way for other patients. Both go through make_dataset with
    one geometry and a logistic regression on FFT anisotropy features tries to tell them apart (cross-validated).
    With data.geometry crop it does no better than chance; with squash (the classifiers' old resize of the whole
    tile, real tiles squashed by 1.5, generated ones not) it tells them apart: the confound every GAN-effect row
    carried. The synthetic tissue has a strong orientation of its own per tile (fibres, ducts), so one tile's
    anisotropy is a noisy witness and 2 x 96 tiles are needed to see the squash."""
    from PIL import Image
    from scipy.stats import binom
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from bclib.data.index import index_generated
    from bclib.data.synth.archive import UNIT_PIXELS, _image_rng, draw_image, draw_patient

    kinds, n = ("adenosis", "fibroadenoma", "phyllodes_tumor", "tubular_adenoma"), 96

    def tiles(seed: int):
        for i in range(n):
            kind = kinds[i % 4]
            yield draw_image(kind, (64, 96), UNIT_PIXELS[(40, 100)[i // 4 % 2]], draw_patient((seed, i), kind),
                             _image_rng(seed, i, 1))

    rng = np.random.default_rng(0)
    (tmp_path / "real").mkdir()
    (tmp_path / "generated").mkdir()
    real = []
    for i, tile in enumerate(tiles(1)):
        real.append(str(tmp_path / "real" / f"{i}.png"))
        Image.fromarray(tile).save(real[-1])
    names = []
    for i, tile in enumerate(tiles(2)):
        x = rng.integers(0, tile.shape[1] - tile.shape[0] + 1)
        names.append(f"benign_{i:04d}.png")
        Image.fromarray(tile[:, x:x + tile.shape[0]]).save(tmp_path / "generated" / names[-1])
    (tmp_path / "generated" / "manifest.csv").write_text("file,class\n" + "".join(f"{n},benign\n" for n in names))
    generated = index_generated(tmp_path / "generated", ["benign", "malignant"]).frame
    assert len(generated) == n and (generated["width"] == generated["height"]).all()
    both = pd.concat([pd.DataFrame({"path": real}), generated[["path"]]], ignore_index=True)
    is_generated = np.r_[np.zeros(n), np.ones(n)]

    def probe_accuracy(geometry: str) -> float:
        images = np.concatenate([x.numpy() for x in make_dataset(both, 32, 64, cache=False, label_column=None,
                                                                 geometry=geometry)])
        probe = make_pipeline(StandardScaler(), LogisticRegression())
        folds = StratifiedKFold(5, shuffle=True, random_state=0)
        return float(cross_val_score(probe, _anisotropy(images), is_generated, cv=folds).mean())

    chance = binom.ppf(0.975, 2 * n, 0.5) / (2 * n)  # 97.5% of a blind probe's accuracies lie at or below (0.57)
    cropped, squashed = probe_accuracy("crop"), probe_accuracy("squash")
    assert cropped <= chance, (cropped, chance)
    assert squashed >= chance + 0.1, (squashed, chance)


def test_crop_geometry_cuts_real_tiles_as_the_gan_cache_does(breakhis_root):
    """data.geometry crop is the GAN's own cut (gan.crop centre; the centre of gan.crop random's strips):
    the same pixels, up to the cache's rounding to uint8, and the same stain-free decode."""
    from bclib.gan.training_images import load_images_u8

    frame = index_breakhis(breakhis_root).frame.iloc[:6]
    cropped = np.concatenate([x.numpy() for x in make_dataset(frame, 32, 4, cache=False, label_column=None,
                                                              geometry="crop")])
    cache = load_images_u8(frame, 32, crop="centre").astype(np.float32)
    np.testing.assert_allclose(cropped, cache, atol=0.5 + 1e-4)
    squashed = np.concatenate([x.numpy() for x in make_dataset(frame, 32, 4, cache=False, label_column=None)])
    assert np.abs(squashed - cache).mean() > 5  # the default squash is another picture
    np.testing.assert_array_equal(load_batch(frame["path"].iloc[:1], 32, geometry="crop"), cropped[:1])
    with pytest.raises(ValueError, match="geometry"):
        load_batch(frame["path"].iloc[:1], 32, geometry="stretch")
    from bclib.train.store import store_key  # cached trunk outputs of squashed tiles never serve a crop run

    assert store_key("t", frame, 32, geometry="crop") != store_key("t", frame, 32)
