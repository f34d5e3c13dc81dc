"""Test-time augmentation: the eight dihedral views, unchanged output for a model that is itself
invariant, and for one that is not exactly the mean over the eight views computed with NumPy."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from bclib.evaluation import dihedral_transforms, tta_model, tta_probabilities  # noqa: E402

SIZE = 5


def _numpy_views(images):
    views = []
    for k in range(4):
        turned = np.rot90(images, k, axes=(1, 2))
        views += [turned, np.flip(turned, axis=2)]
    return views


def _images(n=4, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (n, SIZE, SIZE, 3)).astype("float32")


def _softmax_head(features, n_classes=3, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.layers.Dense(n_classes, activation="softmax",
                              kernel_initializer=keras.initializers.RandomNormal(stddev=3.0, seed=seed))(features)


def _invariant_model():
    """Global average pooling forgets where each pixel was: rotations and mirrors change nothing."""
    inputs = keras.Input((SIZE, SIZE, 3))
    return keras.Model(inputs, _softmax_head(keras.layers.GlobalAveragePooling2D()(inputs)))


def _top_left_model():
    """Sees only the top-left pixel, which each view replaces by another corner."""
    inputs = keras.Input((SIZE, SIZE, 3))
    corner = keras.layers.Cropping2D(((0, SIZE - 1), (0, SIZE - 1)))(inputs)
    return keras.Model(inputs, _softmax_head(keras.layers.Flatten()(corner)))


def test_the_eight_views_are_numpys_rotations_and_mirrors_in_order():
    images = _images(2)
    views = [keras.ops.convert_to_numpy(v) for v in dihedral_transforms(images)]
    expected = _numpy_views(images)
    assert len(views) == 8
    for got, want in zip(views, expected):
        np.testing.assert_array_equal(got, want)
    # A random image has no symmetry: the eight views are eight different images.
    assert len({v[0].tobytes() for v in views}) == 8


def test_an_invariant_model_gives_the_same_probabilities_with_and_without_tta():
    model, images = _invariant_model(), _images()
    plain = model.predict(images, verbose=0)
    np.testing.assert_allclose(tta_probabilities(model, images), plain, atol=1e-6)


def test_tta_of_a_model_that_is_not_invariant_is_the_mean_over_the_eight_views():
    model, images = _top_left_model(), _images()
    expected = np.mean([model.predict(np.ascontiguousarray(v), verbose=0) for v in _numpy_views(images)], axis=0)
    averaged = tta_probabilities(model, images, batch_size=3)
    np.testing.assert_allclose(averaged, expected, atol=1e-6)
    np.testing.assert_allclose(averaged.sum(axis=1), 1.0, rtol=1e-6)
    assert np.abs(averaged - model.predict(images, verbose=0)).max() > 1e-2  # TTA did change something
    # A tf.data dataset of image batches (as bclib's pipeline yields) gives the same.
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(images).batch(2)
    np.testing.assert_allclose(tta_probabilities(model, dataset), expected, atol=1e-6)


def test_rotations_need_square_inputs():
    inputs = keras.Input((4, 6, 3))
    model = keras.Model(inputs, _softmax_head(keras.layers.GlobalAveragePooling2D()(inputs)))
    with pytest.raises(ValueError, match="square"):
        tta_model(model)


def test_squashed_tiles_average_only_the_four_views_that_keep_their_axes():
    from bclib.evaluation.tta import run_geometry, symmetry_indices

    model, images = _top_left_model(), _images()
    rectangle = [v for i, v in enumerate(_numpy_views(images)) if i in (0, 1, 4, 5)]
    expected = np.mean([model.predict(np.ascontiguousarray(v), verbose=0) for v in rectangle], axis=0)
    np.testing.assert_allclose(tta_probabilities(model, images, geometry="squash"), expected, atol=1e-6)
    # the four kept: identity, left-right mirror, half turn, up-down mirror (no quarter turn)
    kept = [_numpy_views(images)[i] for i in symmetry_indices("squash")]
    np.testing.assert_array_equal(kept[3], images[:, ::-1])
    assert symmetry_indices("crop") == tuple(range(8))
    assert run_geometry({"params": {"data": {}}}) == "squash" and run_geometry({}) == "squash"
    with pytest.raises(ValueError, match="geometry"):
        symmetry_indices("stretch")
