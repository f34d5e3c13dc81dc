"""The linear probe (bclib.train.probe): C is the validation split's choice, the probe is fitted on
train alone, and the test split plays no part."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.preprocessing import StandardScaler

from bclib.train.probe import C_GRID, fit_linear_probe


def split(rng, n, flipped=0.0):
    """Two classes on either side of 0 in the first of 3 features, a share of labels flipped."""
    labels = np.arange(n) % 2
    x = rng.normal(0, 0.3, (n, 3))
    x[:, 0] += np.where(labels == 1, 1.5, -1.5)
    wrong = rng.random(n) < flipped
    return x, np.where(wrong, 1 - labels, labels)


def direct_probabilities(c, train, x):
    scaler = StandardScaler().fit(train[0])
    model = LogisticRegression(C=c, max_iter=5000).fit(scaler.transform(train[0]), train[1])
    return model.predict_proba(scaler.transform(x))


def test_c_is_chosen_on_validation_not_on_test():
    rng = np.random.default_rng(0)
    train = split(rng, 40)
    validation = split(rng, 40, flipped=0.3)  # noisy labels punish confident probes
    test = split(rng, 40)  # clean labels reward them
    loss = {c: {name: log_loss(y, direct_probabilities(c, train, x), labels=[0, 1])
                for name, (x, y) in (("validation", validation), ("test", test))} for c in C_GRID}
    by_validation = min(C_GRID, key=lambda c: loss[c]["validation"])
    by_test = min(C_GRID, key=lambda c: loss[c]["test"])
    assert by_validation < by_test  # the construction works: the two splits disagree

    probe = fit_linear_probe(train, validation)
    assert probe.c == by_validation
    assert probe.validation_loss == pytest.approx({c: loss[c]["validation"] for c in C_GRID}, rel=1e-6)
    # fitted on train alone with that C (validation chooses, it does not train)
    np.testing.assert_allclose(probe.probabilities(test[0]), direct_probabilities(by_validation, train, test[0]),
                               atol=1e-6)
    both = (np.concatenate([train[0], validation[0]]), np.concatenate([train[1], validation[1]]))
    assert not np.allclose(probe.probabilities(test[0]), direct_probabilities(by_validation, both, test[0]), atol=1e-3)


def test_grid_is_one_value_per_decade():
    assert C_GRID == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100, 1e3, 1e4])
