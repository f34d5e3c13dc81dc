"""The linear probe on frozen embeddings: chosen on validation only, and saved as exactly what it predicts."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bclib.train.probe import C_GRID, fit_probe


def _blobs(rng, n, shift, flip=False, dims=20):
    y = np.arange(n) % 2
    x = rng.normal(size=(n, dims))
    x[:, 0] += np.where(y == 1, shift, -shift) * (-1 if flip else 1)
    return x, y


def _losses(train, other):
    """Log loss on ``other`` of scikit-learn's own pipeline, fitted on ``train``, for every C."""
    out = {}
    for C in C_GRID:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000, random_state=0))
        out[C] = log_loss(other[1], model.fit(*train).predict_proba(other[0]), labels=[0, 1])
    return out


def test_the_regularisation_is_chosen_on_validation_even_when_test_would_prefer_another():
    rng = np.random.default_rng(0)
    train, val = _blobs(rng, 60, 1.0), _blobs(rng, 60, 1.0)
    test = _blobs(rng, 60, 1.0, flip=True)  # the class signal reversed: test favours the flattest probe
    by_val, by_test = _losses(train, val), _losses(train, test)
    best_val, best_test = min(by_val, key=by_val.get), min(by_test, key=by_test.get)
    assert best_val != best_test  # the constructed case does separate the two choices
    probe = fit_probe(*train, *val, n_classes=2)
    assert probe.C == best_val
    assert probe.val_log_loss[probe.C] == pytest.approx(by_val[best_val], abs=1e-6)
    # fitted on train alone with that C: validation chooses, it does not train
    both = (np.concatenate([train[0], val[0]]), np.concatenate([train[1], val[1]]))
    direct = make_pipeline(StandardScaler(), LogisticRegression(C=best_val, max_iter=2000, random_state=0))
    np.testing.assert_allclose(probe.probabilities(test[0]), direct.fit(*train).predict_proba(test[0]), atol=1e-6)
    assert not np.allclose(probe.probabilities(test[0]), direct.fit(*both).predict_proba(test[0]), atol=1e-3)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_the_softmax_layer_predicts_what_the_fitted_probe_predicts(n_classes):
    rng = np.random.default_rng(1)
    y = np.arange(90) % n_classes
    x = rng.normal(size=(90, 8)) * rng.uniform(0.5, 5, 8) + rng.normal(size=8) + y[:, None] * 0.7
    probe = fit_probe(x, y, x, y, n_classes)
    reference = make_pipeline(StandardScaler(), LogisticRegression(C=probe.C, max_iter=2000, random_state=0))
    np.testing.assert_allclose(probe.probabilities(x), reference.fit(x, y).predict_proba(x), atol=1e-6)

    from bclib.models.head import probe_top

    class Trunk:  # the probe top only reads the width of the trunk's output
        output = type("T", (), {"shape": (None, 8)})()

    top = probe_top(Trunk, n_classes)
    top.get_layer("probabilities").set_weights([probe.kernel.astype("float32"), probe.bias.astype("float32")])
    np.testing.assert_allclose(top.predict(x.astype("float32"), verbose=0), probe.probabilities(x), atol=1e-4)


def test_a_class_missing_from_training_is_never_predicted():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(40, 5)), np.arange(40) % 2  # classes 0 and 1 only, of three
    probe = fit_probe(x, y, x, y, n_classes=3)
    assert probe.probabilities(x)[:, 2].max() < 1e-6
