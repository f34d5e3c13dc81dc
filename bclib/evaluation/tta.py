"""Test-time augmentation: a classifier's probabilities averaged over the eight dihedral views of each image.

A histology tile has no up, down, left or right: a slide can lie on the stage
any way round. The eight transforms that map a square onto itself (the
dihedral group: rotations by 0, 90, 180 and 270 degrees, each with and without
a left-right mirror) show the model the same tissue in every orientation
without inventing pixels (no interpolation, no cropping), and the softmax
probabilities of the eight views are averaged. A model that is already
invariant to them gives the same probabilities with and without TTA.

Rotations need square images; bclib's classifiers take square tiles.
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


def tta_model(model):
    """A Keras model that returns ``model``'s output averaged over the eight views of its input.

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
    outputs = [model(view) for view in dihedral_transforms(inputs)]
    mean = keras.ops.mean(keras.ops.stack(outputs, axis=0), axis=0)
    return keras.Model(inputs, mean, name=f"{model.name}_tta")


def tta_probabilities(model, images, batch_size: int = 32) -> np.ndarray:
    """Class probabilities with test-time augmentation: ``model``'s softmax averaged over the eight
    dihedral views of each image. ``images`` is anything ``model.predict`` takes (an array, or a
    ``tf.data`` dataset of image batches such as ``make_dataset(frame, size, batch, label_column=None)``)."""
    wrapped = tta_model(model)
    if hasattr(images, "element_spec"):  # a dataset brings its own batches
        return np.asarray(wrapped.predict(images, verbose=0))
    return np.asarray(wrapped.predict(images, batch_size=batch_size, verbose=0))
