import numpy as np
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
