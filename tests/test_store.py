"""The trunk-output store: float16 on disk within tolerance of float32, streamed back in any order, keyed by
the images' contents and the augmentation, so that regenerated images never reuse stale features."""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

keras = pytest.importorskip("keras")

from bclib.train.store import Store, StoreReader, store_key, stored_outputs, write_store  # noqa: E402
from helpers import write_png  # noqa: E402


def toy_trunk():
    keras.utils.set_random_seed(0)
    image = keras.Input((16, 16, 3))
    x = keras.layers.Rescaling(1 / 255)(image)
    feature_map = keras.layers.Conv2D(4, 3, activation="relu")(x)
    pooled = keras.layers.GlobalAveragePooling2D()(feature_map)
    return keras.Model(image, [feature_map, pooled])


@pytest.fixture
def frame(tmp_path):
    rng = np.random.default_rng(0)
    paths = [write_png(tmp_path / "img" / f"{i}.png", rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
             for i in range(37)]  # not a multiple of the batch size
    return pd.DataFrame({"path": [str(p) for p in paths], "label_index": np.arange(37) % 2})


def test_float16_store_matches_float32_outputs(frame, tmp_path):
    from bclib.data.pipeline import make_dataset

    trunk = toy_trunk()
    store = write_store(trunk, frame, 16, tmp_path / "store", batch_size=8)
    reference = trunk.predict(make_dataset(frame, 16, 8, cache=False, label_column=None), verbose=0)
    stored = store.load()
    assert store.rows == 37 and [a.shape for a in stored] == [r.shape for r in reference]
    for ours, exact in zip(stored, reference):
        np.testing.assert_allclose(ours, exact, rtol=2e-3, atol=1e-4)  # float16: 11 significant bits


def test_reader_returns_rows_in_any_order_across_stores(frame, tmp_path):
    trunk = toy_trunk()
    first = write_store(trunk, frame.iloc[:20], 16, tmp_path / "a")
    second = write_store(trunk, frame.iloc[20:], 16, tmp_path / "b")
    reader = StoreReader([first, second])
    together = [np.concatenate([x, y]) for x, y in zip(first.load(), second.load())]
    rows = np.array([36, 0, 19, 20, 5, 21])
    for got, expected in zip(reader.gather(rows), together):
        np.testing.assert_array_equal(got, expected[rows])
    labels = frame["label_index"].to_numpy()
    batches = list(reader.dataset(labels, batch_size=10, shuffle=True, seed=3))
    again = list(reader.dataset(labels, batch_size=10, shuffle=True, seed=3))
    seen = np.concatenate([b[1].numpy() for b in batches])
    assert len(seen) == 37 and sorted(seen.tolist()) == sorted(labels.tolist())
    np.testing.assert_array_equal(batches[0][0][1].numpy(), again[0][0][1].numpy())  # same seed, same order


def test_key_follows_image_contents_and_augmentation(frame, tmp_path):
    key = store_key("toy-none-16", frame, 16)
    assert store_key("toy-none-16", frame, 16) == key
    assert store_key("toy-none-16", frame, 16, "tradaug seed=0") != key
    assert store_key("toy-none-32", frame, 16) != key
    # A regenerated image under the same file name (as a retrained cWGAN writes) is a new key.
    path = frame["path"].iloc[3]
    write_png(type(tmp_path)(path), np.full((16, 16, 3), 7, np.uint8))
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert store_key("toy-none-16", frame, 16) != key


def test_stale_store_is_never_read_and_a_complete_one_is_reused(frame, tmp_path):
    trunk = toy_trunk()
    folder = tmp_path / "cache" / store_key("toy", frame, 16)
    first = stored_outputs(trunk, frame, 16, folder)
    (folder / "tap0.npy").touch()
    assert stored_outputs(trunk, frame, 16, folder).folder == first.folder  # complete: reused, not rewritten
    unfinished = tmp_path / "cache" / "unfinished"
    unfinished.mkdir()
    (unfinished / "tap0.npy").write_bytes(b"")
    assert Store.open(unfinished) is None  # no meta.json: not a store


def test_a_changed_image_trunk_or_augmentation_gets_a_new_store_never_the_old_one(frame, tmp_path):
    trunk = toy_trunk()
    key = store_key("toy", frame, 16)
    old = stored_outputs(trunk, frame, 16, tmp_path / "cache" / key)
    redrawn = frame.iloc[0]["path"]
    write_png(Path(redrawn), np.full((16, 16, 3), 7, np.uint8))  # the same file name, other pixels
    assert store_key("toy", frame, 16) != key  # the images' contents are part of the key
    assert len({key, store_key("other-trunk", frame, 16), store_key("toy", frame, 16, "tradaug-copy-1"),
                store_key("toy", frame, 24), store_key("toy", frame, 16, stain="macenko-abc")}) == 5
    fresh = stored_outputs(trunk, frame, 16, tmp_path / "cache" / store_key("toy", frame, 16))
    assert fresh.folder != old.folder
    from bclib.data.pipeline import make_dataset

    expected = trunk.predict(make_dataset(frame.iloc[:1], 16, 1, cache=False, label_column=None), verbose=0)
    np.testing.assert_allclose(fresh.load()[1][0], expected[1][0], rtol=2e-3, atol=1e-4)  # the redrawn image's
    assert not np.allclose(old.load()[1][0], expected[1][0], rtol=2e-3, atol=1e-4)


def test_row_file_reads_like_the_array_it_holds(tmp_path):
    from bclib.rowfile import RowFile, RowFileWriter

    array = np.random.default_rng(1).integers(0, 256, (11, 4, 4, 3), dtype=np.uint8)
    writer = RowFileWriter(tmp_path / "a.npy", 11, (4, 4, 3), np.uint8)
    writer.append(array[:5])
    writer.append(array[5:])
    writer.close()
    rows = RowFile(tmp_path / "a.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), array)  # an ordinary .npy file
    assert len(rows) == 11 and rows.shape == array.shape
    np.testing.assert_array_equal(rows[3], array[3])
    np.testing.assert_array_equal(rows[2:9], array[2:9])
    np.testing.assert_array_equal(rows[[7, 1, 7]], array[[7, 1, 7]])
    mask = np.arange(11) % 3 == 0
    np.testing.assert_array_equal(rows[mask], array[mask])
    view = rows.view(np.flatnonzero(mask))
    np.testing.assert_array_equal(view[1:3], array[mask][1:3])
    assert view.fingerprint == rows.view(np.flatnonzero(mask)).fingerprint != rows.view([0]).fingerprint


def test_a_model_with_several_taps_predicts_from_a_label_free_store(frame, tmp_path):
    """Keras reads a bare tuple of taps as (x, y, weights); the reader must hand it over as one input."""
    trunk = toy_trunk()
    store = write_store(trunk, frame, 16, tmp_path / "s")
    taps = [keras.Input(t.shape[1:]) for t in trunk.outputs]
    joined = keras.layers.Concatenate()([keras.layers.GlobalAveragePooling2D()(taps[0]), taps[1]])
    top = keras.Model(taps, keras.layers.Dense(2, activation="softmax")(joined))
    probabilities = top.predict(StoreReader([store]).dataset(None, batch_size=8), verbose=0)
    assert probabilities.shape == (37, 2)
    top.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    top.fit(StoreReader([store]).dataset(frame["label_index"].to_numpy(), 8), epochs=1, verbose=0)
