"""Checks on a trained cWGAN: does it copy its training set, and what did the critic learn?

* :func:`nearest_training_images` - for every generated image, the closest
  training image in pixel space (both downsampled to 32x32) and in feature space
  (the critic's feature vector), with distances. Compare them with
  :func:`training_nn_distances`, the same distances between training images:
  generated images much closer to a training image than training images are to
  each other suggest memorisation.
* :func:`critic_linear_probe` - the paper says the trained discriminator can serve
  as a classifier; here a logistic regression on the critic's features is fitted
  on the training split and scored on the test split.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..backend import tensorflow

tf = tensorflow()


def pixel_vectors(images_u8: np.ndarray, size: int = 32, batch_size: int = 256) -> np.ndarray:
    """Images shrunk to size x size, as vectors in [0, 1]; in batches (``images_u8`` may be rows on disk)."""
    out = [np.zeros((0, size * size * 3))]
    for start in range(0, len(images_u8), batch_size):
        chunk = np.asarray(images_u8[start:start + batch_size])
        small = tf.image.resize(tf.cast(chunk, tf.float32), (size, size), antialias=True)
        out.append((small.numpy() / 255.0).reshape(len(chunk), -1))
    return np.concatenate(out)


def critic_features(critic, images_u8: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """The critic's feature vector phi(x) (it does not depend on the label input). With the minibatch
    standard deviation (``gan.mbstd_group``) an image's features also depend, through one statistic,
    on the other images of its group in the batch of ``batch_size``."""
    out = []
    for start in range(0, len(images_u8), batch_size):
        chunk = tf.cast(images_u8[start:start + batch_size], tf.float32) / 127.5 - 1.0
        labels = tf.zeros([tf.shape(chunk)[0], 1], tf.int32)
        out.append(critic([chunk, labels], training=False)[1].numpy())
    return np.concatenate(out)


def _nearest(queries: np.ndarray, references: np.ndarray, exclude_self: bool = False):
    q2 = (queries**2).sum(1)[:, None]
    r2 = (references**2).sum(1)[None, :]
    d2 = np.maximum(q2 + r2 - 2 * queries @ references.T, 0)
    if exclude_self:
        np.fill_diagonal(d2, np.inf)
    idx = d2.argmin(1)
    return idx, np.sqrt(d2[np.arange(len(queries)), idx])


def nearest_training_images(generated_u8, training_u8, critic=None) -> pd.DataFrame:
    """One row per generated image: nearest training image and distance in pixel (and critic feature) space."""
    gp, tp = pixel_vectors(generated_u8), pixel_vectors(training_u8)
    idx, dist = _nearest(gp, tp)
    table = pd.DataFrame({"generated": np.arange(len(gp)), "nearest_pixel": idx, "pixel_distance": dist})
    if critic is not None:
        gf, tf_ = critic_features(critic, generated_u8), critic_features(critic, training_u8)
        fidx, fdist = _nearest(gf, tf_)
        table["nearest_feature"], table["feature_distance"] = fidx, fdist
    return table


def training_nn_distances(training_u8, critic=None) -> pd.DataFrame:
    """Reference: distance from each training image to its nearest *other* training image."""
    tp = pixel_vectors(training_u8)
    _, dist = _nearest(tp, tp, exclude_self=True)
    table = pd.DataFrame({"pixel_distance": dist})
    if critic is not None:
        feats = critic_features(critic, training_u8)
        table["feature_distance"] = _nearest(feats, feats, exclude_self=True)[1]
    return table


def critic_linear_probe(critic, train_u8, train_labels, test_u8, test_labels, train_groups=None,
                        seed: int = 0) -> dict:
    """Logistic regression on critic features: fitted on training images, scored on test images.

    The regularisation strength is chosen by cross-validation on the training
    images, grouped by patient when ``train_groups`` is given: with few patients an
    unregularised probe learns to recognise patients (their stain) instead of the
    class, and can then score below chance on new patients.
    """
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, random_state=seed))
    groups = np.asarray(train_groups) if train_groups is not None else np.arange(len(train_labels))
    if len(np.unique(groups)) < 2:  # no patient ids (BACH: one empty id for every image): images are the units
        groups = np.arange(len(train_labels))
    folds = min(5, len(np.unique(groups)))
    search = GridSearchCV(probe, {"logisticregression__C": [1e-3, 1e-2, 1e-1, 1.0]}, cv=GroupKFold(folds))
    search.fit(critic_features(critic, train_u8), train_labels, groups=groups)
    predicted = search.predict(critic_features(critic, test_u8))
    return {
        "accuracy": float(accuracy_score(test_labels, predicted)),
        "balanced_accuracy": float(balanced_accuracy_score(test_labels, predicted)),
        "C": float(search.best_params_["logisticregression__C"]),
        "n_train": int(len(train_labels)),
        "n_test": int(len(test_labels)),
    }
