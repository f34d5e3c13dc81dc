"""Test-time augmentation: a classifier's probabilities averaged over the eight dihedral views of each image.

A histology tile has no up, down, left or right: a slide can lie on the stage
any way round. The eight transforms that map a square onto itself (the
dihedral group: rotations by 0, 90, 180 and 270 degrees, each with and without
a left-right mirror) show the model the same tissue in every orientation
without inventing pixels (no interpolation, no cropping), and the softmax
probabilities of the eight views are averaged. A model that is already
invariant to them gives the same probabilities with and without TTA.

Rotations need square images; bclib's classifiers take square tiles. Which of
the eight are symmetries depends on how a tile became square
(:func:`symmetry_indices`): a square crop of the tissue has all eight, but a
700 x 460 tile squashed to a square (``data.geometry: squash``) has only the four
that keep its axes (identity, the two mirrors, the half turn): a quarter turn of
a squashed tile stretches the tissue along the other axis, a view no training
or test image ever had.
"""

from __future__ import annotations

import numpy as np

from ..backend import keras as _keras


def dihedral_transforms(images) -> list:
    """The eight dihedral views of a batch ``(batch, height, width, channels)``, identity first.

    Order: for k = 0, 1, 2, 3 the batch rotated k quarter turns counter-clockwise
    (as ``numpy.rot90(images, k, axes=(1, 2))``), then the same mirrored left-right.
    Uses ``keras.ops``, so it works on arrays, tensors and symbolic Keras inputs.
    """
    ops = _keras().ops
    views, current = [], images
    for k in range(4):
        if k:
            # A quarter turn counter-clockwise: swap rows and columns, then reverse the rows.
            current = ops.flip(ops.transpose(current, (0, 2, 1, 3)), axis=1)
        views += [current, ops.flip(current, axis=2)]
    return views


# Indices into dihedral_transforms' order (rot0, rot0 mirrored, rot90, rot90 mirrored, rot180, ...): the
# views that map a rectangle onto itself are the identity, the left-right mirror, the half turn and the half
# turn mirrored (= the up-down mirror).
RECTANGLE_VIEWS = (0, 1, 4, 5)
ALL_VIEWS = tuple(range(8))


def symmetry_indices(geometry: str = "crop") -> tuple[int, ...]:
    """The dihedral views that are symmetries of the input: all eight for square crops (``crop``), the four
    that keep the axes for tiles squashed to a square (``squash``)."""
    if geometry == "crop":
        return ALL_VIEWS
    if geometry == "squash":
        return RECTANGLE_VIEWS
    raise ValueError(f"unknown image geometry {geometry!r}: expected 'crop' or 'squash'")


def run_geometry(record: dict) -> str:
    """How a run's tiles were made square (``data.geometry`` in its parameters); runs from before that
    setting existed squashed them."""
    return (record.get("params") or {}).get("data", {}).get("geometry", "squash")


def tta_model(model, geometry: str = "crop"):
    """A Keras model that returns ``model``'s output averaged over the views of its input that are symmetries
    of its geometry (:func:`symmetry_indices`: eight for square crops, four for squashed tiles).

    ``model`` must output class probabilities (a softmax), as bclib's classifiers
    do: the average of probabilities is again a probability distribution. The
    wrapper shares ``model``'s weights and runs it eight times per batch.
    """
    keras = _keras()
    shape = tuple(model.input_shape[1:])
    if len(shape) != 3 or (shape[0] is not None and shape[1] is not None and shape[0] != shape[1]):
        raise ValueError(f"test-time rotations need square images (batch, size, size, channels); "
                         f"the model takes {model.input_shape}")
    inputs = keras.Input(shape=shape)
    views = dihedral_transforms(inputs)
    outputs = [model(views[i]) for i in symmetry_indices(geometry)]
    mean = keras.ops.mean(keras.ops.stack(outputs, axis=0), axis=0)
    return keras.Model(inputs, mean, name=f"{model.name}_tta")


def tta_probabilities(model, images, batch_size: int = 32, geometry: str = "crop") -> np.ndarray:
    """Class probabilities with test-time augmentation: ``model``'s softmax averaged over the eight
    dihedral views of each image. ``images`` is anything ``model.predict`` takes (an array, or a
    ``tf.data`` dataset of image batches such as ``make_dataset(frame, size, batch, label_column=None)``)."""
    wrapped = tta_model(model, geometry)
    if hasattr(images, "element_spec"):  # a dataset brings its own batches
        return np.asarray(wrapped.predict(images, verbose=0))
    return np.asarray(wrapped.predict(images, batch_size=batch_size, verbose=0))
